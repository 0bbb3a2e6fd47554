"""The Transformer encoder classifier the article describes."""

from __future__ import annotations

import keras
from keras import layers, ops

from keras_bigmodels import _validation as V
from keras_bigmodels.layers import (
    PositionalEncoding,
    PositionEmbedding,
    TransformerEncoderBlock,
)

POSITIONS = ("sinusoidal", "learned")


def embed_tokens(
    tokens, *, vocab_size, embed_dim, max_length, positions, dropout, name
):
    """Token ids -> scaled embeddings + positions; also the (batch, seq) keep-mask."""
    V.check_choice("positions", positions, POSITIONS)
    padding_mask = ops.not_equal(tokens, 0)
    x = layers.Embedding(vocab_size, embed_dim, name=f"{name}_embedding")(tokens)
    # The paper scales embeddings by √d so they are not drowned by the positions.
    x = layers.Rescaling(embed_dim**0.5, name=f"{name}_scale")(x)
    pos = PositionalEncoding if positions == "sinusoidal" else PositionEmbedding
    x = pos(max_length, name=f"{name}_positions")(x)
    x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x, padding_mask


def build_transformer(
    vocab_size: int,
    max_length: int,
    num_classes: int = 2,
    *,
    embed_dim: int = 64,
    num_heads: int = 4,
    intermediate_dim: int = 128,
    num_layers: int = 2,
    dropout: float = 0.1,
    positions: str = "sinusoidal",
    norm_first: bool = True,
    name: str = "transformer_classifier",
):
    """Embedding + positional encoding -> self-attention blocks -> MLP head.

    Article §3.2 (Transformer): the encoder used as a sequence classifier.
    Padding (token id 0) is masked in attention and in the mean pooling.

    Args:
        vocab_size: int. Token ids 1..vocab_size-1; 0 is padding.
        max_length: int. Longest sequence.
        num_classes: int. Softmax outputs.
        embed_dim: int. Model width d.
        num_heads: int. Attention heads (embed_dim must divide by it).
        intermediate_dim: int. Feed-forward hidden size.
        num_layers: int. Encoder blocks.
        dropout: float in [0, 1).
        positions: `"sinusoidal"` (the paper) or `"learned"`.
        norm_first: bool. Pre-norm blocks (stabler) or post-norm (the paper).
        name: str.

    Returns:
        A `keras.Model` from (batch, seq) int ids to (batch, num_classes).

    Example:

    >>> model = build_transformer(vocab_size=50, max_length=32, num_classes=2)
    >>> model.output_shape
    (None, 2)
    """
    for arg, value in (
        ("vocab_size", vocab_size),
        ("max_length", max_length),
        ("num_classes", num_classes),
        ("embed_dim", embed_dim),
        ("num_heads", num_heads),
        ("intermediate_dim", intermediate_dim),
        ("num_layers", num_layers),
    ):
        V.check_positive_int(arg, value)
    V.check_divisible("embed_dim", value=embed_dim, by_name="num_heads", by=num_heads)
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x, padding_mask = embed_tokens(
        tokens,
        vocab_size=vocab_size,
        embed_dim=embed_dim,
        max_length=max_length,
        positions=positions,
        dropout=dropout,
        name="encoder",
    )
    for i in range(num_layers):
        x = TransformerEncoderBlock(
            num_heads,
            intermediate_dim,
            dropout=dropout,
            norm_first=norm_first,
            name=f"encoder_block{i + 1}",
        )(x, padding_mask=padding_mask)
    if norm_first:
        x = layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x, mask=padding_mask)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(embed_dim, activation="relu", name="head_dense")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(tokens, outputs, name=name)
