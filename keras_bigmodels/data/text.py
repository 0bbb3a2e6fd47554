"""Text in: Keras `TextVectorization` tokenizers and next-token datasets.

Article §2.3 / §3.2 (RNN, Transformer): sequence models read token ids. The
tokenizer is Keras's own `TextVectorization` at character level (any script:
Chinese text splits into its characters) or word level; id 0 is padding and
id 1 is the out-of-vocabulary token, so `ids != 0` is the padding mask.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import tensorflow as tf

from keras_bigmodels import _validation as V

LEVELS = ("char", "word")
# Start and end of a target sequence (seq2seq): control characters that do
# not occur in ordinary text.
START, END = "\x02", "\x03"


class Tokenizer:
    """A `TextVectorization` layer with `encode`/`decode` and a JSON form.

    Args:
        vocabulary: list of str. Index 0 must be "" (padding), 1 "[UNK]".
        level: `"char"` or `"word"`.

    Example:

    >>> tok = Tokenizer.adapt(["你好, world"], level="char")
    >>> tok.decode(tok.encode("你好"))
    '你好'
    """

    def __init__(self, vocabulary: list[str], level: str = "char"):
        V.check_choice("level", level, LEVELS)
        if list(vocabulary[:2]) != ["", "[UNK]"]:
            raise ValueError(
                "`vocabulary` must start with '' (padding) and '[UNK]'. "
                f"Received: vocabulary[:2]={list(vocabulary[:2])!r}"
            )
        self.level = level
        self.vocabulary = [str(v) for v in vocabulary]
        self.layer = keras.layers.TextVectorization(
            standardize=None if level == "char" else "lower_and_strip_punctuation",
            split="character" if level == "char" else "whitespace",
            vocabulary=self.vocabulary[2:],
            output_mode="int",
        )

    @classmethod
    def adapt(cls, texts, level: str = "char", max_tokens: int | None = None):
        """Learn the vocabulary (most frequent first) from `texts`."""
        V.check_choice("level", level, LEVELS)
        V.check_positive_int("max_tokens", max_tokens, allow_none=True)
        layer = keras.layers.TextVectorization(
            max_tokens=max_tokens,
            standardize=None if level == "char" else "lower_and_strip_punctuation",
            split="character" if level == "char" else "whitespace",
        )
        if isinstance(texts, str):
            texts = [texts]
        layer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(64))
        return cls(layer.get_vocabulary(), level)

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int32) of one string."""
        return self.layer(tf.constant([text])).numpy()[0].astype("int32")

    def encode_batch(self, texts, length: int) -> np.ndarray:
        """(len(texts), length) ids, right-padded with 0 (or cut)."""
        out = np.zeros((len(texts), length), "int32")
        ragged = self.layer(tf.constant(list(texts)))
        for i, row in enumerate(ragged.numpy()):
            row = row[row != 0][:length]
            out[i, : len(row)] = row
        return out

    def decode(self, ids) -> str:
        """Text of token ids; padding is dropped."""
        sep = "" if self.level == "char" else " "
        return sep.join(self.vocabulary[int(i)] for i in ids if int(i) != 0)

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(
                {"level": self.level, "vocabulary": self.vocabulary},
                f,
                ensure_ascii=False,
            )

    @classmethod
    def load(cls, path) -> Tokenizer:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return cls(data["vocabulary"], data["level"])


def read_text_file(path) -> str:
    """A UTF-8 text file's contents, with clear errors for missing or binary files."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such text file: {path!r}")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path!r} is not UTF-8 text ({e.reason})") from None
    if not text.strip():
        raise ValueError(f"{path!r} is empty")
    return text


def next_token_windows(ids: np.ndarray, sequence_length: int, stride: int):
    """(x, y) int32 arrays of windows: y is x shifted one token to the left."""
    V.check_positive_int("sequence_length", sequence_length)
    V.check_positive_int("stride", stride)
    starts = np.arange(0, len(ids) - sequence_length - 1 + 1, stride)
    if len(starts) == 0:
        raise ValueError(
            f"The text has {len(ids)} tokens, too few for windows of "
            f"`sequence_length`={sequence_length}."
        )
    idx = starts[:, None] + np.arange(sequence_length)[None, :]
    return ids[idx].astype("int32"), ids[idx + 1].astype("int32")


def next_token_dataset(
    text: str,
    tokenizer: Tokenizer | None = None,
    sequence_length: int = 128,
    batch_size: int = 64,
    validation_fraction: float = 0.1,
    seed: int = 0,
    level: str = "char",
):
    """A text (file) as next-token training and validation `tf.data` datasets.

    The last `validation_fraction` of the text is held out whole, so no
    validation window overlaps a training one. Training windows overlap by
    half and are reshuffled every epoch.

    Args:
        text: str. The text (`read_text_file` reads one from disk).
        tokenizer: Tokenizer or None (then one is adapted to the training part).
        sequence_length: int. Tokens per window.
        batch_size: int.
        validation_fraction: float in [0, 1).
        seed: int. Shuffle seed.
        level: `"char"` or `"word"`, when a tokenizer is adapted here.

    Returns:
        `(train, validation, tokenizer)`; validation is None for a fraction of 0.
        Elements are `(x, y)`, int32 (batch, sequence_length).

    Example:

    >>> text = read_text_file("my_novel.txt")  # doctest: +SKIP
    >>> train, val, tok = next_token_dataset(text, sequence_length=64)  # doctest: +SKIP
    """
    V.check_fraction("validation_fraction", validation_fraction, allow_none=False)
    cut = int(len(text) * (1 - validation_fraction))
    if tokenizer is None:
        tokenizer = Tokenizer.adapt(text[:cut], level=level)
    train_x, train_y = next_token_windows(
        tokenizer.encode(text[:cut]), sequence_length, max(1, sequence_length // 2)
    )
    train = (
        tf.data.Dataset.from_tensor_slices((train_x, train_y))
        .shuffle(len(train_x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    val = None
    if validation_fraction:
        val_x, val_y = next_token_windows(
            tokenizer.encode(text[cut:]), sequence_length, sequence_length
        )
        val = tf.data.Dataset.from_tensor_slices((val_x, val_y)).batch(batch_size)
    return train, val, tokenizer
