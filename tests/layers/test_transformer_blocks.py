import keras
import numpy as np
import pytest

from keras_bigmodels.layers import TransformerDecoderBlock, TransformerEncoderBlock
from tests.helpers import run_layer_checks

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_ignores_padding_positions(norm_first):
    block = TransformerEncoderBlock(2, 16, dropout=0.0, norm_first=norm_first)
    x = RNG.standard_normal((1, 5, 8)).astype("float32")
    mask = np.array([[True, True, True, False, False]])
    a = np.asarray(block(x, padding_mask=mask))
    x2 = x.copy()
    x2[:, 3:] = RNG.standard_normal((1, 2, 8))  # change only the padding
    b = np.asarray(block(x2, padding_mask=mask))
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)


def test_decoder_is_causal_and_uses_the_encoder():
    block = TransformerDecoderBlock(2, 16, cross_attention=True, dropout=0.0)
    x = RNG.standard_normal((1, 6, 8)).astype("float32")
    enc = RNG.standard_normal((1, 4, 8)).astype("float32")
    a = np.asarray(block(x, enc))
    x2 = x.copy()
    x2[:, 4:] += 1.0  # the future must not change the past
    np.testing.assert_allclose(a[:, :4], np.asarray(block(x2, enc))[:, :4], atol=1e-5)
    assert not np.allclose(a, np.asarray(block(x, enc + 1.0)), atol=1e-3)
    with pytest.raises(ValueError, match="encoder_outputs"):
        block(x)


@pytest.mark.large
def test_round_trips(tmp_path):
    x = RNG.standard_normal((2, 5, 8)).astype("float32")
    inp = keras.Input((None, 8))
    enc = TransformerEncoderBlock(2, 16, norm_first=True, name="enc")(inp)
    run_layer_checks(keras.Model(inp, enc, name="encoder"), x, tmp_path)
    other = keras.Input((None, 8))
    dec = TransformerDecoderBlock(2, 16, cross_attention=True, name="dec")(inp, other)
    loaded = run_layer_checks(
        keras.Model([inp, other], dec, name="decoder"), [x, x[:, :3]], tmp_path
    )
    cfg = loaded.get_layer("dec").get_config()
    assert cfg["cross_attention"] and cfg["num_heads"] == 2


def test_width_must_divide_by_heads():
    with pytest.raises(ValueError, match="num_heads"):
        TransformerEncoderBlock(3, 16)(np.zeros((1, 2, 8), "float32"))
    with pytest.raises(ValueError, match="intermediate_dim.*Received"):
        TransformerEncoderBlock(2, 0)
