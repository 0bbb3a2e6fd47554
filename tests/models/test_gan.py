import keras
import numpy as np
import pytest

from keras_bigmodels import load_model
from keras_bigmodels.layers import MinibatchStdDev
from keras_bigmodels.losses import (
    MinimaxDiscriminatorLoss,
    non_saturating_generator_loss,
)
from keras_bigmodels.models.gan import GAN, build_gan

RNG = np.random.default_rng(0)
REAL = RNG.integers(0, 256, (16, 8, 8, 1)).astype("uint8")
LABELS = RNG.integers(0, 3, 16)


def tiny_gan(num_classes=None, **kwargs):
    gan = build_gan(
        (8, 8, 1), latent_dim=4, num_classes=num_classes, filters=4, seed=0, **kwargs
    )
    gan.compile(
        keras.optimizers.Adam(1e-2, beta_1=0.5), keras.optimizers.Adam(1e-2, beta_1=0.5)
    )
    return gan


def weights(model):
    return [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]


def changed(before, model):
    return [
        not np.allclose(a, keras.ops.convert_to_numpy(b))
        for a, b in zip(before, model.trainable_weights, strict=True)
    ]


@pytest.mark.parametrize("num_classes", [None, 3])
def test_each_phase_moves_only_its_own_network(num_classes):
    gan = tiny_gan(num_classes)
    labels = LABELS if num_classes else None
    real = gan._to_unit_range(REAL)
    g0, d0 = weights(gan.generator), weights(gan.discriminator)
    gan.d_step(real, labels)
    assert all(changed(d0, gan.discriminator))  # every D weight moved
    assert not any(changed(g0, gan.generator))  # no G weight did
    g1, d1 = weights(gan.generator), weights(gan.discriminator)
    gan.g_step(16, labels)
    assert all(changed(g1, gan.generator))
    assert not any(changed(d1, gan.discriminator))


@pytest.mark.large
def test_d_steps_discriminator_updates_per_generator_update():
    gan = tiny_gan(d_steps=3)
    gan.fit(REAL, batch_size=8, epochs=1, verbose=0)  # 2 batches
    assert int(gan.d_optimizer.iterations) == 6
    assert int(gan.g_optimizer.iterations) == 2


@pytest.mark.large
def test_fit_reports_the_game_metrics_and_their_values():
    gan = tiny_gan()
    hist = gan.fit(REAL, batch_size=16, epochs=1, verbose=0).history
    assert set(hist) == {"d_loss", "g_loss", "d_real", "d_fake"}
    # Evaluate at fixed weights against the formulas, with the same z the
    # model draws: d_real is the mean sigmoid of D's logits on real images.
    real = np.asarray(gan._to_unit_range(REAL))
    logits = np.asarray(gan.discriminator(real)).astype("float64")
    expected = np.mean(1 / (1 + np.exp(-logits)))
    result = gan.evaluate(REAL, batch_size=16, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["d_real"], expected, rtol=1e-5)
    assert 0 < result["d_fake"] < 1 and result["d_loss"] > 0


def test_real_range_maps_onto_tanh_range():
    gan = tiny_gan()
    out = np.asarray(gan._to_unit_range(np.array([0, 127.5, 255.0])))
    np.testing.assert_allclose(out, [-1, 0, 1], atol=1e-6)


def test_generate_is_seeded_and_in_range():
    gan = tiny_gan()
    a, b = gan.generate(5, seed=3), gan.generate(5, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 8, 8, 1) and a.min() >= -1 and a.max() <= 1
    assert not np.allclose(a, gan.generate(5, seed=4))


def test_conditional_generate_labels_and_checks():
    gan = tiny_gan(num_classes=3)
    assert gan.generate(4, seed=0, labels=2).shape == (4, 8, 8, 1)
    with pytest.raises(ValueError, match="labels"):
        gan.generate(2, labels=[0, 5])
    with pytest.raises(ValueError, match="labels"):
        tiny_gan().generate(2, labels=1)
    with pytest.raises(ValueError, match="labels"):
        gan.fit(REAL, batch_size=8, epochs=1, verbose=0)


@pytest.mark.large
def test_gan_round_trip_keeps_networks_and_optimizers(tmp_path):
    gan = tiny_gan(num_classes=3)
    gan.fit(REAL, LABELS, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, GAN) and loaded.num_classes == 3
    np.testing.assert_allclose(
        loaded.generate(6, seed=1), gan.generate(6, seed=1), atol=1e-6
    )
    x = np.asarray(gan._to_unit_range(REAL))
    np.testing.assert_allclose(
        loaded.discriminator.predict([x, LABELS], verbose=0),
        gan.discriminator.predict([x, LABELS], verbose=0),
        atol=1e-6,
    )
    assert int(loaded.d_optimizer.iterations) == int(gan.d_optimizer.iterations) == 2
    # and it trains on from where it stopped
    loaded.fit(REAL, LABELS, batch_size=8, epochs=1, verbose=0)
    assert int(loaded.g_optimizer.iterations) == 4


@pytest.mark.large
def test_custom_losses_function_and_keras_loss_forms():
    gan = tiny_gan()
    gan.compile(
        generator_loss=non_saturating_generator_loss,
        discriminator_loss=MinimaxDiscriminatorLoss(label_smoothing=0.1),
    )
    hist = gan.fit(REAL, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(hist["d_loss"][0]) and np.isfinite(hist["g_loss"][0])
    # The Keras-loss form (1 for real, 0 for fake) equals the function form.
    from keras_bigmodels.losses import minimax_discriminator_loss

    r, f = RNG.normal(size=(8, 1)), RNG.normal(size=(8, 1))
    np.testing.assert_allclose(
        float(gan._d_loss(r, f)),
        float(minimax_discriminator_loss(r, f, label_smoothing=0.1)),
        rtol=1e-6,
    )


@pytest.mark.large
def test_trains_inside_a_strategy_scope():
    import tensorflow as tf

    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        gan = tiny_gan()
    hist = gan.fit(REAL, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(hist["g_loss"][0])


def test_minibatch_std_matches_numpy_and_round_trips(tmp_path):
    x = RNG.normal(size=(6, 3, 3, 2)).astype("float32")
    out = np.asarray(MinibatchStdDev()(x))
    expected = np.mean(np.sqrt(x.var(axis=0) + 1e-8))
    assert out.shape == (6, 3, 3, 3)
    np.testing.assert_allclose(out[..., :2], x)
    np.testing.assert_allclose(out[..., 2], expected, rtol=1e-5)
    inp = keras.Input((3, 3, 2))
    model = keras.Model(inp, MinibatchStdDev(epsilon=1e-6)(inp))
    from tests.helpers import run_layer_checks

    loaded = run_layer_checks(model, x, tmp_path)
    assert loaded.layers[-1].epsilon == 1e-6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"input_shape": (10, 8, 1)}, "input_shape"),
        ({"input_shape": (8, 8, 2)}, "input_shape"),
        ({"input_shape": (8, 8)}, "input_shape"),
        ({"input_shape": (8, 8, 1), "latent_dim": 0}, "latent_dim"),
        ({"input_shape": (8, 8, 1), "dropout": 1.0}, "dropout"),
        ({"input_shape": (8, 8, 1), "d_steps": 0}, "d_steps"),
        ({"input_shape": (8, 8, 1), "real_range": (1, 0)}, "real_range"),
    ],
)
def test_build_gan_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_gan(**kwargs)


def test_compile_validates():
    gan = build_gan((8, 8, 1), latent_dim=4, filters=4)
    with pytest.raises(ValueError, match="generator_loss"):
        gan.compile(generator_loss="wasserstein")
    with pytest.raises(ValueError, match="label_smoothing"):
        gan.compile(label_smoothing=1.5)


def test_rgb_builder_shapes():
    gan = build_gan((16, 12, 3), latent_dim=8, filters=4)
    assert gan.generator.output_shape == (None, 16, 12, 3)
    assert gan.discriminator.output_shape == (None, 1)


@pytest.mark.large
def test_trains_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        gan = tiny_gan()
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
        hist = gan.fit(REAL, batch_size=8, epochs=1, verbose=0).history
        images = gan.generate(3, seed=0)
    finally:
        keras.config.set_dtype_policy("float32")
    assert np.isfinite(hist["d_loss"][0]) and np.isfinite(hist["g_loss"][0])
    assert images.dtype == np.float32 and np.abs(images).max() <= 1
