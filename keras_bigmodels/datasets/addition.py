"""n-digit addition as text: the classic sequence-to-sequence exercise.

"123+45" -> "168". Generated, so nothing is downloaded; the test pairs are
disjoint from the training pairs.
"""

from __future__ import annotations

import numpy as np

from keras_bigmodels import _validation as V
from keras_bigmodels.data.text import END, START, Tokenizer

# Fixed vocabulary: padding, unknown, start, end, '+', digits.
VOCABULARY = ["", "[UNK]", START, END, "+", *"0123456789"]


def addition_tokenizer() -> Tokenizer:
    """The character tokenizer of the addition task (fixed vocabulary)."""
    return Tokenizer(VOCABULARY, level="char")


def max_addition_pairs(digits: int) -> int:
    """How many distinct pairs `load_addition` draws at most, over all its sets.

    Half of the (10**digits)**2 operand pairs: past that, unique draws slow
    down and the sets would cover most of the space.
    """
    return 10 ** (2 * digits) // 2


def load_addition(
    digits: int = 3,
    num_train: int = 50000,
    num_test: int = 5000,
    seed: int = 0,
    *,
    uniform_fraction: float = 0.0,
    num_uniform_test: int = 0,
):
    """Random sums of two numbers of 1..`digits` digits, as strings.

    Two ways of drawing an operand: "by length" draws its number of digits
    first, then the number, so short operands are as common as long ones
    (with 3 digits only about 11% of such pairs have two three-digit
    operands); "uniform" draws it from 0..10**digits - 1, so most pairs are
    full length and most have carries. The test pairs are drawn by length; a
    `uniform_fraction` share of the training pairs is drawn uniformly and the
    rest by length; the optional second test set is drawn uniformly. No pair
    is in two sets.

    Args:
        digits: int. Most digits of each operand.
        num_train: int. Training pairs.
        num_test: int. Test pairs, drawn by length.
        seed: int.
        uniform_fraction: float in [0, 1]. Share of the training pairs whose
            operands are drawn uniformly.
        num_uniform_test: int. Pairs of a further test set drawn uniformly,
            the hard test of carries at full length (0: none).

    Returns:
        `((train_questions, train_answers), (test_questions, test_answers))`,
        lists of str such as `"123+45"` and `"168"`; with `num_uniform_test`
        a third `(questions, answers)` pair is appended.

    Example:

    >>> (q, a), _ = load_addition(num_train=3, num_test=1)
    >>> all(str(eval(x)) == y for x, y in zip(q, a))
    True
    """
    V.check_positive_int("digits", digits)
    V.check_positive_int("num_train", num_train)
    V.check_positive_int("num_test", num_test)
    V.check_fraction("uniform_fraction", uniform_fraction, False, closed=True)
    V.check_non_negative_int("num_uniform_test", num_uniform_test)
    limit = 10**digits
    total = num_train + num_test
    if total + num_uniform_test > max_addition_pairs(digits):
        raise ValueError(
            f"Only {limit * limit} pairs exist with {digits} digits. "
            f"Received: num_train={num_train}, num_test={num_test}, "
            f"num_uniform_test={num_uniform_test}"
        )
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, int]] = set()
    n_uniform = int(round(uniform_fraction * num_train))
    pairs = _unique_pairs(
        rng, digits=digits, n=total - n_uniform, seen=seen, by_length=True
    )
    # Short operands are few (only 100 one-digit pairs exist), so the unique
    # draws meet them all early; shuffle before splitting so that train, test
    # and any validation slice share one distribution.
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    train, test = pairs[: num_train - n_uniform], pairs[num_train - n_uniform :]
    if n_uniform:
        train += _unique_pairs(
            rng, digits=digits, n=n_uniform, seen=seen, by_length=False
        )
        train = [train[i] for i in rng.permutation(len(train))]
    parts = [train, test]
    if num_uniform_test:
        parts.append(
            _unique_pairs(
                rng, digits=digits, n=num_uniform_test, seen=seen, by_length=False
            )
        )
    return tuple(
        ([f"{a}+{b}" for a, b in part], [str(a + b) for a, b in part]) for part in parts
    )


def _unique_pairs(rng, *, digits: int, n: int, seen: set, by_length: bool) -> list:
    """`n` operand pairs not in `seen` (which they join)."""
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n:
        if by_length:
            lengths = rng.integers(1, digits + 1, size=(2 * n, 2))
            values = rng.integers(0, 10**lengths)
        else:
            values = rng.integers(0, 10**digits, size=(2 * n, 2))
        for a, b in values.tolist():
            if (a, b) not in seen:
                seen.add((a, b))
                pairs.append((a, b))
                if len(pairs) == n:
                    break
    return pairs
