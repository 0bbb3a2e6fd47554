"""A sequence-classification task whose label depends on long-range order.

Each sequence holds random filler tokens and exactly one "A" and one "B"
marker at random positions; the label is 1 when A comes before B. Every
sequence with the same markers has the same bag of tokens whichever comes
first, so a bag-of-tokens model cannot beat chance: only order counts.
"""

from __future__ import annotations

import numpy as np

from keras_bigmodels import _validation as V

MARKER_A, MARKER_B = 1, 2  # ids; 0 is padding, fillers are 3..vocab_size-1


def load_order_task(
    num_train: int = 8000,
    num_test: int = 2000,
    length: int = 48,
    vocab_size: int = 24,
    seed: int = 0,
):
    """Token sequences labelled by whether marker A precedes marker B.

    Args:
        num_train: int. Training sequences.
        num_test: int. Test sequences.
        length: int. Tokens per sequence (>= 3).
        vocab_size: int. Token ids are 1..vocab_size-1 (0 is padding).
        seed: int.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: int32 (N, length), int64 (N,).
        Labels are balanced.

    Example:

    >>> (x, y), _ = load_order_task(num_train=4, num_test=1, length=8)
    >>> x.shape, sorted(set(y.tolist())) <= [0, 1]
    ((4, 8), True)
    """
    V.check_positive_int("num_train", num_train)
    V.check_positive_int("num_test", num_test)
    if not isinstance(length, int) or length < 3:
        raise ValueError(
            f"`length` must be an integer >= 3. Received: length={length!r}"
        )
    if not isinstance(vocab_size, int) or vocab_size < 4:
        raise ValueError(
            f"`vocab_size` must be an integer >= 4. Received: vocab_size={vocab_size!r}"
        )
    rng = np.random.default_rng(seed)
    n = num_train + num_test
    x = rng.integers(3, vocab_size, size=(n, length)).astype("int32")
    # Two distinct positions per row.
    pos = np.argsort(rng.random((n, length)), axis=1)[:, :2]
    labels = (np.arange(n) % 2).astype("int64")
    rng.shuffle(labels)
    first, second = pos.min(axis=1), pos.max(axis=1)
    a_pos = np.where(labels == 1, first, second)
    b_pos = np.where(labels == 1, second, first)
    rows = np.arange(n)
    x[rows, a_pos] = MARKER_A
    x[rows, b_pos] = MARKER_B
    return (x[:num_train], labels[:num_train]), (x[num_train:], labels[num_train:])
