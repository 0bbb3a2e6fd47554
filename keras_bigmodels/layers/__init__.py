"""The article's formulas as Keras layers, one public class per file."""

from keras_bigmodels.layers.attention import ScaledDotProductAttention
from keras_bigmodels.layers.image_preprocessing import ImagePreprocessing
from keras_bigmodels.layers.minibatch_std import MinibatchStdDev
from keras_bigmodels.layers.missing_values import MissingValueImputer
from keras_bigmodels.layers.multi_head_attention import MultiHeadAttention
from keras_bigmodels.layers.position_embedding import PositionEmbedding
from keras_bigmodels.layers.positional_encoding import PositionalEncoding
from keras_bigmodels.layers.transformer_blocks import (
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)

__all__ = [
    "ImagePreprocessing",
    "MinibatchStdDev",
    "MissingValueImputer",
    "MultiHeadAttention",
    "PositionEmbedding",
    "PositionalEncoding",
    "ScaledDotProductAttention",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
]
