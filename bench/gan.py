"""GAN training speed: `GAN.fit` against a hand-written `tf.GradientTape` loop.

Both train the same DCGAN networks (`build_gan`, same seed) on the same
batches of the bundled digits, one discriminator and one generator update
per batch, with the same optimizers and losses. The hand loop is what
tutorials write: a `@tf.function` step with two tapes, called from a Python
loop over a `tf.data` dataset. `fit` is called once for 1 + repeats epochs,
as a training run calls it; each variant's first pass (tracing) is excluded
and the best later pass is reported.
Each variant runs with and without XLA (`jit_compile`); the setting `train gan`
resolves to on this machine is marked (XLA only where a GPU is used).

Usage: python bench/gan.py [--steps 200] [--batch 64] [--filters 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_bigmodels import set_seed  # noqa: E402
from keras_bigmodels.datasets import load_digits  # noqa: E402
from keras_bigmodels.losses import (  # noqa: E402
    minimax_discriminator_loss,
    non_saturating_generator_loss,
)
from keras_bigmodels.models.gan import build_gan  # noqa: E402
from keras_bigmodels.training.precision import xla_setting  # noqa: E402


def dataset(x, batch, steps):
    """`steps` batches of real digits in [-1, 1], float32, from memory."""
    x = x.astype("float32") / 127.5 - 1.0
    reps = int(np.ceil(steps * batch / len(x)))
    x = np.concatenate([x] * reps)[: steps * batch]
    return tf.data.Dataset.from_tensor_slices(x).batch(batch).cache()


def make_gan(args):
    set_seed(0)
    # real_range (-1, 1): the batches are already scaled, as in the hand loop.
    return build_gan(
        (8, 8, 1), latent_dim=64, filters=args.filters, real_range=(-1, 1), seed=0
    )


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, from its first batch to its end."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def fit_steps_per_second(ds, args, jit):
    gan = make_gan(args)
    gan.compile(
        keras.optimizers.Adam(2e-4, beta_1=0.5),
        keras.optimizers.Adam(2e-4, beta_1=0.5),
        jit_compile=jit,
    )
    # One fit call, as in training: epoch 1 traces, the others are timed.
    timer = EpochTimer()
    gan.fit(ds, epochs=1 + args.repeats, verbose=0, callbacks=[timer])
    return max(args.steps / t for t in timer.seconds[1:])


def hand_loop_steps_per_second(ds, args, jit):
    gan = make_gan(args)
    generator, discriminator = gan.generator, gan.discriminator
    d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)

    @tf.function(jit_compile=jit)
    def train_step(real):
        batch = tf.shape(real)[0]
        z = tf.random.normal((batch, 64))
        fake = generator(z, training=True)
        with tf.GradientTape() as tape:
            d_loss = minimax_discriminator_loss(
                discriminator(real, training=True), discriminator(fake, training=True)
            )
        grads = tape.gradient(d_loss, discriminator.trainable_weights)
        d_opt.apply(grads, discriminator.trainable_weights)
        z = tf.random.normal((batch, 64))
        with tf.GradientTape() as tape:
            g_loss = non_saturating_generator_loss(
                discriminator(generator(z, training=True), training=True)
            )
        grads = tape.gradient(g_loss, generator.trainable_weights)
        g_opt.apply(grads, generator.trainable_weights)
        return d_loss, g_loss

    def one_pass():
        for real in ds:
            d_loss, g_loss = train_step(real)
        float(g_loss)  # wait for the last step

    one_pass()  # trace
    best = 0.0
    for _ in range(args.repeats):
        start = time.perf_counter()
        one_pass()
        best = max(best, args.steps / (time.perf_counter() - start))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    (x, _), _ = load_digits()
    ds = dataset(x, args.batch, args.steps)
    print(
        f"DCGAN on 8x8 digits, batch {args.batch}, filters {args.filters}, "
        f"{args.steps} steps per pass, best of {args.repeats}; "
        f"devices: {[d.name for d in tf.config.list_logical_devices()]}"
    )
    here, why = xla_setting(None)
    print(f"train gan runs with jit_compile={here} on this machine ({why})")
    print(f"{'variant':<40}{'steps/s':>10}")
    ratios, fits = [], {}
    for jit in (False, True):
        fit = fit_steps_per_second(ds, args, jit)
        hand = hand_loop_steps_per_second(ds, args, jit)
        mark = "   <- what train gan runs here" if jit == here else ""
        print(f"{f'GAN.fit, jit_compile={jit}':<40}{fit:>10.1f}{mark}")
        print(f"{f'hand GradientTape loop, jit_compile={jit}':<40}{hand:>10.1f}")
        ratios.append((jit, fit / hand))
        fits[jit] = fit
    for jit, ratio in ratios:
        print(
            f"ratio GAN.fit / hand loop, jit_compile={jit}: {ratio:.2f}x "
            "(target >= 1.0x)"
        )
    print(
        f"ratio GAN.fit, train gan's setting / the other: "
        f"{fits[here] / fits[not here]:.2f}x"
    )


if __name__ == "__main__":
    main()
