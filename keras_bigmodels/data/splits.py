"""Seeded, class-balanced splits of item indices into train/validation/test.

One function serves every workflow (images, text, tables, pairs), so that the
same seed gives the same split wherever data comes from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stratified_split(
    labels: np.ndarray | None,
    fractions: Sequence[float],
    *,
    seed: int,
    n: int | None = None,
) -> list[np.ndarray]:
    """Split indices 0..n-1 into parts of the given fractions, per class.

    Each class is shuffled with `seed` and cut by the same fractions, so every
    part keeps the class balance; the same seed always gives the same parts
    and no index is in two parts. A class of k >= 2 items puts at least one
    in each held-out part with a nonzero fraction while keeping one for the
    first part. Without labels the split is a plain seeded shuffle.

    Args:
        labels: int array of one label per item, or None (no classes).
        fractions: floats summing to 1, one per part; the first part is the
            training part, which keeps at least one item of each class.
        seed: int. Seed of the shuffle.
        n: int. Number of items; default `len(labels)` (needed without labels).

    Returns:
        One sorted int array per fraction; together they cover 0..n-1.

    Example:

    >>> train, test = stratified_split(np.array([0, 0, 0, 1, 1, 1]), (0.5, 0.5), seed=0)
    >>> sorted(np.concatenate([train, test]).tolist())
    [0, 1, 2, 3, 4, 5]
    """
    if n is None:
        if labels is None:
            raise ValueError("`n` is needed when `labels` is None. Received: n=None")
        n = len(labels)
    rng = np.random.default_rng(seed)
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    )
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for group in groups:
        group = rng.permutation(group)
        k = len(group)
        counts = [int(round(f * k)) for f in fractions[1:]]
        if k >= 2:
            counts = [
                max(1, c) if f > 0 else 0
                for c, f in zip(counts, fractions[1:], strict=True)
            ]
            while sum(counts) > k - 1:  # the first part keeps at least one
                counts[int(np.argmax(counts))] -= 1
        start = k - sum(counts)
        parts[0].append(group[:start])
        for j, c in enumerate(counts, 1):
            parts[j].append(group[start : start + c])
            start += c
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]
