from collections import Counter

import numpy as np
import pytest

from keras_bigmodels.datasets import (
    addition_tokenizer,
    load_addition,
    load_corpus,
    load_order_task,
)
from keras_bigmodels.datasets.sequence_tasks import MARKER_A, MARKER_B


def test_addition_is_correct_disjoint_and_seeded():
    (q, a), (tq, ta) = load_addition(3, num_train=2000, num_test=300, seed=1)
    for x, y in zip(q + tq, a + ta, strict=True):
        left, right = x.split("+")
        assert int(left) + int(right) == int(y) and len(left) <= 3 >= len(right)
    assert not set(q) & set(tq)
    assert load_addition(3, 2000, 300, seed=1)[0][0] == q
    tok = addition_tokenizer()
    assert tok.decode(tok.encode("12+34")) == "12+34"
    with pytest.raises(ValueError, match="num_train"):
        load_addition(1, num_train=80, num_test=10)


def test_order_task_needs_order():
    (x, y), (xt, yt) = load_order_task(num_train=1000, num_test=200, length=20)
    assert x.shape == (1000, 20) and abs(y.mean() - 0.5) < 0.05
    for row, label in zip(x[:200], y[:200], strict=True):
        a, b = list(row).index(MARKER_A), list(row).index(MARKER_B)
        assert (a < b) == bool(label)
        # Swapping the markers flips the label but keeps the bag of tokens.
        swapped = row.copy()
        swapped[a], swapped[b] = MARKER_B, MARKER_A
        assert Counter(swapped.tolist()) == Counter(row.tolist())
    assert (x >= 1).all() and (x < 24).all()


def test_corpus_is_real_text():
    text = load_corpus()
    assert len(text) > 300_000
    assert "assert" in text and text.count(" the ") > 1000


def test_addition_splits_share_one_distribution():
    (q, _), (tq, _) = load_addition(3, num_train=20000, num_test=4000, seed=0)

    def short_share(questions):
        return np.mean([max(map(len, x.split("+"))) == 1 for x in questions])

    # One-digit sums are rare overall; every slice must hold its share of them.
    overall = short_share(q + tq)
    for part in (q[:2000], q[-2000:], tq):
        assert abs(short_share(part) - overall) < 0.01


def _full_length_share(questions):
    return np.mean([min(map(len, x.split("+"))) == 3 for x in questions])


def test_uniform_pairs_are_mostly_full_length_and_disjoint():
    plain = load_addition(3, num_train=4000, num_test=1000, seed=2)
    (q, a), (tq, ta), (uq, ua) = load_addition(
        3, 4000, 1000, seed=2, uniform_fraction=0.5, num_uniform_test=2000
    )
    # The test set keeps the by-length distribution of the plain split.
    assert abs(_full_length_share(tq) - _full_length_share(plain[1][0])) < 0.04
    assert len(q) == 4000 and len(uq) == 2000
    for x, y in zip(q + uq, a + ua, strict=True):
        assert sum(map(int, x.split("+"))) == int(y)
    assert not (set(q) & set(tq) or set(q) & set(uq) or set(tq) & set(uq))
    # Uniform operands: 0.9 * 0.9 of pairs have two three-digit numbers.
    assert abs(_full_length_share(uq) - 0.81) < 0.03
    by_length = _full_length_share(tq)
    assert by_length < 0.2
    assert abs(_full_length_share(q) - (0.81 + by_length) / 2) < 0.04
    with pytest.raises(ValueError, match="uniform_fraction"):
        load_addition(3, 100, 10, uniform_fraction=1.5)
    with pytest.raises(ValueError, match="num_uniform_test"):
        load_addition(3, 100, 10, num_uniform_test=-1)
