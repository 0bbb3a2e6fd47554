import keras
import numpy as np
import pytest

from keras_bigmodels.layers import MultiHeadAttention, ScaledDotProductAttention
from tests.helpers import run_layer_checks

RNG = np.random.default_rng(0)


def numpy_attention(q, k, v, mask=None):
    """softmax(QKᵀ/√d_k)V written out; fully masked rows give zeros."""
    logits = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        logits = np.where(mask, logits, -np.inf)
    m = np.max(logits, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(logits - m)
    s = e.sum(-1, keepdims=True)
    w = np.divide(e, s, out=np.zeros_like(e), where=s > 0)
    return w @ v, w


def rand(*shape):
    return RNG.standard_normal(shape).astype("float32")


def test_matches_the_formula():
    q, k, v = rand(2, 5, 8), rand(2, 7, 8), rand(2, 7, 3)
    out, w = ScaledDotProductAttention()(q, k, v, return_attention_scores=True)
    ref, ref_w = numpy_attention(q, k, v)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_allclose(w, ref_w, atol=1e-5)
    np.testing.assert_allclose(np.asarray(w).sum(-1), 1.0, atol=1e-5)


def test_padding_mask_causal_mask_and_fully_masked_rows():
    q, k, v = rand(2, 4, 8), rand(2, 6, 8), rand(2, 6, 5)
    pad = np.ones((2, 1, 6), bool)
    pad[0, 0, 4:] = False  # padding keys
    full = np.broadcast_to(pad, (2, 4, 6)).copy()
    full[1, 2, :] = False  # a query that may attend to nothing
    layer = ScaledDotProductAttention()
    out, w = layer(q, k, v, attention_mask=full, return_attention_scores=True)
    ref, ref_w = numpy_attention(q, k, v, full)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_allclose(w, ref_w, atol=1e-5)
    assert not np.isnan(np.asarray(out)).any()
    np.testing.assert_array_equal(np.asarray(out)[1, 2], 0.0)
    # Causal: query i sees keys j <= i (top-left aligned, like keras.ops).
    causal = np.tril(np.ones((4, 6), bool))
    out_c = layer(q, k, v, attention_mask=pad, use_causal_mask=True)
    np.testing.assert_allclose(
        out_c, numpy_attention(q, k, v, pad & causal)[0], atol=1e-5
    )


def test_agrees_with_keras_dot_product_attention():
    # keras.ops layout is (batch, seq, heads, dim); ours is (batch, heads, seq, dim).
    q, k, v = rand(2, 9, 3, 16), rand(2, 9, 3, 16), rand(2, 9, 3, 16)
    for causal in (False, True):
        ref = keras.ops.dot_product_attention(q, k, v, is_causal=causal)
        ours = ScaledDotProductAttention()(
            *(np.swapaxes(t, 1, 2) for t in (q, k, v)), use_causal_mask=causal
        )
        np.testing.assert_allclose(np.swapaxes(np.asarray(ours), 1, 2), ref, atol=1e-5)


def test_dropout_only_in_training():
    q = rand(1, 6, 4)
    layer = ScaledDotProductAttention(dropout=0.5)
    a = layer(q, q, q, training=False)
    np.testing.assert_allclose(a, layer(q, q, q, training=False))
    assert not np.allclose(a, layer(q, q, q, training=True))


def test_mixed_precision_is_finite_and_close():
    q, k, v = rand(2, 5, 8), rand(2, 5, 8), rand(2, 5, 8)
    mask = np.ones((2, 5, 5), bool)
    mask[0, 1] = False
    layer = ScaledDotProductAttention(dtype="mixed_float16")
    out = np.asarray(
        layer(
            q.astype("float16"),
            k.astype("float16"),
            v.astype("float16"),
            attention_mask=mask,
        ),
        "float32",
    )
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, numpy_attention(q, k, v, mask)[0], atol=1e-2)


def test_multi_head_matches_per_head_formula():
    x, ctx = rand(2, 5, 12), rand(2, 7, 12)
    mha = MultiHeadAttention(num_heads=3, key_dim=4, value_dim=2, output_dim=6)
    out, w = mha(x, ctx, return_attention_scores=True)
    assert out.shape == (2, 5, 6) and w.shape == (2, 3, 5, 7)
    wq, bq = mha._query_dense.get_weights()
    wk, bk = mha._key_dense.get_weights()
    wv, bv = mha._value_dense.get_weights()
    wo, bo = mha._output_dense.get_weights()

    def heads(t, d):  # (b, s, h*d) -> (b, h, s, d)
        return t.reshape(t.shape[0], t.shape[1], 3, d).transpose(0, 2, 1, 3)

    q, k, v = heads(x @ wq + bq, 4), heads(ctx @ wk + bk, 4), heads(ctx @ wv + bv, 2)
    o, ref_w = numpy_attention(q, k, v)
    ref = o.transpose(0, 2, 1, 3).reshape(2, 5, 6) @ wo + bo
    np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_allclose(w, ref_w, atol=1e-5)


def test_multi_head_agrees_with_keras_multi_head_attention():
    x = rand(2, 6, 8)
    ours = MultiHeadAttention(num_heads=2, key_dim=4)
    ours(x, x)
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    theirs(x, x)
    wq, bq, wk, bk, wv, bv, wo, bo = ours.get_weights()
    theirs.set_weights(
        [
            wq.reshape(8, 2, 4),
            bq.reshape(2, 4),
            wk.reshape(8, 2, 4),
            bk.reshape(2, 4),
            wv.reshape(8, 2, 4),
            bv.reshape(2, 4),
            wo.reshape(2, 4, 8),
            bo,
        ]
    )
    mask = np.tril(np.ones((2, 6, 6), bool))
    np.testing.assert_allclose(
        ours(x, x, attention_mask=mask), theirs(x, x, attention_mask=mask), atol=1e-5
    )


def test_round_trips_and_symbolic_none_dims(tmp_path):
    seq_in = keras.Input((None, 8))
    out = ScaledDotProductAttention(name="sdpa")(seq_in, seq_in, seq_in)
    run_layer_checks(keras.Model(seq_in, out), rand(2, 5, 8), tmp_path)
    mha_out = MultiHeadAttention(2, 4, name="mha")(seq_in, seq_in, use_causal_mask=True)
    run_layer_checks(keras.Model(seq_in, mha_out), rand(2, 5, 8), tmp_path)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_heads": 0, "key_dim": 4}, "num_heads"),
        ({"num_heads": 2, "key_dim": -1}, "key_dim"),
        ({"num_heads": 2, "key_dim": 4, "dropout": 1.5}, "dropout"),
    ],
)
def test_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received"):
        MultiHeadAttention(**kwargs)
    if name == "dropout":
        with pytest.raises(ValueError, match="dropout"):
            ScaledDotProductAttention(dropout=1.5)


def test_self_attention_in_a_sequential_model(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((None, 8)),
            MultiHeadAttention(2, 4, name="mha"),
            ScaledDotProductAttention(name="sdpa"),
        ]
    )
    x = rand(2, 5, 8)
    assert model.predict(x, verbose=0).shape == (2, 5, 8)
    run_layer_checks(model, x, tmp_path)


def test_gpt_under_mixed_precision():
    import keras_bigmodels as kb

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = kb.build_gpt(
            20,
            max_length=8,
            embed_dim=16,
            num_heads=2,
            num_layers=1,
            intermediate_dim=32,
        )
        logits = model(np.array([[1, 2, 3, 4]]))
        assert logits.dtype == "float32" and np.isfinite(np.asarray(logits)).all()
        block = model.get_layer("block1")
        assert block.compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
