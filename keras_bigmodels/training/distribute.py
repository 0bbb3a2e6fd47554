"""Scaling out with TensorFlow's own engines: one GPU, several, several machines."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from keras_bigmodels import _validation as V

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker")


def get_strategy(kind: str = "auto") -> tf.distribute.Strategy:
    """The `tf.distribute` strategy to build and train a model under.

    Build and compile the model inside `strategy.scope()`; `fit` then spreads
    each batch over the replicas.

    Args:
        kind: str. `"auto"`: `MultiWorkerMirroredStrategy` when `TF_CONFIG`
            names several workers, `MirroredStrategy` with 2+ GPUs,
            `OneDeviceStrategy` on a single GPU, the default strategy on CPU.
            Or one of `"default"`, `"one_device"`, `"mirrored"`,
            `"multi_worker"` to force that strategy.

    Returns:
        A `tf.distribute.Strategy`.

    Example:

    >>> strategy = get_strategy()
    >>> strategy.num_replicas_in_sync >= 1
    True
    """
    V.check_choice("kind", kind, STRATEGIES)
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "auto":
        workers = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
        if len(workers.get("worker", [])) > 1:
            kind = "multi_worker"
        elif len(gpus) > 1:
            kind = "mirrored"
        elif len(gpus) == 1:
            kind = "one_device"
        else:
            kind = "default"
    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def describe_devices(strategy: tf.distribute.Strategy | None = None) -> dict:
    """Which devices training uses, for the run manifest and `info`."""
    strategy = strategy or tf.distribute.get_strategy()
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
        "gpus": [g.name for g in gpus],
        "device": "GPU" if gpus else "CPU",
    }
