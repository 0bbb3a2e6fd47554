"""The GAN of the article as a `keras.Model` you train with `fit`, and a DCGAN.

Article §2.5 / §3.3 (生成对抗网络): a generator G and a discriminator D play

    min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))]

(Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661). `GAN` holds both
networks, alternates their updates inside `train_step`, and saves and loads
as one `.keras` file. `build_gan` makes the DCGAN pair of Radford et al.
2015 (https://arxiv.org/abs/1511.06434), optionally class-conditional
(Mirza & Osindero 2014, https://arxiv.org/abs/1411.1784).

Images live in [-1, 1] inside the game: the generator ends in tanh, and
`GAN.train_step` maps each real batch from `real_range` (0..255 by default,
what `data.image_folder` and `datasets.load_digits` give) onto [-1, 1].
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from keras_bigmodels import _validation as V
from keras_bigmodels._export import export, from_config_with_submodels
from keras_bigmodels.layers.minibatch_std import MinibatchStdDev
from keras_bigmodels.losses import gan as gan_losses

_GENERATOR_LOSSES = {
    "non_saturating": gan_losses.non_saturating_generator_loss,
    "minimax": gan_losses.minimax_generator_loss,
}


def _optimizer(identifier):
    """An optimizer (DCGAN's Adam by default), loss-scaled under float16."""
    opt = keras.optimizers.get(identifier or keras.optimizers.Adam(2e-4, beta_1=0.5))
    if keras.config.dtype_policy().name == "mixed_float16" and not isinstance(
        opt, keras.optimizers.LossScaleOptimizer
    ):
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


def _num_replicas():
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


@export
class GAN(keras.Model):
    """A generator and a discriminator trained against each other with `fit`.

    Article §2.5 / §3.3. Each `train_step` makes `d_steps` discriminator
    updates (each on the real batch and a fresh batch of fakes), then one
    generator update, and reports `d_loss`, `g_loss`, `d_real` = mean D(x)
    and `d_fake` = mean D(G(z)) (probabilities). Optimal play gives
    D = ½ everywhere.

    Args:
        generator: keras.Model. z (batch, latent_dim) -> images in [-1, 1];
            with `num_classes`, inputs [z, labels (batch,)].
        discriminator: keras.Model. images -> one logit per image (or a
            probability with `compile(from_logits=False)`); with
            `num_classes`, inputs [images, labels].
        latent_dim: int. Size of z.
        num_classes: int or None. Class-conditional when set: `fit` takes
            `(images, labels)` batches and `generate` takes `labels`.
        d_steps: int. Discriminator updates per generator update (the k of
            Goodfellow et al.'s algorithm 1).
        real_range: tuple (low, high). Value range of the real batches `fit`
            receives; mapped linearly onto the generator's [-1, 1].
        seed: int or None. Seed of the latent draws in training.
        **kwargs: standard `keras.Model` arguments.

    Example:

    >>> gan = build_gan((8, 8, 1), latent_dim=32)
    >>> gan.compile()  # Adam(2e-4, beta_1=0.5) for both, as in DCGAN
    >>> gan.fit(x_train, batch_size=64, epochs=1)  # doctest: +SKIP
    >>> gan.generate(16, seed=0).shape
    (16, 8, 8, 1)
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        num_classes=None,
        d_steps=1,
        real_range=(0.0, 255.0),
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = V.check_positive_int("latent_dim", latent_dim)
        self.num_classes = V.check_positive_int(
            "num_classes", num_classes, allow_none=True
        )
        self.d_steps = V.check_positive_int("d_steps", d_steps)
        if (
            not isinstance(real_range, (tuple, list))
            or len(real_range) != 2
            or not float(real_range[0]) < float(real_range[1])
        ):
            raise ValueError(
                "`real_range` must be (low, high) with low < high. "
                f"Received: real_range={real_range!r}"
            )
        self.real_range = (float(real_range[0]), float(real_range[1]))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        # The two functional networks already own every weight.
        self.built = generator.built and discriminator.built

    # ---- set-up -----------------------------------------------------------

    def compile(
        self,
        d_optimizer=None,
        g_optimizer=None,
        generator_loss="non_saturating",
        discriminator_loss="minimax",
        from_logits=True,
        label_smoothing=0.0,
        **kwargs,
    ):
        """Set the two optimizers and the two sides of the game.

        Args:
            d_optimizer: optimizer (or its name) of the discriminator;
                default Adam(2e-4, beta_1=0.5), the DCGAN setting.
            g_optimizer: the same for the generator.
            generator_loss: `"non_saturating"` (−E[log D(G(z))], the default
                used in practice), `"minimax"` (E[log(1 − D(G(z)))], the
                formula's own), a function `f(fake_output)`, or a Keras loss
                `L(y_true, y_pred)` called as `L(1, fake_output)`.
            discriminator_loss: `"minimax"` (−E[log D(x)] − E[log(1 − D(G(z)))]),
                a function `f(real_output, fake_output)`, or a Keras loss
                called as `L(1, real_output) + L(0, fake_output)`.
            from_logits: bool. Whether the discriminator outputs logits.
            label_smoothing: float in [0, 1). One-sided smoothing of the
                real targets in the `"minimax"` discriminator loss.
            **kwargs: passed to `keras.Model.compile` (e.g.
                `steps_per_execution`, `jit_compile`).
        """
        V.check_fraction("label_smoothing", label_smoothing, allow_none=False)
        if isinstance(generator_loss, str):
            V.check_choice("generator_loss", generator_loss, tuple(_GENERATOR_LOSSES))
        if isinstance(discriminator_loss, str):
            V.check_choice("discriminator_loss", discriminator_loss, ("minimax",))
        for name, value in (
            ("generator_loss", generator_loss),
            ("discriminator_loss", discriminator_loss),
        ):
            if not (isinstance(value, str) or callable(value)):
                raise ValueError(
                    f"`{name}` must be a name, a function or a Keras loss. "
                    f"Received: {name}={value!r}"
                )
        # No optimizer of Keras's own: the two below do all the updates.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = _optimizer(d_optimizer)
        self.g_optimizer = _optimizer(g_optimizer)
        self.generator_loss = generator_loss
        self.discriminator_loss = discriminator_loss
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self._gan_compile_config = {
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "generator_loss": keras.saving.serialize_keras_object(generator_loss),
            "discriminator_loss": keras.saving.serialize_keras_object(
                discriminator_loss
            ),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }

    def get_compile_config(self):
        return dict(getattr(self, "_gan_compile_config", {}))

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("generator_loss", "discriminator_loss"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        config["d_optimizer"] = keras.optimizers.deserialize(config["d_optimizer"])
        config["g_optimizer"] = keras.optimizers.deserialize(config["g_optimizer"])
        self.compile(**config)
        # Create the optimizers' slots now, so the saved state loads into them.
        self.build_optimizers()

    def build_optimizers(self):
        """Create both optimizers' variables (slots, iteration counts) now."""
        if not self.d_optimizer.built:
            self.d_optimizer.build(self.discriminator.trainable_variables)
        if not self.g_optimizer.built:
            self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_real_tracker,
            self.d_fake_tracker,
        ]

    # ---- the game ---------------------------------------------------------

    def call(self, inputs, training=None):
        """G(z), or G(z, labels) when class-conditional."""
        return self.generator(inputs, training=training)

    def _g_inputs(self, z, labels):
        if self.num_classes is None:
            return z
        return [z, ops.convert_to_tensor(labels, "int32")]

    def _d_inputs(self, images, labels):
        if self.num_classes is None:
            return images
        return [images, ops.convert_to_tensor(labels, "int32")]

    def _d_loss(self, real_out, fake_out):
        loss = self.discriminator_loss
        if loss == "minimax":
            return gan_losses.minimax_discriminator_loss(
                real_out,
                fake_out,
                from_logits=self.from_logits,
                label_smoothing=self.label_smoothing,
            )
        if isinstance(loss, keras.losses.Loss):
            return loss(ops.ones_like(real_out), real_out) + loss(
                ops.zeros_like(fake_out), fake_out
            )
        return loss(real_out, fake_out)

    def _g_loss(self, fake_out):
        loss = self.generator_loss
        if isinstance(loss, str):
            return _GENERATOR_LOSSES[loss](fake_out, self.from_logits)
        if isinstance(loss, keras.losses.Loss):
            return loss(ops.ones_like(fake_out), fake_out)
        return loss(fake_out)

    def _prob(self, output):
        output = ops.cast(output, "float32")
        return ops.mean(ops.sigmoid(output) if self.from_logits else output)

    def _to_unit_range(self, images):
        low, high = self.real_range
        images = ops.cast(images, "float32")
        return (images - low) * (2.0 / (high - low)) - 1.0

    def to_real_range(self, generated):
        """Map generator output in [-1, 1] back onto `real_range` (NumPy float32)."""
        low, high = self.real_range
        return (np.asarray(generated, "float32") + 1.0) * ((high - low) / 2.0) + low

    def _latent(self, batch_size):
        return keras.random.normal(
            (batch_size, self.latent_dim), seed=self.seed_generator
        )

    def d_step(self, real, labels=None):
        """One discriminator update on real images (in [-1, 1]) and fresh fakes.

        Only the discriminator's weights move: it learns to tell x from G(z).
        Returns (d_loss, mean D(x), mean D(G(z))).
        """
        import tensorflow as tf

        batch = ops.shape(real)[0]
        fake = self.generator(
            self._g_inputs(self._latent(batch), labels), training=True
        )
        with tf.GradientTape() as tape:
            real_out = self.discriminator(self._d_inputs(real, labels), training=True)
            fake_out = self.discriminator(self._d_inputs(fake, labels), training=True)
            loss = self._d_loss(real_out, fake_out)
            scaled = self.d_optimizer.scale_loss(loss / _num_replicas())
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply(tape.gradient(scaled, weights), weights)
        return loss, self._prob(real_out), self._prob(fake_out)

    def g_step(self, batch_size, labels=None):
        """One generator update through a fixed discriminator.

        Only the generator's weights move: it learns to make D(G(z)) large.
        Returns g_loss.
        """
        import tensorflow as tf

        z = self._latent(batch_size)
        with tf.GradientTape() as tape:
            fake = self.generator(self._g_inputs(z, labels), training=True)
            fake_out = self.discriminator(self._d_inputs(fake, labels), training=True)
            loss = self._g_loss(fake_out)
            scaled = self.g_optimizer.scale_loss(loss / _num_replicas())
        weights = self.generator.trainable_weights
        self.g_optimizer.apply(tape.gradient(scaled, weights), weights)
        return loss

    def _unpack(self, data):
        if isinstance(data, (tuple, list)):
            real, labels = data[0], (data[1] if len(data) > 1 else None)
        else:
            real, labels = data, None
        if self.num_classes is not None and labels is None:
            raise ValueError(
                "A class-conditional GAN (num_classes="
                f"{self.num_classes}) trains on (images, labels) batches. "
                "Received images only."
            )
        if self.num_classes is None:
            labels = None
        return self._to_unit_range(real), labels

    def train_step(self, data):
        real, labels = self._unpack(data)
        for _ in range(self.d_steps):
            d_loss, d_real, d_fake = self.d_step(real, labels)
        g_loss = self.g_step(ops.shape(real)[0], labels)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(d_real)
        self.d_fake_tracker.update_state(d_fake)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        real, labels = self._unpack(data)
        batch = ops.shape(real)[0]
        fake = self.generator(self._g_inputs(self._latent(batch), labels))
        real_out = self.discriminator(self._d_inputs(real, labels))
        fake_out = self.discriminator(self._d_inputs(fake, labels))
        self.d_loss_tracker.update_state(self._d_loss(real_out, fake_out))
        self.g_loss_tracker.update_state(self._g_loss(fake_out))
        self.d_real_tracker.update_state(self._prob(real_out))
        self.d_fake_tracker.update_state(self._prob(fake_out))
        return {m.name: m.result() for m in self.metrics}

    # ---- use --------------------------------------------------------------

    def generate(self, n, *, seed=None, labels=None, batch_size=256):
        """n generated images as a float32 NumPy array in [-1, 1].

        Args:
            n: int. How many.
            seed: int or None. The same seed gives the same images; None
                draws from the model's own seed stream.
            labels: int, or array (n,) of class ids, for a class-conditional
                GAN; None cycles through the classes 0, 1, 2, ...
            batch_size: int.

        Returns:
            np.ndarray (n, height, width, channels).
        """
        V.check_positive_int("n", n)
        if seed is not None:
            z = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        else:
            z = keras.ops.convert_to_numpy(self._latent(n))
        z = z.astype("float32")
        inputs = z
        if self.num_classes is not None:
            if labels is None:
                labels = np.arange(n) % self.num_classes
            labels = np.broadcast_to(np.asarray(labels, "int32"), (n,))
            if labels.min() < 0 or labels.max() >= self.num_classes:
                raise ValueError(
                    f"`labels` must lie in [0, {self.num_classes}). "
                    f"Received: labels with range [{labels.min()}, {labels.max()}]"
                )
            inputs = [z, labels]
        elif labels is not None:
            raise ValueError(
                "`labels` is for a class-conditional GAN (num_classes set). "
                f"Received: labels={labels!r}"
            )
        out = self.generator.predict(inputs, batch_size=batch_size, verbose=0)
        return np.asarray(out, "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.layers.serialize(self.generator),
                "discriminator": keras.layers.serialize(self.discriminator),
                "latent_dim": self.latent_dim,
                "num_classes": self.num_classes,
                "d_steps": self.d_steps,
                "real_range": list(self.real_range),
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return from_config_with_submodels(cls, config, ("generator", "discriminator"))


def _generator(image_shape, *, latent_dim, num_classes, filters):
    h, w, c = image_shape
    z_in = keras.Input((latent_dim,), name="z")
    inputs, x = [z_in], z_in
    if num_classes:
        label_in = keras.Input((), dtype="int32", name="label")
        inputs.append(label_in)
        # (batch, latent_dim) label embedding, concatenated to z.
        emb = layers.Embedding(num_classes, latent_dim, name="g_label_embedding")
        x = layers.Concatenate(name="g_concat")([z_in, emb(label_in)])
    x = layers.Dense((h // 4) * (w // 4) * 2 * filters, use_bias=False, name="g_dense")(
        x
    )
    x = layers.BatchNormalization(name="g_dense_bn")(x)
    x = layers.ReLU(name="g_dense_relu")(x)
    x = layers.Reshape((h // 4, w // 4, 2 * filters), name="g_reshape")(x)
    # (batch, h/4, w/4, 2f) -> (batch, h/2, w/2, 2f) -> (batch, h, w, f)
    for i, f in enumerate((2 * filters, filters), 1):
        x = layers.Conv2DTranspose(
            f, 4, strides=2, padding="same", use_bias=False, name=f"g_deconv{i}"
        )(x)
        x = layers.BatchNormalization(name=f"g_deconv{i}_bn")(x)
        x = layers.ReLU(name=f"g_deconv{i}_relu")(x)
    x = layers.Conv2D(c, 3, padding="same", name="g_pixels")(x)
    # float32 tanh even under mixed precision: the images leave in [-1, 1].
    x = layers.Activation("tanh", dtype="float32", name="g_tanh")(x)
    return keras.Model(inputs if num_classes else z_in, x, name="generator")


def _discriminator(image_shape, *, num_classes, filters, dropout, minibatch_std):
    h, w, c = image_shape
    x_in = keras.Input(image_shape, name="image")
    inputs, x = [x_in], x_in
    if num_classes:
        label_in = keras.Input((), dtype="int32", name="label")
        inputs.append(label_in)
        # The label as one extra image channel: (batch, h, w, 1).
        emb = layers.Embedding(num_classes, h * w, name="d_label_embedding")(label_in)
        emb = layers.Reshape((h, w, 1), name="d_label_plane")(emb)
        x = layers.Concatenate(name="d_concat")([x_in, emb])
    # No batch norm: real and fake batches pass separately, and BN statistics
    # of one-sided batches let D tell them apart by the batch, not the image.
    for i, f in enumerate((filters, 2 * filters), 1):
        x = layers.Conv2D(f, 4, strides=2, padding="same", name=f"d_conv{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"d_conv{i}_lrelu")(x)
    if minibatch_std:
        # (batch, h/4, w/4, 2f + 1): the batch's variety as one more feature.
        x = MinibatchStdDev(name="d_minibatch_std")(x)
        x = layers.Conv2D(2 * filters, 3, padding="same", name="d_conv3")(x)
        x = layers.LeakyReLU(0.2, name="d_conv3_lrelu")(x)
    x = layers.Flatten(name="d_flatten")(x)
    x = layers.Dropout(dropout, name="d_dropout")(x)
    x = layers.Dense(1, dtype="float32", name="d_logit")(x)
    return keras.Model(inputs if num_classes else x_in, x, name="discriminator")


def build_gan(
    input_shape,
    *,
    latent_dim: int = 64,
    num_classes: int | None = None,
    filters: int = 64,
    dropout: float = 0.3,
    minibatch_std: bool = True,
    d_steps: int = 1,
    real_range=(0.0, 255.0),
    seed: int | None = None,
    name: str = "gan",
):
    """A DCGAN for grayscale or RGB images whose sides are multiples of 4.

    Article §2.5 / §3.3. Generator: z -> Dense -> (h/4, w/4) feature map ->
    two stride-2 transposed convolutions with batch norm and ReLU -> tanh
    image. Discriminator: two stride-2 convolutions with LeakyReLU(0.2) ->
    dropout -> one logit. With `num_classes`, both networks also take the
    class label (a conditional GAN).

    Args:
        input_shape: tuple (height, width, channels) of the images, channels 1
            or 3,
            height and width multiples of 4.
        latent_dim: int. Size of z.
        num_classes: int or None. Class-conditional when set.
        filters: int. Width of the networks (the generator's last block and
            the discriminator's first; the others use 2x).
        dropout: float in [0, 1). Discriminator dropout before its logit.
        minibatch_std: bool. Give the discriminator a `MinibatchStdDev`
            feature and one more convolution, against mode collapse.
        d_steps: int. Discriminator updates per generator update.
        real_range: (low, high). Value range of the real images fed to `fit`.
        seed: int or None. Latent-draw seed in training.
        name: str.

    Returns:
        An uncompiled `GAN`; `gan.compile()` gives the DCGAN optimizers.

    Example:

    >>> gan = build_gan((8, 8, 1), latent_dim=32, num_classes=10)
    >>> gan.generator.input_shape, gan.discriminator.output_shape
    ([(None, 32), (None,)], (None, 1))
    """
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or any(isinstance(d, bool) or not isinstance(d, int) for d in input_shape)
        or input_shape[0] <= 0
        or input_shape[1] <= 0
        or input_shape[0] % 4
        or input_shape[1] % 4
        or input_shape[2] not in (1, 3)
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with height and "
            "width positive multiples of 4 and channels 1 or 3. "
            f"Received: input_shape={input_shape!r}"
        )
    V.check_positive_int("latent_dim", latent_dim)
    V.check_positive_int("num_classes", num_classes, allow_none=True)
    V.check_positive_int("filters", filters)
    V.check_fraction("dropout", dropout, allow_none=False)
    input_shape = tuple(input_shape)
    return GAN(
        _generator(
            input_shape, latent_dim=latent_dim, num_classes=num_classes, filters=filters
        ),
        _discriminator(
            input_shape,
            num_classes=num_classes,
            filters=filters,
            dropout=dropout,
            minibatch_std=minibatch_std,
        ),
        latent_dim=latent_dim,
        num_classes=num_classes,
        d_steps=d_steps,
        real_range=real_range,
        seed=seed,
        name=name,
    )
