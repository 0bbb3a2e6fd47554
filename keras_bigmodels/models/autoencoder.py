"""Autoencoders: dense, convolutional, denoising and variational.

Article §2.6 / §3.4 (自编码器): an encoder maps x to a code z = f(x), a
decoder maps it back, x̂ = g(z), and both are trained to make x̂ close to x.
The variational autoencoder (Kingma & Welling 2013,
https://arxiv.org/abs/1312.6114) makes the code a distribution and samples
it with the reparameterization trick, z = μ + σ·ε.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from keras_bigmodels import _validation as V
from keras_bigmodels._export import export, from_config_with_submodels

KINDS = ("dense", "conv", "denoising", "variational")


@export
class Autoencoder(keras.Model):
    """An encoder and a decoder trained to reconstruct the input.

    Args:
        encoder: keras.Model. x -> z.
        decoder: keras.Model. z -> x̂.
        noise_stddev: float. Gaussian noise added to the input in training
            only (a denoising autoencoder); 0 for none.
        **kwargs: standard `keras.Model` arguments.

    The sub-models work on their own: `model.encoder.predict(x)` gives codes,
    `model.decoder.predict(z)` images.
    """

    def __init__(self, encoder, decoder, noise_stddev=0.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.noise_stddev = V.check_non_negative("noise_stddev", noise_stddev)
        self._noise = layers.GaussianNoise(noise_stddev) if noise_stddev else None
        # The functional encoder and decoder already own every weight.
        self.built = encoder.built and decoder.built

    def call(self, inputs, training=None):
        x = inputs
        if self._noise is not None:
            x = self._noise(x, training=training)
        return self.decoder(self.encoder(x, training=training), training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.layers.serialize(self.encoder),
                "decoder": keras.layers.serialize(self.decoder),
                "noise_stddev": self.noise_stddev,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return from_config_with_submodels(cls, config, ("encoder", "decoder"))


@export
class VariationalAutoencoder(Autoencoder):
    """A VAE: the encoder gives (μ, log σ²); z = μ + σ·ε is decoded.

    Trained on reconstruction (squared error summed over the pixels) plus
    the KL divergence of q(z|x) from N(0, I),
    KL = −½ Σ (1 + log σ² − μ² − σ²), both reported as metrics. In
    inference `call` decodes μ, so reconstructions are deterministic.

    Args:
        encoder: keras.Model. x -> [z_mean, z_log_var].
        decoder: keras.Model. z -> x̂.
        beta: float. Weight of the KL term (1 is the VAE of the paper).
        seed: int or None. Seed of the ε draws.
    """

    def __init__(self, encoder, decoder, beta=1.0, seed=None, **kwargs):
        kwargs.pop("noise_stddev", None)
        super().__init__(encoder, decoder, **kwargs)
        self.beta = V.check_non_negative("beta", beta)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.total_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.total_tracker, self.reconstruction_tracker, self.kl_tracker]

    def sample_code(self, z_mean, z_log_var):
        # Reparameterization: the randomness is in ε, so gradients reach μ, σ.
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def call(self, inputs, training=None):
        z_mean, z_log_var = self.encoder(inputs, training=training)
        z = self.sample_code(z_mean, z_log_var) if training else z_mean
        return self.decoder(z, training=training)

    def _loss_terms(self, x, training):
        z_mean, z_log_var = self.encoder(x, training=training)
        recon = self.decoder(self.sample_code(z_mean, z_log_var), training=training)
        # (batch,) sums over every non-batch axis.
        sq = ops.reshape(
            ops.square(ops.cast(x, recon.dtype) - recon), (ops.shape(x)[0], -1)
        )
        reconstruction = ops.mean(ops.sum(sq, axis=-1))
        kl = ops.mean(
            -0.5
            * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
        )
        return reconstruction, kl

    def train_step(self, data):
        import tensorflow as tf

        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            reconstruction, kl = self._loss_terms(x, training=True)
            total = reconstruction + self.beta * kl
        # Encoder and decoder move together on the evidence lower bound.
        grads = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        return self._track(total, reconstruction, kl)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        reconstruction, kl = self._loss_terms(x, training=False)
        return self._track(reconstruction + self.beta * kl, reconstruction, kl)

    def _track(self, total, reconstruction, kl):
        self.total_tracker.update_state(total)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        config = super().get_config()
        config.pop("noise_stddev", None)
        config.update({"beta": self.beta, "seed": self.seed})
        return config


def _code_head(x, latent_dim, variational):
    """The encoder's last layer: one code, or (z_mean, z_log_var) for a VAE."""
    if variational:
        return [
            layers.Dense(latent_dim, name="z_mean")(x),
            layers.Dense(latent_dim, name="z_log_var")(x),
        ]
    return layers.Dense(latent_dim, name="code")(x)


def _dense_parts(input_shape, *, latent_dim, hidden, linear, variational):
    flat = int(np.prod(input_shape))
    act = None if linear else "relu"
    x_in = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(x_in)
    for i, units in enumerate(hidden, 1):
        x = layers.Dense(units, activation=act, name=f"enc_dense{i}")(x)
    codes = _code_head(x, latent_dim, variational)
    encoder = keras.Model(x_in, codes, name="encoder")
    z_in = keras.Input((latent_dim,), name="code")
    y = z_in
    for i, units in enumerate(reversed(hidden), 1):
        y = layers.Dense(units, activation=act, name=f"dec_dense{i}")(y)
    y = layers.Dense(flat, activation=None if linear else "sigmoid", name="pixels")(y)
    y = layers.Reshape(input_shape, name="image")(y)
    return encoder, keras.Model(z_in, y, name="decoder")


def _conv_parts(input_shape, latent_dim, filters):
    h, w, c = input_shape
    if h % 4 or w % 4:
        raise ValueError(
            "A convolutional autoencoder needs height and width that "
            f"are multiples of 4. Received: input_shape={input_shape}"
        )
    x_in = keras.Input(input_shape, name="image")
    x = x_in
    for i, f in enumerate(filters, 1):
        x = layers.Conv2D(
            f, 3, strides=2, padding="same", activation="relu", name=f"enc_conv{i}"
        )(x)
    x = layers.Flatten(name="flatten")(x)
    codes = _code_head(x, latent_dim, variational=False)
    encoder = keras.Model(x_in, codes, name="encoder")
    z_in = keras.Input((latent_dim,), name="code")
    y = layers.Dense(
        (h // 4) * (w // 4) * filters[-1], activation="relu", name="dec_dense"
    )(z_in)
    y = layers.Reshape((h // 4, w // 4, filters[-1]), name="dec_reshape")(y)
    for i, f in enumerate(reversed(filters), 1):
        y = layers.Conv2DTranspose(
            f, 3, strides=2, padding="same", activation="relu", name=f"dec_deconv{i}"
        )(y)
    y = layers.Conv2D(c, 3, padding="same", activation="sigmoid", name="pixels")(y)
    return encoder, keras.Model(z_in, y, name="decoder")


def build_autoencoder(
    input_shape,
    *,
    latent_dim: int = 16,
    kind: str = "dense",
    hidden=(256, 128),
    filters=(32, 64),
    linear: bool = False,
    noise_stddev: float = 0.2,
    beta: float = 1.0,
    seed: int | None = None,
    name: str | None = None,
):
    """An autoencoder for inputs scaled to [0, 1], with `.encoder` and `.decoder`.

    Article §2.6 / §3.4. `"dense"` and `"denoising"` use Dense layers (the
    denoising one adds Gaussian noise to its input while training);
    `"conv"` uses strided convolutions (height and width multiples of 4);
    `"variational"` is a dense VAE.

    Args:
        input_shape: tuple. One sample's shape, e.g. (8, 8, 1).
        latent_dim: int. Code size.
        kind: `"dense"`, `"conv"`, `"denoising"` or `"variational"`.
        hidden: tuple of ints. Dense layer sizes of the encoder (mirrored).
        filters: tuple of 2 ints. Conv filters (`kind="conv"`).
        linear: bool. No activations at all (`"dense"` only): the model PCA
            is the optimum of.
        noise_stddev: float. Input noise of `"denoising"`.
        beta: float. KL weight of `"variational"`.
        seed: int or None. ε seed of `"variational"`.
        name: str or None.

    Returns:
        An `Autoencoder` (or `VariationalAutoencoder`). Compile dense, conv
        and denoising ones with `loss="mse"`; the VAE brings its own loss.

    Example:

    >>> ae = build_autoencoder((8, 8, 1), latent_dim=8)
    >>> ae.encoder.output_shape, ae.decoder.output_shape
    ((None, 8), (None, 8, 8, 1))
    """
    V.check_choice("kind", kind, KINDS)
    V.check_positive_int("latent_dim", latent_dim)
    if not isinstance(input_shape, (tuple, list)) or not all(
        isinstance(d, int) and d > 0 for d in input_shape
    ):
        raise ValueError(
            "`input_shape` must be a tuple of positive integers. "
            f"Received: input_shape={input_shape!r}"
        )
    hidden = V.check_int_sequence("hidden", hidden, allow_empty=True)
    filters = V.check_int_sequence("filters", filters)
    if linear and kind != "dense":
        raise ValueError(f"`linear=True` is for kind='dense'. Received: kind={kind!r}")
    input_shape = tuple(input_shape)
    if kind == "conv":
        if len(input_shape) != 3:
            raise ValueError(
                "kind='conv' needs input_shape (height, width, channels). "
                f"Received: input_shape={input_shape}"
            )
        encoder, decoder = _conv_parts(input_shape, latent_dim, filters)
    else:
        encoder, decoder = _dense_parts(
            input_shape,
            latent_dim=latent_dim,
            hidden=() if linear else hidden,
            linear=linear,
            variational=kind == "variational",
        )
    if kind == "variational":
        return VariationalAutoencoder(
            encoder, decoder, beta=beta, seed=seed, name=name or "vae"
        )
    return Autoencoder(
        encoder,
        decoder,
        noise_stddev=noise_stddev if kind == "denoising" else 0.0,
        name=name or f"{kind}_autoencoder",
    )


def reconstruction_error(model, x, batch_size: int = 256) -> np.ndarray:
    """Mean squared reconstruction error per sample: an anomaly score.

    Args:
        model: an autoencoder from `build_autoencoder`.
        x: array (N, ...) scaled like the training data.

    Returns:
        float64 array (N,).
    """
    x = np.asarray(x, "float32")
    recon = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), "float64")
    return np.mean(np.square(recon - x).reshape(len(x), -1), axis=1)
