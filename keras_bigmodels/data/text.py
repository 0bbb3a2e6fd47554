"""Text in: Keras `TextVectorization` tokenizers and next-token datasets.

Article §2.3 / §3.2 (RNN, Transformer): sequence models read token ids. The
tokenizer is Keras's own `TextVectorization` at character level (any script:
Chinese text splits into its characters) or word level; id 0 is padding and
id 1 is the out-of-vocabulary token, so `ids != 0` is the padding mask.
A user's own text comes as a folder of class sub-folders (`read_text_folder`)
or a TSV file of pairs (`read_pairs`); texts over the length cap are named,
never silently cut.
"""

from __future__ import annotations

import json
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_bigmodels import _validation as V
from keras_bigmodels._paths import FALLBACK_ENCODING, visible_subfolders
from keras_bigmodels.data.batches import window_count
from keras_bigmodels.data.splits import stratified_split

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
        self.layer = self._vectorizer(ragged=False)
        # Batches are tokenized ragged, so that memory follows the total
        # number of tokens, not the number of texts times the longest one.
        self._ragged = self._vectorizer(ragged=True)

    def _vectorizer(self, ragged: bool):
        return keras.layers.TextVectorization(
            standardize=None if self.level == "char" else "lower_and_strip_punctuation",
            split="character" if self.level == "char" else "whitespace",
            vocabulary=self.vocabulary[2:],
            output_mode="int",
            ragged=ragged,
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

    def encode_batch(self, texts, length: int, return_lengths: bool = False):
        """(len(texts), length) ids, right-padded with 0 (or cut); with
        `return_lengths`, also each text's number of tokens before the cut."""
        ragged = self._ragged(tf.constant(list(texts), tf.string))
        dense = ragged.to_tensor(default_value=0, shape=[len(texts), length])
        ids = dense.numpy().astype("int32")
        return (ids, ragged.row_lengths().numpy()) if return_lengths else ids

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


_told_fallback: set[str] = set()


class TextEncodingWarning(UserWarning):
    """A text file was read in another encoding than UTF-8."""


def read_text_file(path, encoding: str | None = None) -> str:
    """A text file's contents, with clear errors for missing or binary files.

    Args:
        path: str or path.
        encoding: str or None. None reads UTF-8 (a byte-order mark is
            dropped) and, when the file is not UTF-8, GB18030 (which covers
            GBK and GB2312), saying so once; a name reads that encoding only.

    Returns:
        The text.

    Example:

    >>> text = read_text_file("小说.txt")  # doctest: +SKIP
    >>> text = read_text_file("novel.txt", encoding="big5")  # doctest: +SKIP
    """
    path = os.fspath(path)
    V.check_encoding("encoding", encoding)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such text file: {path!r}")
    with open(path, "rb") as f:
        data = f.read()
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as e:
            raise ValueError(
                f"{path!r} is not {encoding} text ({e.reason} at byte {e.start}); "
                "pass the file's `encoding`"
            ) from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode(FALLBACK_ENCODING)
            except UnicodeDecodeError:
                raise ValueError(
                    f"{path!r} is neither UTF-8 nor GB18030 (GBK) text; pass its "
                    "`encoding` (for example 'big5', 'shift_jis' or 'utf-16')"
                ) from None
            if FALLBACK_ENCODING not in _told_fallback:
                _told_fallback.add(FALLBACK_ENCODING)
                warnings.warn(
                    f"{path!r} is not UTF-8; read it as GB18030 (GBK), as "
                    "Chinese Windows editors save text (files after this one "
                    "too). Pass `encoding` to choose another.",
                    TextEncodingWarning,
                    stacklevel=2,
                )
    if not text.strip():
        raise ValueError(f"{path!r} is empty")
    return text


def next_token_windows(ids: np.ndarray, sequence_length: int, stride: int):
    """(x, y) int32 arrays of windows: y is x shifted one token to the left."""
    V.check_positive_int("sequence_length", sequence_length)
    V.check_positive_int("stride", stride)
    starts = np.arange(window_count(len(ids), sequence_length, stride)) * stride
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


# --- your own text files: a folder of classes, a file of pairs ----------------


class TooLongWarning(UserWarning):
    """Texts over the length cap were skipped or cut; the message names them."""


def report_too_long(
    items,
    *,
    max_length: int,
    too_long: str,
    unit: str,
    what_is_done: str,
    cost=None,
    name: str = "max_length",
) -> None:
    """Refuse, or report once, the texts longer than `max_length`.

    `items` is a list of `(where, length)`: a file, or `file:line`.
    `cost(length)`, when given, says what keeping the longest would take;
    `name` is the setting that sets the length.
    """
    if not items:
        return
    where, length = max(items, key=lambda item: item[1])
    if too_long == "error":
        raise ValueError(
            f"{len(items)} text(s) are longer than `{name}`={max_length} "
            f"{unit}, the longest {where} ({length} {unit}); raise `{name}`, "
            "or choose what happens to them with `too_long`"
        )
    shown = ", ".join(f"{w} ({n} {unit})" for w, n in items[:20])
    more = f" and {len(items) - 20} more" if len(items) > 20 else ""
    needs = f" ({cost(length)})" if cost else ""
    warnings.warn(
        f"{what_is_done} {len(items)} text(s) longer than `{name}`="
        f"{max_length} {unit}: {shown}{more}. Raise `{name}` to keep them "
        f"whole{needs}, or pass `too_long`='error' to stop instead.",
        TooLongWarning,
        stacklevel=3,
    )


def read_class_texts(directory, encoding: str | None = None):
    """The .txt files of a folder's class sub-folders, as they are.

    Args:
        directory: a folder with one sub-folder of .txt files per class.
        encoding: str or None. Text encoding (default: UTF-8, then GB18030).

    Returns:
        `(texts, labels, paths, class_names)`: lists, and int64 labels.

    Raises:
        FileNotFoundError: no such folder.
        ValueError: fewer than two classes, or no .txt file.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"No such folder: {directory!r}")
    texts, labels, paths = [], [], []
    classes = visible_subfolders(directory)
    for c, name in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(directory, name))):
            if f.endswith(".txt"):
                paths.append(os.path.join(directory, name, f))
                texts.append(read_text_file(paths[-1], encoding))
                labels.append(c)
    if len(classes) < 2 or not texts:
        raise ValueError(
            f"{directory!r} needs at least two class sub-folders of .txt "
            f"files; found classes {classes} and {len(texts)} files"
        )
    return texts, np.array(labels, "int64"), paths, classes


def read_text_folder(
    directory,
    *,
    level: str,
    max_length: int,
    seed: int,
    too_long: str = "truncate",
    encoding: str | None = None,
    test_fraction: float = 0.2,
):
    """Class sub-folders of .txt files -> padded ids, labels, tokenizer, classes.

    The tokenizer is adapted on the training part only. Texts over
    `max_length` tokens are cut (`too_long="truncate"`), skipped (`"skip"`)
    or refused (`"error"`), and reported with their file names.

    Args:
        directory: a folder with one sub-folder of .txt files per class.
        level: str. `"char"` or `"word"` tokens.
        max_length: int. Tokens per padded sequence.
        seed: int. Seed of the stratified train/test split.
        too_long: str. What happens to texts over `max_length`.
        encoding: str or None. Text encoding (default: UTF-8, then GB18030).
        test_fraction: float. Held-out fraction per class.

    Returns:
        `((x_train, y_train), (x_test, y_test), tokenizer, class_names)`.

    Example:

    >>> (x, y), test, tok, names = read_text_folder(
    ...     "reviews/", level="char", max_length=64, seed=0
    ... )  # doctest: +SKIP
    """
    texts, labels, paths, classes = read_class_texts(directory, encoding)
    train_idx, test_idx = stratified_split(
        labels, (1 - test_fraction, test_fraction), seed=seed
    )
    tok = Tokenizer.adapt([texts[i] for i in train_idx], level=level)
    x, lengths = tok.encode_batch(texts, max_length, return_lengths=True)
    long = [(paths[i], int(n)) for i, n in enumerate(lengths) if n > max_length]
    done = "Skipped" if too_long == "skip" else f"Kept the first {max_length} tokens of"
    report_too_long(
        long,
        max_length=max_length,
        too_long=too_long,
        unit="tokens",
        what_is_done=done,
    )
    if too_long == "skip":
        keep = lengths <= max_length
        train_idx, test_idx = train_idx[keep[train_idx]], test_idx[keep[test_idx]]
        if not len(train_idx) or not len(test_idx):
            raise ValueError(
                f"No texts of {directory!r} are left for training and testing "
                f"after skipping those over `max_length`={max_length} tokens"
            )
    return (
        (x[train_idx], labels[train_idx]),
        (x[test_idx], labels[test_idx]),
        tok,
        classes,
    )


def read_pairs(
    path,
    *,
    max_length: int | None = None,
    too_long: str = "skip",
    encoding: str | None = None,
    cost=None,
):
    """A TSV file of `source<TAB>target` lines -> two lists of str.

    Pairs with a side longer than `max_length` characters are skipped and
    reported by line number (`too_long="skip"`), or refused (`"error"`), so
    that one stray long line cannot set the padded length of every batch.
    """
    sources, targets, long = [], [], []
    for n, line in enumerate(read_text_file(path, encoding).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            shown = line if len(line) <= 60 else line[:60] + "..."
            raise ValueError(f"{path}:{n}: expected 'source<TAB>target', got {shown!r}")
        length = max(map(len, parts))
        if max_length is not None and length > max_length:
            long.append((f"{path}:{n}", length))
            continue
        sources.append(parts[0])
        targets.append(parts[1])
    report_too_long(
        long,
        max_length=max_length,
        too_long=too_long,
        unit="characters",
        what_is_done="Skipped",
        cost=cost,
    )
    if len(sources) < 2:
        raise ValueError(
            f"{path!r} has {len(sources)} usable source<TAB>target pair(s)"
            + (f" after skipping {len(long)} over `max_length`" if long else "")
            + "; at least 2 are needed (one to train on, one to test)"
        )
    return sources, targets
