"""In-memory arrays as a batched, prefetched `tf.data.Dataset`."""

from __future__ import annotations

import tensorflow as tf


def array_batches(data, batch_size: int, shuffle: bool = False, seed=None):
    """`data` (an array, or a tuple of arrays with equal first dimensions) in batches.

    Args:
        data: array or (nested) tuple of arrays, sliced along the first axis.
        batch_size: int.
        shuffle: bool. Reshuffle the whole set every epoch.
        seed: int or None. Shuffle seed.

    Returns:
        A `tf.data.Dataset` of batches, prefetched.
    """
    ds = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
        n = len(tf.nest.flatten(data)[0])
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
