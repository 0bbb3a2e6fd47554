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


def stream_cross_entropy(
    model, ids, sequence_length: int, context: int | None = None, batch_size: int = 64
) -> float:
    """Mean next-token cross-entropy (nats) of a logits model over a token stream.

    Scores every token of `ids` after the first exactly once, the same tokens
    an n-gram model's `cross_entropy(ids)` scores, and, like it, with the
    text before each token as context: windows of `sequence_length` tokens
    advance by `sequence_length - context`, and each window after the first
    scores only the tokens the previous one did not, so every token past the
    first window is predicted from at least `context` earlier tokens (as when
    the model generates). Cutting the stream into disjoint windows instead
    would predict each window's first tokens from almost nothing.

    Args:
        model: a causal language model mapping (batch, time) ids to logits.
        ids: 1-D int array. The token stream.
        sequence_length: int. The model's window length.
        context: int in [0, sequence_length). Default: half the window.
        batch_size: int. Windows per forward pass.

    Returns:
        float. Nats per scored token.

    Example:

    >>> ce = stream_cross_entropy(gpt, val_ids, 64)  # doctest: +SKIP
    """
    seq = V.check_positive_int("sequence_length", sequence_length)
    context = seq // 2 if context is None else context
    if (
        isinstance(context, bool)
        or not isinstance(context, int)
        or not (0 <= context < seq)
    ):
        raise ValueError(
            "`context` must be an int in [0, sequence_length). "
            f"Received: context={context!r} with sequence_length={seq}"
        )
    ids = np.asarray(ids).astype("int32")
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(
            "`ids` must be a 1-D stream of at least 2 tokens. "
            f"Received: shape={ids.shape}"
        )
    length = min(seq, len(ids) - 1)
    last = len(ids) - 1 - length  # the start of the window ending the stream
    starts = list(range(0, last + 1, seq - context))
    if starts[-1] != last:
        starts.append(last)
    # Window w scores its targets from position first[w] on: the targets up
    # to the previous window's end were scored already.
    starts = np.asarray(starts)
    first = np.zeros(len(starts), "int64")
    first[1:] = starts[:-1] + length - starts[1:]
    idx = starts[:, None] + np.arange(length)[None, :]
    x, y = ids[idx], ids[idx + 1]
    mask = np.arange(length)[None, :] >= first[:, None]
    return _summed_nll(model, x=x, y=y, mask=mask, batch_size=batch_size) / int(
        mask.sum()
    )


def _summed_nll(model, *, x, y, mask, batch_size: int) -> float:
    """Summed next-token cross-entropy (nats) of the targets `y` where `mask`."""
    import keras

    from keras_bigmodels.models.inference import forward

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    step = forward(model)
    total = 0.0
    for lo in range(0, len(x), batch_size):
        logits = step(x[lo : lo + batch_size])
        per_token = keras.ops.convert_to_numpy(loss(y[lo : lo + batch_size], logits))
        total += float(per_token[mask[lo : lo + batch_size]].sum())
    return total


def model_cross_entropy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 64):
    """Mean next-token cross-entropy (nats) of a logits model on windows (x, y)."""
    mask = np.ones(np.shape(y), bool)
    return _summed_nll(model, x=x, y=y, mask=mask, batch_size=batch_size) / mask.size
