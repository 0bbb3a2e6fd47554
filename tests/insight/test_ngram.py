import math

import numpy as np
import pytest

from keras_bigmodels.insight.ngram import NGramModel, ngram_baselines


def test_witten_bell_by_hand():
    # Training "1 2 1 3": unigram counts {1: 2, 2: 1, 3: 1}, N = 4, T = 3, V = 4.
    m = NGramModel(order=2, vocab_size=4).fit([1, 2, 1, 3])
    p_uni_2 = (1 + 3 * 0.25) / (4 + 3)
    assert m.prob((), 2) == pytest.approx(p_uni_2)
    # After "1": counts {2: 1, 3: 1}, c = 2, T = 2.
    assert m.prob((1,), 2) == pytest.approx((1 + 2 * p_uni_2) / (2 + 2))
    # An unseen context falls back to the unigram estimate.
    assert m.prob((0,), 2) == pytest.approx(p_uni_2)


def test_probabilities_sum_to_one():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 6, 300)
    m = NGramModel(3, 6).fit(ids)
    for history in [(), (1,), (2, 3), (5, 5)]:
        assert sum(m.prob(history, w) for w in range(6)) == pytest.approx(1.0)


def test_higher_order_wins_on_structured_text_and_best_is_reported():
    ids = [0, 1, 2, 3, 4] * 200
    res = ngram_baselines(ids[:800], ids[800:], vocab_size=5, orders=(1, 2))
    assert res[1] == pytest.approx(math.log(5), abs=0.01)
    assert res[2] < 0.05 and res["best"][0] == 2
