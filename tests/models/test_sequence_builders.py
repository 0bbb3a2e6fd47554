import keras
import numpy as np
import pytest

import keras_bigmodels as kb
from tests.helpers import run_layer_checks

RNG = np.random.default_rng(0)


def ids(batch, seq, vocab, pad_from=None):
    x = RNG.integers(3, vocab, (batch, seq)).astype("int32")
    if pad_from is not None:
        x[:, pad_from:] = 0
    return x


@pytest.mark.parametrize(
    "cell, bidirectional", [("simple", False), ("lstm", True), ("gru", False)]
)
@pytest.mark.large
def test_rnn_tokens_round_trip_and_padding_is_masked(cell, bidirectional, tmp_path):
    model = kb.build_rnn(
        cell,
        vocab_size=20,
        num_classes=3,
        units=(8, 8),
        bidirectional=bidirectional,
        embed_dim=8,
    )
    x = ids(4, 6, 20, pad_from=4)
    p = model.predict(x, verbose=0)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)
    # Padding after the real tokens changes nothing.
    longer = np.concatenate([x, np.zeros((4, 3), "int32")], axis=1)
    np.testing.assert_allclose(model.predict(longer, verbose=0), p, atol=1e-5)
    run_layer_checks(model, x, tmp_path)


@pytest.mark.large
def test_rnn_time_series_regression(tmp_path):
    model = kb.build_rnn("gru", input_dim=3, num_classes=2, task="regression", units=8)
    x = RNG.standard_normal((4, 7, 3)).astype("float32")
    assert model.output_shape == (None, 2)
    assert model.get_layer("predictions").get_config()["activation"] == "linear"
    run_layer_checks(model, x, tmp_path)


def test_rnn_argument_errors():
    with pytest.raises(ValueError, match="exactly one"):
        kb.build_rnn()
    with pytest.raises(ValueError, match="`kind`"):
        kb.build_rnn("transformer", vocab_size=10)
    with pytest.raises(ValueError, match="`units`"):
        kb.build_rnn(vocab_size=10, units=(0,))


@pytest.mark.large
def test_transformer_classifier(tmp_path):
    model = kb.build_transformer(
        vocab_size=20,
        max_length=12,
        num_classes=3,
        embed_dim=16,
        num_heads=2,
        intermediate_dim=32,
        num_layers=1,
        dropout=0.0,
    )
    x = ids(3, 8, 20, pad_from=6)
    p = model.predict(x, verbose=0)
    padded = np.concatenate([x, np.zeros((3, 4), "int32")], axis=1)
    np.testing.assert_allclose(model.predict(padded, verbose=0), p, atol=1e-5)
    run_layer_checks(model, x, tmp_path)
    with pytest.raises(ValueError, match="divisible"):
        kb.build_transformer(20, 12, embed_dim=10, num_heads=4)
    with pytest.raises(ValueError, match="positions"):
        kb.build_transformer(20, 12, positions="rotary")


@pytest.mark.large
@pytest.mark.parametrize("kind", ["transformer", "lstm", "gru"])
def test_seq2seq_round_trip_and_decode(kind, tmp_path):
    model = kb.build_seq2seq(
        15,
        15,
        max_length=10,
        kind=kind,
        embed_dim=16,
        num_heads=2,
        intermediate_dim=32,
        num_layers=1,
        units=16,
    )
    src, tgt = ids(3, 7, 15, pad_from=5), ids(3, 5, 15)
    assert model.predict([src, tgt], verbose=0).shape == (3, 5, 15)
    loaded = run_layer_checks(model, [src, tgt], tmp_path)
    out = kb.decode(loaded, src, start_id=2, end_id=3, max_length=4)
    assert out.shape == (3, 4) and out.dtype == np.int32
    # Decoding is greedy: the first token is the argmax after the start token.
    first = np.argmax(loaded.predict([src, np.full((3, 1), 2)], verbose=0)[:, 0], -1)
    np.testing.assert_array_equal(out[:, 0], first)


@pytest.mark.large
def test_gpt_is_causal_and_generate_is_seeded(tmp_path):
    model = kb.build_gpt(
        vocab_size=30,
        max_length=16,
        embed_dim=16,
        num_heads=2,
        num_layers=1,
        intermediate_dim=32,
        dropout=0.0,
    )
    x = ids(2, 10, 30)
    logits = model.predict(x, verbose=0)
    x2 = x.copy()
    x2[:, 6:] = 5
    np.testing.assert_allclose(
        model.predict(x2, verbose=0)[:, :6], logits[:, :6], atol=1e-5
    )
    loaded = run_layer_checks(model, x, tmp_path)
    a = kb.generate(
        loaded, [4, 5, 6], max_new_tokens=12, temperature=1.0, top_k=5, seed=7
    )
    b = kb.generate(
        loaded, [4, 5, 6], max_new_tokens=12, temperature=1.0, top_k=5, seed=7
    )
    np.testing.assert_array_equal(a, b)
    assert len(a) == 15 and list(a[:3]) == [4, 5, 6]
    greedy = kb.generate(loaded, [4, 5, 6], max_new_tokens=3, temperature=0)
    step = np.argmax(loaded.predict(np.array([[4, 5, 6]]), verbose=0)[0, -1])
    assert greedy[3] == step
    # Longer than the context: the window slides.
    assert len(kb.generate(loaded, list(range(1, 20)), max_new_tokens=3, seed=0)) == 22
    with pytest.raises(ValueError, match="tokenizer"):
        kb.generate(loaded, "text", max_new_tokens=3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        kb.generate(loaded, [1], max_new_tokens=0)


def test_generate_text_with_a_tokenizer():
    from keras_bigmodels.data import Tokenizer

    tok = Tokenizer.adapt(["你好，世界。hello"], level="char")
    model = kb.build_gpt(
        tok.vocab_size,
        max_length=8,
        embed_dim=8,
        num_heads=2,
        num_layers=1,
        intermediate_dim=16,
    )
    text = kb.generate(model, "你好", max_new_tokens=5, seed=1, tokenizer=tok)
    assert text.startswith("你好") and len(text) >= 2
    assert text == kb.generate(model, "你好", max_new_tokens=5, seed=1, tokenizer=tok)


def test_bag_of_tokens_is_order_blind():
    from keras_bigmodels.models.bag_of_tokens import build_bag_of_tokens

    model = build_bag_of_tokens(10, 2)
    x = np.array([[3, 4, 5, 0]])
    np.testing.assert_allclose(
        model.predict(x, verbose=0),
        model.predict(np.array([[5, 3, 4, 0]]), verbose=0),
        atol=1e-6,
    )
    assert isinstance(model, keras.Model)
