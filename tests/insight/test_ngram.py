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


def _brute_force_stream(model, ids, seq):
    """Each token i >= 1 predicted from the (up to) seq tokens before it."""
    import keras

    nll = 0.0
    for i in range(1, len(ids)):
        window = np.asarray(ids[max(0, i - seq) : i])[None, :]
        logits = keras.ops.convert_to_numpy(model(window, training=False))[0, -1]
        logp = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        nll -= logp[ids[i]]
    return nll / (len(ids) - 1)


@pytest.mark.large
def test_stream_cross_entropy_gives_each_token_its_full_context():
    import keras_bigmodels as kb
    from keras_bigmodels.insight.ngram import model_cross_entropy, stream_cross_entropy

    kb.set_seed(0)
    model = kb.build_gpt(7, max_length=8, embed_dim=16, num_heads=2, num_layers=1)
    ids = np.random.default_rng(0).integers(0, 7, 45)
    # A window advancing by one token predicts every token from the (up to) 8
    # before it: exactly the brute force, token by token.
    brute = _brute_force_stream(model, ids, 8)
    assert stream_cross_entropy(model, ids, 8, context=7) == pytest.approx(
        brute, rel=1e-5
    )
    # Disjoint windows (context 0) are the windowed scorer on the same tokens.
    x = ids[:40].reshape(5, 8)
    y = ids[1:41].reshape(5, 8)
    assert stream_cross_entropy(model, ids[:41], 8, context=0) == pytest.approx(
        model_cross_entropy(model, x, y), rel=1e-5
    )
    # A model that ignores context scores the same at every stride: each token
    # is counted exactly once whatever the overlap.
    import keras

    bigram = keras.Sequential([keras.Input((None,)), keras.layers.Embedding(7, 7)])
    ref = stream_cross_entropy(bigram, ids, 8, context=0)
    for context in (1, 3, 4, 6, 7):
        assert stream_cross_entropy(bigram, ids, 8, context=context) == (
            pytest.approx(ref, rel=1e-6)
        )
    assert ref == pytest.approx(_brute_force_stream(bigram, ids, 8), rel=1e-6)
    with pytest.raises(ValueError, match="context=8"):
        stream_cross_entropy(model, ids, 8, context=8)
