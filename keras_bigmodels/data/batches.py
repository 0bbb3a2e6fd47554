"""Training batches whose order is a pure function of (seed, epoch).

A resumed run must see exactly the batches an uninterrupted run would have
seen, from the next unseen one on. `EpochBatches` makes the order of epoch
`e` the permutation `index_shuffle(i, [seed, e])` of the example indices, so
any process can rebuild it, and `dataset(epoch, start_step)` skips finished
batches as *indices*, before anything is gathered or decoded.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from keras_bigmodels import _validation as V
from keras_bigmodels.data.pipeline_options import parallel_calls, pipeline_options
from keras_bigmodels.data.placement import prefetch_to_accelerator


def window_count(num_tokens: int, length: int, stride: int) -> int:
    """How many next-token windows of `length` fit in `num_tokens` tokens."""
    return max(0, (num_tokens - length - 1) // stride + 1)


def window_weights(sizes, accumulation_steps: int) -> np.ndarray:
    """Each micro-batch's sample weight in windows of `accumulation_steps`.

    A window of `k` micro-batches of sizes `b_i` (`W` examples in all) is
    applied as the sum of the micro-batches' mean gradients divided by `k`;
    weighting micro-batch `i` by `b_i * k / W` makes that the mean over the
    window's `W` examples. A full window of equal micro-batches weighs 1.

    Args:
        sizes: examples in each micro-batch of an epoch, in order.
        accumulation_steps: int. Micro-batches per window.

    Returns:
        float32 array, one weight per micro-batch.

    Example:

    >>> window_weights([4, 4, 4, 4, 4, 1], 4).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.6, 0.4]
    """
    sizes = np.asarray(sizes, "float64")
    weights = np.ones(len(sizes))
    for start in range(0, len(sizes), accumulation_steps):
        part = sizes[start : start + accumulation_steps]
        weights[start : start + len(part)] = part * len(part) / part.sum()
    return weights.astype("float32")


def _loss_shape(y):
    """The shape of the per-element loss of target `y`, which a sample weight
    must have: integer labels score every label (a sequence's every token),
    dense targets are reduced over their last axis (mean squared error)."""
    shape = tf.shape(y)
    if y.dtype.is_integer or y.shape.rank == 1:
        return shape
    return shape[:-1]


class EpochBatches:
    """`n` examples served in seeded per-epoch order, batch by batch.

    Args:
        n: int. Number of examples.
        batch_size: int. Global batch size.
        load: callable. For arrays, `indices (batch,) -> batch`; for files
            (`per_example=True`), `index () -> example`, run in parallel.
        seed: int. With the epoch, fixes each epoch's order.
        shuffle: bool. False keeps the stored order every epoch.
        per_example: bool. Map `load` over single indices, then batch (for
            decoding files); otherwise batch the indices and `load` once per
            batch (for arrays: one gather per batch).
        drop_remainder: bool. Drop a last partial batch (under several
            replicas, so that no replica gets an empty batch).

    Example:

    >>> x = np.arange(10)
    >>> b = EpochBatches.from_arrays(x, batch_size=4, seed=0)
    >>> b.steps_per_epoch
    3
    >>> [len(t) for t in b.dataset(epoch=0, start_step=1)]
    [4, 2]
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        load: Callable,
        *,
        seed: int = 0,
        shuffle: bool = True,
        per_example: bool = False,
        drop_remainder: bool = False,
    ):
        self.n = V.check_positive_int("n", n)
        self.batch_size = V.check_positive_int("batch_size", batch_size)
        self.load = load
        self.seed = seed
        self.shuffle = shuffle
        self.per_example = per_example
        self.drop_remainder = drop_remainder and n >= batch_size
        self.lengths = None  # per example, for `bucketed` batches
        self.pool = 1
        self.window = 1  # micro-batches per update, for `weighted_windows`

    @classmethod
    def from_arrays(
        cls,
        data,
        batch_size: int,
        *,
        seed: int = 0,
        shuffle=True,
        drop_remainder: bool = False,
    ) -> EpochBatches:
        """Batches of in-memory arrays (a nested structure with a shared first axis)."""
        flat = tf.nest.flatten(data)
        n = len(flat[0])
        tensors = tf.nest.map_structure(tf.constant, data)

        def gather(idx):
            return tf.nest.map_structure(lambda t: tf.gather(t, idx), tensors)

        return cls(
            n,
            batch_size,
            gather,
            seed=seed,
            shuffle=shuffle,
            drop_remainder=drop_remainder,
        )

    @classmethod
    def bucketed(
        cls,
        data,
        lengths,
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        pool: int = 50,
    ) -> EpochBatches:
        """Batches of padded sequences, each cut to its own longest sequence.

        `data` is a nested structure of arrays (examples, length) padded at
        the end to the longest example of all; `lengths` gives, for each of
        them, the used length of every example (a matching structure of
        int arrays; None for an array to keep whole). Each epoch the
        shuffled examples are taken `pool` batches at a time and sorted by
        length into batches (bucketing), and the batches are shuffled: so
        one very long example costs memory for its own batch only, and
        short ones are not padded to it. The order is still a pure function
        of (seed, epoch).

        Example:

        >>> x = np.zeros((6, 9), "int32")
        >>> b = EpochBatches.bucketed(x, np.array([9, 2, 2, 3, 3, 2]), 3, seed=0)
        >>> sorted(t.shape[1] for t in b.dataset(0))
        [2, 9]
        """
        V.check_positive_int("pool", pool)
        flat = tf.nest.flatten(data)
        n = len(flat[0])
        tensors = tf.nest.map_structure(tf.constant, data)
        sizes = tf.nest.map_structure(
            lambda v: None if v is None else tf.constant(np.asarray(v, "int64")),
            lengths,
        )
        longest = np.max(
            [np.asarray(v) for v in tf.nest.flatten(lengths) if v is not None], axis=0
        )

        def gather(idx):
            def cut(t, used):
                rows = tf.gather(t, idx)
                if used is None:
                    return rows
                return rows[:, : tf.reduce_max(tf.gather(used, idx))]

            return tf.nest.map_structure(cut, tensors, sizes)

        batches = cls(n, batch_size, gather, seed=seed, shuffle=shuffle)
        batches.lengths = longest
        batches.pool = pool
        return batches

    @classmethod
    def windows(
        cls, ids, *, length: int, stride: int, batch_size: int, seed: int = 0
    ) -> EpochBatches:
        """Next-token windows of a token array, cut out batch by batch.

        Window `i` is `x = ids[i*stride : i*stride + length]` and `y` the same
        shifted one token on. Only `ids` is held in memory, never the
        windows, which would take `2 * length / stride` times as much.
        """
        V.check_positive_int("length", length)
        V.check_positive_int("stride", stride)
        n = window_count(len(ids), length, stride)
        if n == 0:
            raise ValueError(
                f"{len(ids)} tokens are too few for one window of `length`={length} "
                "and the token after it."
            )
        tokens = tf.constant(np.asarray(ids, "int32"))
        offsets = tf.range(length, dtype=tf.int64)

        def gather(idx):
            pos = idx[:, None] * stride + offsets[None, :]  # (batch, length)
            return tf.gather(tokens, pos), tf.gather(tokens, pos + 1)

        return cls(n, batch_size, gather, seed=seed)

    def for_replicas(self, replicas: int) -> EpochBatches:
        """These batches as `replicas` replicas need them: with several, the last
        partial batch is dropped, so that no replica gets an empty one."""
        if replicas <= 1 or self.drop_remainder:
            return self
        copy = EpochBatches.__new__(EpochBatches)
        copy.__dict__.update(self.__dict__)
        copy.drop_remainder = self.n >= self.batch_size
        return copy

    def weighted_windows(self, accumulation_steps: int) -> EpochBatches:
        """These batches with a sample weight each, so that every window of
        `accumulation_steps` micro-batches (an epoch's last one may be
        partial) updates as one batch of its examples would
        (`window_weights`). Batches must be `(x, y)`
        or `(x, y, sample_weight)`."""
        copy = EpochBatches.__new__(EpochBatches)
        copy.__dict__.update(self.__dict__)
        copy.window = V.check_positive_int("accumulation_steps", accumulation_steps)
        return copy

    def batch_sizes(self, epoch: int) -> list[int]:
        """How many examples each batch of epoch `epoch` holds."""
        if self.lengths is not None:
            return [len(r) for r in self.batch_indices(epoch)]
        steps = self.steps_per_epoch
        last = (
            self.batch_size
            if self.drop_remainder
            else self.n - (steps - 1) * self.batch_size
        )
        return [self.batch_size] * (steps - 1) + [last]

    def _with_weights(self, ds, epoch: int, start_step: int):
        weights = window_weights(self.batch_sizes(epoch), self.window)[start_step:]

        def add(batch, weight):
            if not isinstance(batch, tuple) or len(batch) not in (2, 3):
                raise ValueError(
                    "Weighted windows need batches of (x, y) or (x, y, "
                    f"sample_weight). Received: {type(batch).__name__} of "
                    f"{len(batch) if isinstance(batch, tuple) else 1}"
                )
            w = tf.fill(_loss_shape(tf.nest.flatten(batch[1])[0]), weight)
            if len(batch) == 3:
                w = tf.cast(batch[2], w.dtype) * w
            return batch[0], batch[1], w

        return tf.data.Dataset.zip(
            (ds, tf.data.Dataset.from_tensor_slices(weights))
        ).map(add)

    @property
    def steps_per_epoch(self) -> int:
        if self.drop_remainder:
            return self.n // self.batch_size
        return math.ceil(self.n / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of epoch `epoch`, in the order they are served."""
        idx = tf.range(self.n, dtype=tf.int64)
        return self._permute(idx, epoch).numpy()

    def _permute(self, idx, epoch):
        if not self.shuffle or self.n == 1:
            return idx
        seed = tf.constant([self.seed, epoch], tf.int64)
        return tf.random.experimental.index_shuffle(idx, seed, self.n - 1)

    def batch_indices(self, epoch: int) -> list[np.ndarray]:
        """The example indices of each batch of epoch `epoch` (bucketed
        batches: grouped by length, then shuffled)."""
        order = self.order(epoch)
        steps, size = self.steps_per_epoch, self.batch_size
        order = order[: steps * size] if self.drop_remainder else order
        if self.lengths is None:
            return [order[i : i + size] for i in range(0, len(order), size)]
        batches = []
        chunk = size * self.pool
        for begin in range(0, len(order), chunk):
            part = order[begin : begin + chunk]
            # Stable sort: equal lengths keep their shuffled order.
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches += [part[i : i + size] for i in range(0, len(part), size)]
        if self.shuffle and len(batches) > 1:
            # The batch order too is a pure function of (seed, epoch).
            rank = tf.random.experimental.index_shuffle(
                tf.range(len(batches), dtype=tf.int64),
                tf.constant([self.seed, epoch], tf.int64),
                len(batches) - 1,
            ).numpy()
            batches = [batches[i] for i in rank]
        return batches

    def dataset(self, epoch: int, start_step: int = 0) -> tf.data.Dataset:
        """The batches of `epoch` from batch `start_step` on."""
        if not 0 <= start_step <= self.steps_per_epoch:
            raise ValueError(
                f"`start_step` must be in [0, {self.steps_per_epoch}]. "
                f"Received: start_step={start_step}"
            )
        if self.lengths is not None:
            rows = self.batch_indices(epoch)[start_step:]
            ds = tf.data.Dataset.from_tensor_slices(
                tf.ragged.constant([r.tolist() for r in rows], dtype=tf.int64)
                if rows
                else tf.ragged.constant([[0]], dtype=tf.int64)[:0]
            )
            ds = ds.map(self.load)
            if self.window > 1:
                ds = self._with_weights(ds, epoch, start_step)
            options = pipeline_options(deterministic=True)
            return prefetch_to_accelerator(ds.with_options(options))
        used = self.steps_per_epoch * self.batch_size if self.drop_remainder else self.n
        ds = tf.data.Dataset.range(start_step * self.batch_size, used)
        if self.per_example:
            ds = ds.map(lambda i: self._permute(i, epoch))
            ds = ds.map(self.load, num_parallel_calls=parallel_calls())
            # A file that breaks after screening is dropped, never fatal.
            ds = ds.ignore_errors(log_warning=True).batch(self.batch_size)
        else:
            ds = ds.batch(self.batch_size)
            ds = ds.map(lambda i: self.load(self._permute(i, epoch)))
        if self.window > 1:
            ds = self._with_weights(ds, epoch, start_step)
        options = pipeline_options(deterministic=True)
        return prefetch_to_accelerator(ds.with_options(options))
