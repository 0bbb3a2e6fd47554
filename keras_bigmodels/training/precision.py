"""Speed and memory switches of every workflow: dtype policy, XLA, the
optimizer with gradient clipping and accumulation."""

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


def xla_setting(jit: bool | None = None) -> tuple[bool, str]:
    """`(jit_compile, why)`: the XLA setting a workflow runs with here.

    `None` (every workflow's default) means XLA on a GPU and not on a machine
    whose only devices are CPUs, as Keras's own `jit_compile="auto"` resolves.
    On CPUs the compile time is paid on every run while the step gains little
    or loses: `bench/gan.py` and `bench/gpt.py` time both settings.
    """
    if jit is not None:
        return bool(jit), f"{'on' if jit else 'off'}: asked for (--jit/--no-jit)"
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return True, f"on: the default where a GPU is used ({len(gpus)} visible)"
    return False, (
        "off: the default on a machine without a GPU (XLA only where a GPU is "
        "used; --jit forces it on)"
    )


def resolve_jit(jit: bool | None) -> bool:
    """The `jit_compile` a workflow passes to `compile`; see `xla_setting`."""
    return xla_setting(jit)[0]


def optimizer(
    name: str,
    learning_rate,
    clip_norm: float | None = None,
    accumulation_steps: int | None = None,
    **kwargs,
):
    """A Keras optimizer by class name, with optional global-norm clipping
    and gradient accumulation (`training.accumulation.accumulating`: one
    update every `accumulation_steps` micro-batches, a schedule counted in
    updates)."""
    from keras_bigmodels.training.accumulation import accumulating

    cls = getattr(keras.optimizers, name)
    if clip_norm is not None:
        kwargs["global_clipnorm"] = clip_norm
    return accumulating(cls(learning_rate, **kwargs), accumulation_steps)
