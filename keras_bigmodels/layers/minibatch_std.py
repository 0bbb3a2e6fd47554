"""Minibatch standard deviation: lets a discriminator see a batch's variety."""

import keras
from keras import ops

from keras_bigmodels._export import export


@export
class MinibatchStdDev(keras.layers.Layer):
    """Appends one channel holding the batch's average per-feature std.

    A GAN generator that collapses onto a few modes makes batches with little
    variety; a discriminator that sees each image alone cannot tell. This
    layer (Karras et al. 2018, "Progressive Growing of GANs",
    https://arxiv.org/abs/1710.10196, §3) computes the standard deviation of
    every feature over the batch, averages it to one number and appends it as
    a constant feature map, so the discriminator can penalise low variety.
    Used by `build_gan` (Article §2.5 / §3.3).

    Args:
        epsilon: float. Added to the variance before the square root.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: (batch, height, width, channels).

    Returns:
        (batch, height, width, channels + 1).

    Example:

    >>> import numpy as np
    >>> x = np.stack([np.zeros((2, 2, 1)), np.full((2, 2, 1), 2.0)]).astype("float32")
    >>> MinibatchStdDev()(x)[0, 0, 0].numpy()  # std of {0, 2} is 1
    array([0., 1.], dtype=float32)
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        # (h, w, c): std over the batch; then one scalar for the whole batch.
        var = ops.mean(ops.square(x - ops.mean(x, axis=0, keepdims=True)), axis=0)
        stat = ops.mean(ops.sqrt(var + self.epsilon))
        shape = ops.shape(inputs)
        plane = ops.ones((shape[0], shape[1], shape[2], 1)) * stat
        plane = ops.cast(plane, inputs.dtype)
        return ops.concatenate([inputs, plane], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
