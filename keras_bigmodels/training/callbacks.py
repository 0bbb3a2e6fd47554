"""Callbacks for generative training: sample grids and the Fréchet distance."""

from __future__ import annotations

import os

import keras

from keras_bigmodels import _validation as V


class SampleGrid(keras.callbacks.Callback):
    """Write a PNG grid of GAN samples at the end of every `every`-th epoch.

    The latent vectors are fixed (`seed`), so the grids of successive epochs
    show the same z's as the generator learns. Files are
    `{directory}/epoch_001.png`, ... and `{directory}/latest.png`.

    Args:
        directory: str. Folder for the PNGs (created).
        n: int. Samples per grid.
        seed: int. Seed of the fixed latent vectors.
        every: int. Epoch interval.

    Example:

    >>> gan.fit(x, epochs=20, callbacks=[SampleGrid("runs/samples")])  # doctest: +SKIP
    """

    def __init__(self, directory, n: int = 64, seed: int = 0, every: int = 1):
        super().__init__()
        self.directory = os.fspath(directory)
        self.n = V.check_positive_int("n", n)
        self.seed = seed
        self.every = V.check_positive_int("every", every)
        os.makedirs(self.directory, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        from keras_bigmodels.insight.plots import save_image_grid

        images = self.model.generate(self.n, seed=self.seed)
        save_image_grid(
            images, os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png"), (-1, 1)
        )
        save_image_grid(images, os.path.join(self.directory, "latest.png"), (-1, 1))


class FrechetDistance(keras.callbacks.Callback):
    """Add `frechet_distance` between real and generated images to the logs.

    Features come from `feature_model` (e.g. a classifier's last hidden
    layer); the real features are computed once. The value appears in the
    progress line, in `history.history` and in any `CSVLogger` placed after
    this callback.

    Args:
        feature_model: keras.Model. Images in the real images' value range
            -> (batch, d) features.
        real_images: array (N, H, W, C). Held-out real images.
        n: int. Generated samples per measurement.
        seed: int. Latent seed of the samples (fixed across epochs).

    Generated images are mapped onto the GAN's `real_range` (the value range
    `real_images` must share) before their features are taken.
    """

    def __init__(self, feature_model, real_images, n: int = 1000, seed: int = 1):
        super().__init__()
        self.feature_model = feature_model
        self.n = V.check_positive_int("n", n)
        self.seed = seed
        self.real_features = self._features(real_images)

    def _features(self, images):
        return self.feature_model.predict(images, batch_size=256, verbose=0)

    def on_epoch_end(self, epoch, logs=None):
        from keras_bigmodels.insight.frechet import frechet_distance

        fake = self.model.to_real_range(self.model.generate(self.n, seed=self.seed))
        value = frechet_distance(self.real_features, self._features(fake))
        if logs is not None:
            logs["frechet_distance"] = value
