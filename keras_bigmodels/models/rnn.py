"""Recurrent networks: SimpleRNN, LSTM or GRU, stacked, optionally bidirectional."""

from __future__ import annotations

import keras
from keras import layers

from keras_bigmodels import _validation as V

CELLS = {"simple": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}
TASKS = ("classification", "regression")


def build_rnn(
    kind: str = "lstm",
    *,
    vocab_size: int | None = None,
    input_dim: int | None = None,
    num_classes: int = 2,
    task: str = "classification",
    units=64,
    embed_dim: int = 64,
    bidirectional: bool = False,
    dropout: float = 0.0,
    max_length: int | None = None,
    name: str = "rnn",
):
    """A recurrent network for token or feature sequences.

    Article §2.3 / §3.2 (循环神经网络): h_t = f(W_x x_t + W_h h_{t-1} + b),
    with the LSTM and GRU gates that keep long-range information. Padding is
    masked: token id 0, or an all-zero feature vector, is skipped by the
    recurrence.

    Args:
        kind: str. The recurrent cell: `"simple"`, `"lstm"` or `"gru"`.
        vocab_size: int. Token-id input (ids 1..vocab_size-1; 0 is padding).
        input_dim: int. Feature-sequence input (batch, time, input_dim)
            instead, e.g. a time series. Give exactly one of the two.
        num_classes: int. Classes (softmax outputs); with `task="regression"`,
            the number of targets (linear outputs).
        task: `"classification"` or `"regression"`.
        units: int or tuple of ints. One recurrent layer per entry (stacked).
        embed_dim: int. Token embedding size.
        bidirectional: bool. Read each sequence both ways.
        dropout: float in [0, 1). Dropout on the recurrent layers' inputs.
        max_length: int or None. Fixed sequence length; None accepts any.
        name: str.

    Returns:
        A `keras.Model` (not compiled).

    Example:

    >>> model = build_rnn("gru", vocab_size=100, num_classes=3, units=(32, 32))
    >>> model.output_shape
    (None, 3)
    """
    V.check_choice("kind", kind, tuple(CELLS))
    V.check_choice("task", task, TASKS)
    if (vocab_size is None) == (input_dim is None):
        raise ValueError(
            "Give exactly one of `vocab_size` (token ids) and `input_dim` (feature "
            f"sequences). Received: vocab_size={vocab_size!r}, input_dim={input_dim!r}"
        )
    V.check_positive_int("vocab_size", vocab_size, allow_none=True)
    V.check_positive_int("input_dim", input_dim, allow_none=True)
    V.check_positive_int("num_classes", num_classes)
    units = V.check_int_sequence("units", units)
    V.check_positive_int("embed_dim", embed_dim)
    V.check_fraction("dropout", dropout, allow_none=False)
    V.check_positive_int("max_length", max_length, allow_none=True)

    if vocab_size is not None:
        inputs = keras.Input((max_length,), dtype="int32", name="tokens")
        x = layers.Embedding(vocab_size, embed_dim, mask_zero=True, name="embedding")(
            inputs
        )
    else:
        inputs = keras.Input((max_length, input_dim), name="features")
        x = layers.Masking(0.0, name="masking")(inputs)
    for i, n in enumerate(units, 1):
        rnn = CELLS[kind](
            n, return_sequences=i < len(units), dropout=dropout, name=f"{kind}{i}"
        )
        if bidirectional:
            rnn = layers.Bidirectional(rnn, name=f"bi_{kind}{i}")
        x = rnn(x)
    activation = "softmax" if task == "classification" else None
    outputs = layers.Dense(num_classes, activation=activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
