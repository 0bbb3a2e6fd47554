"""A count-based n-gram language model: the baseline a neural LM must beat.

Witten–Bell interpolated smoothing (Witten & Bell 1991; Chen & Goodman 1998,
https://dash.harvard.edu/handle/1/25104739): the probability of token w after
context h mixes the counted estimate with the estimate of the shorter
context, weighted by how many different tokens have followed h:

    P(w | h) = (c(h, w) + T(h) · P(w | h')) / (c(h) + T(h))

where T(h) is the number of distinct tokens seen after h and h' drops the
oldest token; the recursion ends in the uniform distribution. It needs no
tuning on held-out data, so its test cross-entropy is an honest baseline.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

from keras_bigmodels import _validation as V


class NGramModel:
    """Witten–Bell interpolated n-gram model over integer token ids.

    Args:
        order: int. n (1 = unigram).
        vocab_size: int. Size of the id space, for the uniform base case.

    Example:

    >>> m = NGramModel(order=2, vocab_size=4).fit([1, 2, 1, 2, 1, 2])
    >>> round(m.cross_entropy([1, 2, 1]), 3) < round(math.log(4), 3)
    True
    """

    def __init__(self, order: int, vocab_size: int):
        self.order = V.check_positive_int("order", order)
        self.vocab_size = V.check_positive_int("vocab_size", vocab_size)
        # counts[k][context tuple of length k][token] for k = 0..order-1
        self.counts: list[dict] = [defaultdict(Counter) for _ in range(order)]

    def fit(self, ids) -> NGramModel:
        ids = [int(i) for i in ids]
        for k in range(self.order):
            table = self.counts[k]
            for i in range(k, len(ids)):
                table[tuple(ids[i - k : i])][ids[i]] += 1
        # Totals and type counts per context, computed once.
        self._totals = [
            {h: (sum(c.values()), len(c)) for h, c in t.items()} for t in self.counts
        ]
        return self

    def prob(self, history: tuple, token: int) -> float:
        p = 1.0 / self.vocab_size
        for k in range(self.order):
            if k > len(history):
                break
            h = tuple(history[len(history) - k :]) if k else ()
            total, types = self._totals[k].get(h, (0, 0))
            if total:
                p = (self.counts[k][h][token] + types * p) / (total + types)
        return p

    def cross_entropy(self, ids) -> float:
        """Mean negative log-likelihood (nats per token) of `ids`."""
        ids = [int(i) for i in ids]
        if len(ids) < 2:
            raise ValueError("`ids` needs at least 2 tokens to score.")
        nll = 0.0
        for i in range(1, len(ids)):
            nll -= math.log(
                self.prob(tuple(ids[max(0, i - self.order + 1) : i]), ids[i])
            )
        return nll / (len(ids) - 1)


def ngram_baselines(train_ids, test_ids, vocab_size: int, orders=(1, 2, 3, 4, 5, 6)):
    """Test cross-entropy (nats/token) of Witten–Bell n-gram models per order.

    Returns:
        dict: order -> cross-entropy, and `"best"` -> (order, cross-entropy).
    """
    results = {}
    for n in orders:
        results[n] = NGramModel(n, vocab_size).fit(train_ids).cross_entropy(test_ids)
    best = min(orders, key=lambda n: results[n])
    results["best"] = (best, results[best])
    return results


def model_cross_entropy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 64):
    """Mean next-token cross-entropy (nats) of a logits model on windows (x, y)."""
    import keras

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    total, count = 0.0, 0
    for lo in range(0, len(x), batch_size):
        logits = model(x[lo : lo + batch_size], training=False)
        total += float(loss(y[lo : lo + batch_size], logits))
        count += y[lo : lo + batch_size].size
    return total / count
