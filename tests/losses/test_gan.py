"""Each GAN loss against the formula written out in NumPy."""

import keras
import numpy as np
import pytest

from keras_bigmodels import losses

RNG = np.random.default_rng(0)
REAL = RNG.normal(1.0, 2.0, (8, 1)).astype("float32")  # logits
FAKE = RNG.normal(-1.0, 2.0, (8, 1)).astype("float32")


def sigmoid(x):
    return 1 / (1 + np.exp(-x.astype("float64")))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("from_logits", [True, False])
def test_discriminator_loss(from_logits, smoothing):
    d_real, d_fake = sigmoid(REAL), sigmoid(FAKE)
    t = 1 - smoothing
    expected = -np.mean(t * np.log(d_real) + (1 - t) * np.log(1 - d_real)) - np.mean(
        np.log(1 - d_fake)
    )
    args = (
        (REAL, FAKE)
        if from_logits
        else (d_real.astype("float32"), d_fake.astype("float32"))
    )
    got = losses.minimax_discriminator_loss(
        *args, from_logits=from_logits, label_smoothing=smoothing
    )
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # The Keras loss object on the mixed batch is half the two-mean form.
    obj = losses.MinimaxDiscriminatorLoss(
        from_logits=from_logits, label_smoothing=smoothing
    )
    y = np.concatenate([np.ones((8, 1)), np.zeros((8, 1))]).astype("float32")
    pred = np.concatenate(args)
    assert float(obj(y, pred)) == pytest.approx(expected / 2, rel=1e-5)


@pytest.mark.parametrize("from_logits", [True, False])
def test_generator_losses(from_logits):
    d_fake = sigmoid(FAKE)
    out = FAKE if from_logits else d_fake.astype("float32")
    assert float(losses.minimax_generator_loss(out, from_logits)) == pytest.approx(
        np.mean(np.log(1 - d_fake)), rel=1e-5
    )
    assert float(losses.non_saturating_generator_loss(out, from_logits)) == (
        pytest.approx(-np.mean(np.log(d_fake)), rel=1e-5)
    )
    ignored = np.zeros_like(out)
    assert float(losses.MinimaxGeneratorLoss(from_logits)(ignored, out)) == (
        pytest.approx(np.mean(np.log(1 - d_fake)), rel=1e-5)
    )
    assert float(losses.NonSaturatingGeneratorLoss(from_logits)(ignored, out)) == (
        pytest.approx(-np.mean(np.log(d_fake)), rel=1e-5)
    )


def test_stable_for_extreme_logits():
    big = np.array([[80.0], [-80.0]], "float32")
    for value in (
        losses.minimax_discriminator_loss(big, -big),
        losses.non_saturating_generator_loss(big),
        losses.minimax_generator_loss(big),
    ):
        assert np.isfinite(float(value))
    # log(1 - sigmoid(-80)) is about -1.8e-35, not -inf or a rounding artefact.
    assert float(losses.non_saturating_generator_loss(-big[:1])) == pytest.approx(80.0)


def test_loss_objects_serialize(tmp_path):
    for loss in (
        losses.MinimaxDiscriminatorLoss(label_smoothing=0.2),
        losses.MinimaxGeneratorLoss(from_logits=False),
        losses.NonSaturatingGeneratorLoss(),
    ):
        again = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(again) is type(loss)
        assert again.get_config() == loss.get_config()


def test_label_smoothing_checked():
    with pytest.raises(ValueError, match="label_smoothing.*Received"):
        losses.MinimaxDiscriminatorLoss(label_smoothing=1.0)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.minimax_discriminator_loss(REAL, FAKE, label_smoothing=-0.1)
