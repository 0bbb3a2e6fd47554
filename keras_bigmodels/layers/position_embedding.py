"""A learned position embedding, the alternative to the sinusoidal encoding."""

import keras
from keras import ops

from keras_bigmodels import _validation as V
from keras_bigmodels._export import export


@export
class PositionEmbedding(keras.layers.Layer):
    """Adds a trained vector per position (as in GPT-2) to its input.

    Article §3.2.3: the learned alternative to `PositionalEncoding`.

    Args:
        max_length: int. Longest sequence supported.
        initializer: initializer of the position vectors.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: (batch, seq, d).

    Returns:
        inputs + E[:seq], same shape.

    Example:

    >>> import numpy as np
    >>> PositionEmbedding(16)(np.zeros((2, 5, 8), "float32")).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, max_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.max_length = V.check_positive_int("max_length", max_length)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.max_length, input_shape[-1]),
            initializer=self.initializer,
        )

    def call(self, inputs):
        seq = ops.shape(inputs)[-2]
        return inputs + ops.cast(self.embeddings[:seq], inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_length": self.max_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
