import numpy as np
import pytest

from keras_bigmodels.models.autoencoder import (
    Autoencoder,
    VariationalAutoencoder,
    build_autoencoder,
    reconstruction_error,
)
from tests.helpers import run_layer_checks

RNG = np.random.default_rng(0)
X = RNG.random((16, 8, 8, 1)).astype("float32")


@pytest.mark.large
@pytest.mark.parametrize("kind", ["dense", "conv", "denoising"])
def test_encoder_decoder_shapes_and_round_trip(kind, tmp_path):
    ae = build_autoencoder(
        (8, 8, 1), latent_dim=4, kind=kind, hidden=(16,), filters=(4, 8)
    )
    assert isinstance(ae, Autoencoder)
    assert ae.encoder.output_shape == (None, 4)
    assert ae.decoder.output_shape == (None, 8, 8, 1)
    z = ae.encoder.predict(X, verbose=0)
    np.testing.assert_allclose(
        ae.decoder.predict(z, verbose=0), ae.predict(X, verbose=0), atol=1e-6
    )
    loaded = run_layer_checks(ae, X, tmp_path)
    assert isinstance(loaded, Autoencoder) and loaded.encoder.name == "encoder"


def test_denoising_noise_only_in_training():
    ae = build_autoencoder(
        (8, 8, 1), latent_dim=4, kind="denoising", hidden=(16,), noise_stddev=0.5
    )
    a = np.asarray(ae(X, training=False))
    np.testing.assert_allclose(a, np.asarray(ae(X, training=False)))
    assert not np.allclose(a, np.asarray(ae(X, training=True)))


def test_vae_reports_both_terms_and_round_trips(tmp_path):
    vae = build_autoencoder(
        (8, 8, 1), latent_dim=2, kind="variational", hidden=(16,), seed=0
    )
    assert isinstance(vae, VariationalAutoencoder)
    z_mean, z_log_var = vae.encoder.predict(X, verbose=0)
    assert z_mean.shape == z_log_var.shape == (16, 2)
    vae.compile(optimizer="adam")
    hist = vae.fit(X, epochs=2, batch_size=8, verbose=0).history
    assert {"loss", "reconstruction_loss", "kl_loss"} <= set(hist)
    np.testing.assert_allclose(
        hist["loss"][-1],
        hist["reconstruction_loss"][-1] + hist["kl_loss"][-1],
        rtol=1e-4,
    )
    # Inference decodes the mean: deterministic.
    np.testing.assert_allclose(vae.predict(X, verbose=0), vae.predict(X, verbose=0))
    path = tmp_path / "vae.keras"
    vae.save(path)
    from keras_bigmodels import load_model

    again = load_model(path)
    assert isinstance(again, VariationalAutoencoder)
    np.testing.assert_allclose(
        again.predict(X, verbose=0), vae.predict(X, verbose=0), atol=1e-6
    )


def test_kl_term_matches_the_formula():
    vae = build_autoencoder(
        (8, 8, 1), latent_dim=3, kind="variational", hidden=(8,), seed=1
    )
    mu, logvar = (np.asarray(t, "float64") for t in vae.encoder(X))
    expected = np.mean(-0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1))
    _, kl = vae._loss_terms(X, training=False)
    assert float(kl) == pytest.approx(expected, rel=1e-4)


def test_reconstruction_error_per_sample():
    ae = build_autoencoder((8, 8, 1), latent_dim=4, hidden=(8,))
    err = reconstruction_error(ae, X)
    recon = ae.predict(X, verbose=0)
    np.testing.assert_allclose(
        err, ((recon - X) ** 2).reshape(16, -1).mean(1), rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"kind": "sparse"}, "kind"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"kind": "conv", "input_shape": (6, 8, 1)}, "multiples of 4"),
        ({"kind": "conv", "linear": True}, "linear"),
    ],
)
def test_invalid_arguments(kwargs, name):
    kwargs = {"input_shape": (8, 8, 1), **kwargs}
    with pytest.raises(ValueError, match=name):
        build_autoencoder(**kwargs)
