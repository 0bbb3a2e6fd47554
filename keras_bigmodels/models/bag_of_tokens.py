"""A bag-of-tokens classifier: the order-blind baseline for sequence tasks."""

from __future__ import annotations

import keras
from keras import layers, ops

from keras_bigmodels import _validation as V


def build_bag_of_tokens(
    vocab_size: int,
    num_classes: int,
    *,
    embed_dim: int = 32,
    name: str = "bag_of_tokens",
):
    """Mean of token embeddings -> Dense: sees which tokens occur, never their order.

    Article §6.1 (FAQ, choosing an architecture): the baseline that shows
    whether a task needs a sequence model at all. Padding (id 0) is ignored.

    Args:
        vocab_size: int. Token ids 1..vocab_size-1.
        num_classes: int. Softmax outputs.
        embed_dim: int.
        name: str.

    Returns:
        A `keras.Model` from (batch, seq) ids to (batch, num_classes).

    Example:

    >>> build_bag_of_tokens(30, 2).output_shape
    (None, 2)
    """
    V.check_positive_int("vocab_size", vocab_size)
    V.check_positive_int("num_classes", num_classes)
    V.check_positive_int("embed_dim", embed_dim)
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = layers.Embedding(vocab_size, embed_dim, name="embedding")(tokens)
    x = layers.GlobalAveragePooling1D(name="mean")(x, mask=ops.not_equal(tokens, 0))
    x = layers.Dense(embed_dim, activation="relu", name="hidden")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(tokens, outputs, name=name)
