"""The sinusoidal positional encoding of "Attention Is All You Need"."""

import keras
import numpy as np
from keras import ops

from keras_bigmodels import _validation as V
from keras_bigmodels._export import export


def sinusoidal_table(max_length, dim):
    """NumPy (max_length, dim): PE(pos, 2i) = sin(pos / 10000^(2i/d)), cos at 2i+1."""
    pos = np.arange(max_length)[:, None].astype("float64")
    i = np.arange(0, dim, 2).astype("float64")
    angle = pos / np.power(10000.0, i / dim)
    table = np.zeros((max_length, dim))
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, : dim // 2])
    return table.astype("float32")


@export
class PositionalEncoding(keras.layers.Layer):
    """Adds the sinusoidal position encoding to a sequence of vectors.

    Article §3.2.3 (位置编码): PE(pos, 2i) = sin(pos / 10000^(2i/d)),
    PE(pos, 2i+1) = cos(pos / 10000^(2i/d)), from "Attention Is All You Need"
    (https://arxiv.org/abs/1706.03762). Fixed, not trained; any sequence
    length up to `max_length`. Keras masks pass through.

    Args:
        max_length: int. Longest sequence supported.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: (batch, seq, d).

    Returns:
        inputs + PE[:seq], same shape.

    Example:

    >>> import numpy as np
    >>> PositionalEncoding(50)(np.zeros((1, 3, 4), "float32"))[0, 1, :2].numpy()
    array([0.84147096, 0.5403023 ], dtype=float32)
    """

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        self.max_length = V.check_positive_int("max_length", max_length)
        self.supports_masking = True

    def build(self, input_shape):
        dim = input_shape[-1]
        # A non-trainable weight, so it follows the layer onto any device.
        self.table = self.add_weight(
            name="table",
            shape=(self.max_length, dim),
            initializer=keras.initializers.Constant(
                sinusoidal_table(self.max_length, dim)
            ),
            trainable=False,
        )

    def call(self, inputs):
        seq = ops.shape(inputs)[-2]
        return inputs + ops.cast(self.table[:seq], inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update({"max_length": self.max_length})
        return config
