"""Scaling out with TensorFlow's own engines: one GPU, several, several machines.

A multi-worker run is started the way TensorFlow clusters are: every machine
runs the same command with a `TF_CONFIG` environment variable naming the
cluster and its own place in it, e.g. on the first of two machines

    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
                "task": {"type": "worker", "index": 0}}' \\
        keras-bigmodels train cnn --data photos/ --strategy multi_worker

and `"index": 1` on the second. Worker 0 is the chief: it alone writes the
run folder.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf
from tensorflow.python.eager import context as _context

from keras_bigmodels import _validation as V
from keras_bigmodels.training.configs import STRATEGIES


def _tf_config() -> dict:
    try:
        return json.loads(os.environ.get("TF_CONFIG", "") or "{}")
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON: {e}") from None


def _runtime_started() -> bool:
    return _context.context()._context_handle is not None


def _gpu_memory_growth() -> None:
    """Allocate GPU memory as needed, not all at once (needs a fresh runtime)."""
    if _runtime_started():
        return
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):
            pass


def get_strategy(kind: str = "auto") -> tf.distribute.Strategy:
    """The `tf.distribute` strategy to build and train a model under.

    Build and compile the model inside `strategy.scope()`; the training loop
    then splits each global batch across the replicas. Call it before
    anything else runs on TensorFlow: a multi-worker strategy must configure
    the runtime before it starts (the workflows and the CLI do this first).
    GPU memory growth is switched on at the same moment.

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
    cluster = _tf_config().get("cluster", {})
    if (
        kind == "auto"
        and len(cluster.get("worker", [])) + len(cluster.get("chief", [])) > 1
    ):
        kind = "multi_worker"
    if kind == "multi_worker":
        existing = tf.distribute.get_strategy()
        if isinstance(existing, tf.distribute.MultiWorkerMirroredStrategy):
            return existing
        if _runtime_started():
            raise RuntimeError(
                "The multi-worker strategy must be created before TensorFlow "
                "runs anything: call keras_bigmodels.distribute.get_strategy("
                "'multi_worker') (or the workflow) at the start of the program, "
                "before any model, tensor or dataset is made."
            )
        _gpu_memory_growth()
        return tf.distribute.MultiWorkerMirroredStrategy()
    _gpu_memory_growth()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "auto":
        kind = "mirrored" if len(gpus) > 1 else "one_device" if gpus else "default"
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
    """Whether this process writes the run folder (always, but on worker 1+)."""
    strategy = strategy or tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def localhost_cluster(num_workers: int) -> list[dict]:
    """`TF_CONFIG` values for `num_workers` workers on this machine (free ports).

    For trying a multi-worker run on one machine: start one process per
    entry, each with `TF_CONFIG=json.dumps(entry)` in its environment.

    Example:

    >>> configs = localhost_cluster(2)
    >>> configs[1]["task"]
    {'type': 'worker', 'index': 1}
    """
    import socket

    V.check_positive_int("num_workers", num_workers)
    socks = [socket.socket() for _ in range(num_workers)]
    try:
        for s in socks:
            s.bind(("localhost", 0))
        ports = [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    return [
        {"cluster": cluster, "task": {"type": "worker", "index": i}}
        for i in range(num_workers)
    ]


def describe_devices(strategy: tf.distribute.Strategy | None = None) -> dict:
    """Which devices training uses, for the run manifest and `info`."""
    strategy = strategy or tf.distribute.get_strategy()
    gpus = tf.config.list_physical_devices("GPU")
    name = type(strategy).__name__
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        name = "MultiWorkerMirroredStrategy"  # TF's class is CollectiveAllReduce...
    info = {
        "strategy": name,
        "replicas": strategy.num_replicas_in_sync,
        "gpus": [g.name for g in gpus],
        "device": "GPU" if gpus else "CPU",
    }
    extended = getattr(strategy, "extended", None)
    workers = getattr(extended, "_num_workers", None)
    if workers:
        info["workers"] = workers
    return info
