"""How this package's `tf.data` pipelines run: fixed parallelism, no tuning model.

With autotuning on (`tf.data`'s default), every iterator starts a thread that
models the pipeline and re-tunes it, with ever longer pauses between runs.
On the decode-bound pipelines here that thread costs CPU every epoch, and
deleting an iterator can wait for it; Keras starts a new iterator every
epoch, so the wait comes once an epoch. Here the model is off and each
decoding map runs two calls per CPU core the process may use: the calls share
`tf.data`'s thread pool (one thread per core, so no core is oversubscribed),
and a map holds at most as many finished elements as it has calls, so with
one call per core a core stops whenever a finished image waits for the next
stage. `bench/input_pipeline.py` measures the result against
`keras.utils.image_dataset_from_directory`; the figures behind both choices
are in bench/README.md.

A user who wants the tuning model back sets it on the returned dataset:

    options = tf.data.Options()
    options.autotune.enabled = True
    dataset = dataset.with_options(options)

Prefetch buffers given as `tf.data.AUTOTUNE` keep the prefetch stage's own
buffer tuner (its `legacy_autotune`, on by default), which needs no model.
"""

from __future__ import annotations

import os

import tensorflow as tf


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def parallel_calls() -> int:
    """Decode calls a map keeps going: two per usable core (see above)."""
    return 2 * usable_cores()


def pipeline_options(deterministic: bool | None = None) -> tf.data.Options:
    """The `tf.data.Options` of this package's input pipelines.

    Args:
        deterministic: bool or None. Fixes `tf.data`'s element order setting;
            None leaves `tf.data`'s default.

    Returns:
        A `tf.data.Options` with the autotuning model off.

    Example:

    >>> pipeline_options().autotune.enabled
    False
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    if deterministic is not None:
        options.deterministic = deterministic
    return options
