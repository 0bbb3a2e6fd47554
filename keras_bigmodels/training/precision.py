"""Speed switches of every workflow: dtype policy, XLA, gradient clipping."""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf


@contextlib.contextmanager
def dtype_policy(name: str):
    """Build models under Keras dtype policy `name`; restore the old one after.

    `"mixed_float16"` and `"mixed_bfloat16"` compute in 16 bits and keep
    float32 weights; Keras wraps the optimizer in a `LossScaleOptimizer`
    for float16 at `compile` (the GAN does the same for its two).
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def resolve_jit(jit: bool | None) -> bool:
    """`None` means XLA where it pays: on a GPU (on CPU bench/gpt.py measures
    it slower). Keras's own `"auto"` gives False on CPU-only machines too."""
    if jit is None:
        return bool(tf.config.list_logical_devices("GPU"))
    return bool(jit)


def optimizer(name: str, learning_rate, clip_norm: float | None = None, **kwargs):
    """A Keras optimizer by class name, with optional global-norm clipping."""
    cls = getattr(keras.optimizers, name)
    if clip_norm is not None:
        kwargs["global_clipnorm"] = clip_norm
    return cls(learning_rate, **kwargs)
