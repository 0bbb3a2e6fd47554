"""How this package's `tf.data` pipelines run: fixed parallelism, no tuning model.

With autotuning on (`tf.data`'s default), every iterator starts a thread that
models the pipeline and re-tunes it, with ever longer pauses between runs.
On the decode-bound pipelines here that thread costs CPU every epoch, and
deleting an iterator can wait for it: measured on a 2-core machine, deleting
an exhausted iterator of 1,500 small JPEGs took 1 to 500 ms (median 132 ms)
with it and about 1 ms without. Keras starts a new iterator every epoch, so
the wait comes once an epoch. Here each decoding map runs one call per CPU
core the process may use, which keeps every core busy on decode-bound work,
and the model is off; `bench/input_pipeline.py` measures the result against
`keras.utils.image_dataset_from_directory`.

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


def parallel_calls() -> int:
    """Decode calls to run at once: the CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


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
