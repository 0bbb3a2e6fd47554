"""Encoder–decoder models (Transformer or RNN) and greedy decoding."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from keras_bigmodels import _validation as V
from keras_bigmodels.layers import (
    ScaledDotProductAttention,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from keras_bigmodels.models.inference import forward
from keras_bigmodels.models.rnn import CELLS
from keras_bigmodels.models.transformer import embed_tokens

KINDS = ("transformer", "lstm", "gru")


def _transformer_seq2seq(
    src,
    *,
    tgt,
    src_vocab_size,
    tgt_vocab_size,
    max_length,
    embed_dim,
    num_heads,
    intermediate_dim,
    num_layers,
    dropout,
):
    enc, src_mask = embed_tokens(
        src,
        vocab_size=src_vocab_size,
        embed_dim=embed_dim,
        max_length=max_length,
        positions="sinusoidal",
        dropout=dropout,
        name="encoder",
    )
    for i in range(num_layers):
        enc = TransformerEncoderBlock(
            num_heads,
            intermediate_dim,
            dropout=dropout,
            norm_first=True,
            name=f"encoder_block{i + 1}",
        )(enc, padding_mask=src_mask)
    enc = layers.LayerNormalization(epsilon=1e-5, name="encoder_norm")(enc)
    dec, tgt_mask = embed_tokens(
        tgt,
        vocab_size=tgt_vocab_size,
        embed_dim=embed_dim,
        max_length=max_length,
        positions="sinusoidal",
        dropout=dropout,
        name="decoder",
    )
    for i in range(num_layers):
        dec = TransformerDecoderBlock(
            num_heads,
            intermediate_dim,
            cross_attention=True,
            dropout=dropout,
            norm_first=True,
            name=f"decoder_block{i + 1}",
        )(dec, enc, decoder_padding_mask=tgt_mask, encoder_padding_mask=src_mask)
    return layers.LayerNormalization(epsilon=1e-5, name="decoder_norm")(dec)


def _rnn_seq2seq(
    src, *, tgt, kind, src_vocab_size, tgt_vocab_size, embed_dim, units, dropout
):
    cell = CELLS[kind]
    src_mask = ops.not_equal(src, 0)
    enc = layers.Embedding(
        src_vocab_size, embed_dim, mask_zero=True, name="encoder_embedding"
    )(src)
    # The encoder's final state starts the decoder; its per-step outputs are
    # what the decoder attends to (Luong et al. 2015,
    # https://arxiv.org/abs/1508.04025), so no single vector has to hold the
    # whole source.
    enc_seq, *state = cell(
        units,
        return_sequences=True,
        return_state=True,
        dropout=dropout,
        name=f"encoder_{kind}",
    )(enc)
    dec = layers.Embedding(
        tgt_vocab_size, embed_dim, mask_zero=True, name="decoder_embedding"
    )(tgt)
    dec_seq = cell(
        units, return_sequences=True, dropout=dropout, name=f"decoder_{kind}"
    )(dec, initial_state=state)
    # (batch, T, units) queries over (batch, S, units) encoder steps.
    context = ScaledDotProductAttention(name="attention")(
        dec_seq, enc_seq, enc_seq, attention_mask=ops.expand_dims(src_mask, 1)
    )
    merged = layers.Concatenate(name="attention_concat")([dec_seq, context])
    return layers.Dense(units, activation="tanh", name="attention_out")(merged)


def build_seq2seq(
    src_vocab_size: int,
    tgt_vocab_size: int,
    *,
    max_length: int = 64,
    kind: str = "transformer",
    embed_dim: int = 128,
    num_heads: int = 4,
    intermediate_dim: int = 256,
    num_layers: int = 2,
    units: int = 256,
    dropout: float = 0.1,
    name: str | None = None,
):
    """An encoder–decoder that maps one token sequence to another.

    Article §3.2 (Transformer 编码器-解码器) and §2.3 (RNN seq2seq; the RNN
    decoder attends to the encoder's steps with `ScaledDotProductAttention`,
    Luong-style). Trained
    with teacher forcing: the decoder reads the target shifted right (a start
    token first) and predicts it one step ahead; `decode` then generates
    greedily. Token id 0 is padding everywhere.

    Args:
        src_vocab_size: int. Source token ids 1..src_vocab_size-1.
        tgt_vocab_size: int. Target token ids 1..tgt_vocab_size-1.
        max_length: int. Longest source or target sequence.
        kind: `"transformer"`, `"lstm"` or `"gru"`.
        embed_dim: int. Embedding size (the Transformer's width).
        num_heads, intermediate_dim, num_layers: Transformer sizes.
        units: int. RNN state size.
        dropout: float in [0, 1).
        name: str or None.

    Returns:
        A `keras.Model` from `[source_ids (batch, S), decoder_ids (batch, T)]`
        to logits (batch, T, tgt_vocab_size). Compile with
        `SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)`.

    Example:

    >>> model = build_seq2seq(14, 14, max_length=8, kind="lstm", units=32)
    >>> model.output_shape
    (None, None, 14)
    """
    V.check_choice("kind", kind, KINDS)
    for arg, value in (
        ("src_vocab_size", src_vocab_size),
        ("tgt_vocab_size", tgt_vocab_size),
        ("max_length", max_length),
        ("embed_dim", embed_dim),
        ("num_heads", num_heads),
        ("intermediate_dim", intermediate_dim),
        ("num_layers", num_layers),
        ("units", units),
    ):
        V.check_positive_int(arg, value)
    V.check_fraction("dropout", dropout, allow_none=False)
    src = keras.Input((None,), dtype="int32", name="source")
    tgt = keras.Input((None,), dtype="int32", name="decoder_input")
    if kind == "transformer":
        V.check_divisible(
            "embed_dim", value=embed_dim, by_name="num_heads", by=num_heads
        )
        x = _transformer_seq2seq(
            src,
            tgt=tgt,
            src_vocab_size=src_vocab_size,
            tgt_vocab_size=tgt_vocab_size,
            max_length=max_length,
            embed_dim=embed_dim,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            num_layers=num_layers,
            dropout=dropout,
        )
    else:
        x = _rnn_seq2seq(
            src,
            tgt=tgt,
            kind=kind,
            src_vocab_size=src_vocab_size,
            tgt_vocab_size=tgt_vocab_size,
            embed_dim=embed_dim,
            units=units,
            dropout=dropout,
        )
    logits = layers.Dense(tgt_vocab_size, dtype="float32", name="logits")(x)
    return keras.Model([src, tgt], logits, name=name or f"{kind}_seq2seq")


def decode(
    model,
    source_ids,
    *,
    start_id: int,
    end_id: int,
    max_length: int,
    batch_size: int = 512,
) -> np.ndarray:
    """Greedy decoding with a model from `build_seq2seq`.

    Every step re-reads the fixed-size decoder buffer (causal, so later
    padding cannot leak back), which keeps one compiled graph for all steps.

    Args:
        model: the seq2seq `keras.Model`.
        source_ids: int array (N, S).
        start_id: int. Token that starts every target.
        end_id: int. Token that ends a target; decoding of a row stops there.
        max_length: int. Most tokens generated.
        batch_size: int.

    Returns:
        int32 (N, max_length): the generated ids, 0 after the end token.
    """
    V.check_positive_int("max_length", max_length)
    source_ids = np.asarray(source_ids, "int32")
    out = np.zeros((len(source_ids), max_length), "int32")
    call = forward(model)
    for lo in range(0, len(source_ids), batch_size):
        src = source_ids[lo : lo + batch_size]
        buf = np.zeros((len(src), max_length + 1), "int32")
        buf[:, 0] = start_id
        done = np.zeros(len(src), bool)
        for t in range(max_length):
            logits = call([src, buf[:, :-1]])
            step = np.argmax(np.asarray(logits[:, t]), axis=-1).astype("int32")
            step[done] = 0
            buf[:, t + 1] = step
            done |= step == end_id
            if done.all():
                break
        out[lo : lo + batch_size] = buf[:, 1:]
    return out
