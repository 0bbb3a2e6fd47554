import math

import keras
import numpy as np
import pytest

from keras_bigmodels.layers import PositionalEncoding, PositionEmbedding
from tests.helpers import run_layer_checks


@pytest.mark.parametrize("pos, i", [(0, 0), (1, 0), (3, 1), (7, 2), (49, 3)])
def test_sinusoidal_values_by_hand(pos, i):
    d = 8
    out = np.asarray(PositionalEncoding(50)(np.zeros((1, 50, d), "float32")))[0]
    angle = pos / 10000 ** (2 * i / d)
    assert out[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
    assert out[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)


def test_added_to_input_for_any_length_and_odd_width():
    x = np.random.default_rng(0).random((2, 3, 5)).astype("float32")
    layer = PositionalEncoding(10)
    out = np.asarray(layer(x))
    np.testing.assert_allclose(out[:, 0, 1::2], x[:, 0, 1::2] + 1.0, atol=1e-6)
    np.testing.assert_allclose(out[:, 0, 0::2], x[:, 0, 0::2], atol=1e-6)
    assert layer(np.zeros((1, 10, 5), "float32")).shape == (1, 10, 5)


def test_masks_pass_through():
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
    y = PositionalEncoding(20)(x)
    assert getattr(y, "_keras_mask", None) is not None


def test_round_trips(tmp_path):
    x = np.random.default_rng(1).random((2, 6, 4)).astype("float32")
    inp = keras.Input((None, 4))
    run_layer_checks(
        keras.Model(inp, PositionalEncoding(16)(inp), name="pe"), x, tmp_path
    )
    learned = PositionEmbedding(16)
    run_layer_checks(keras.Model(inp, learned(inp), name="learned"), x, tmp_path)
    assert learned.embeddings.shape == (16, 4) and learned.trainable_weights


def test_invalid_max_length():
    with pytest.raises(ValueError, match="max_length.*Received"):
        PositionalEncoding(0)
    with pytest.raises(ValueError, match="max_length"):
        PositionEmbedding(-3)
