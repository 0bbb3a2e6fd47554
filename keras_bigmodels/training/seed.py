"""Reproducibility: one call seeds Python, NumPy and the backend."""

from __future__ import annotations

import keras
import tensorflow as tf


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python's `random`, NumPy and TensorFlow in one call.

    Args:
        seed: int. The seed.
        deterministic: bool. Also make TensorFlow's ops deterministic (same
            results run to run, also on GPU, at some cost in speed).

    Example:

    >>> set_seed(42)
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"`seed` must be an integer >= 0. Received: seed={seed!r}")
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
