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


def load_addition(
    digits: int = 3, num_train: int = 50000, num_test: int = 5000, seed: int = 0
):
    """Random sums of two numbers of 1..`digits` digits, as strings.

    Args:
        digits: int. Most digits of each operand.
        num_train: int. Training pairs.
        num_test: int. Test pairs, none of which occur in training.
        seed: int.

    Returns:
        `((train_questions, train_answers), (test_questions, test_answers))`,
        lists of str such as `"123+45"` and `"168"`.

    Example:

    >>> (q, a), _ = load_addition(num_train=3, num_test=1)
    >>> all(str(eval(x)) == y for x, y in zip(q, a))
    True
    """
    V.check_positive_int("digits", digits)
    V.check_positive_int("num_train", num_train)
    V.check_positive_int("num_test", num_test)
    limit = 10**digits
    total = num_train + num_test
    if total > limit * limit // 2:
        raise ValueError(
            f"Only {limit * limit} pairs exist with {digits} digits. "
            f"Received: num_train={num_train}, num_test={num_test}"
        )
    rng = np.random.default_rng(seed)
    # Draw the number of digits first, then the number, so short operands
    # are as common as long ones.
    seen: set[tuple[int, int]] = set()
    pairs = []
    while len(pairs) < total:
        n = rng.integers(1, digits + 1, size=(2 * total, 2))
        values = rng.integers(0, 10**n)
        for a, b in values.tolist():
            if (a, b) not in seen:
                seen.add((a, b))
                pairs.append((a, b))
                if len(pairs) == total:
                    break
    # Short operands are few (only 100 one-digit pairs exist), so the unique
    # draws meet them all early; shuffle before splitting so that train, test
    # and any validation slice share one distribution.
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    questions = [f"{a}+{b}" for a, b in pairs]
    answers = [str(a + b) for a, b in pairs]
    return (
        (questions[:num_train], answers[:num_train]),
        (questions[num_train:], answers[num_train:]),
    )
