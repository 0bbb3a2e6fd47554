"""Pretrained language models from a folder on disk: KerasHub presets and
this package's own GPT runs, as bodies of text classifiers (article §2.8).

A KerasHub preset is a folder written by `save_to_preset` (or downloaded
once, for example with `keras_hub.models.Backbone.from_preset("bert_tiny_en_uncased")`
on a machine with a network, then saved): `config.json` (the backbone),
`metadata.json`, `tokenizer.json` with `assets/tokenizer/`, and usually
`preprocessor.json`. Everything here loads from the folder with no network.

`open_text_body(path)` reads a preset or a `train gpt` run and returns a
`TextBody`: how texts become token ids for it, how long they may be, and
`build_classifier`, a functional model whose body is the layer named
"backbone" (so `unfreeze`, LoRA included, works on it as on image models).
An encoder (BERT and its kin) is read at its first token, a causal language
model (GPT-2, Gemma, Llama, this package's GPT) at its last real token.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np

from keras_bigmodels._export import export
from keras_bigmodels._paths import PRESET_FILES
from keras_bigmodels._paths import is_preset_folder as is_preset
from keras_bigmodels.models.transfer import BACKBONE_NAME

TOKENIZER_FILE = "tokenizer.json"
ENCODER, CAUSAL, OWN_GPT = "encoder", "causal_lm", "own_gpt"


class PresetError(ValueError):
    """A folder is not the preset (or run) a command expected; one line says why."""


def keras_hub():
    """The `keras_hub` module, or a one-line error naming the extra to install."""
    try:
        import keras_hub
    except ImportError:
        raise PresetError(
            "KerasHub is not installed: pip install 'keras-bigmodels[hub]'"
        ) from None
    return keras_hub


def is_gpt_run(path) -> bool:
    """Whether `path` is a `train gpt` run folder."""
    manifest = os.path.join(path, "manifest.json")
    if not os.path.isfile(manifest):
        return False
    with open(manifest, encoding="utf-8") as f:
        return json.load(f).get("architecture") == "gpt"


def preset_kind(path) -> str:
    """`"encoder"` or `"causal_lm"`: which kind of language model a preset holds.

    Raises:
        PresetError: not a preset folder, no tokenizer, or not a language model.
    """
    path = os.fspath(path)
    if not is_preset(path):
        missing = [f for f in PRESET_FILES if not os.path.isfile(os.path.join(path, f))]
        what = (
            "no such folder" if not os.path.isdir(path) else f"no {', '.join(missing)}"
        )
        raise PresetError(
            f"{path!r} is not a KerasHub preset ({what}): expected a folder "
            "written by save_to_preset, with config.json, metadata.json and "
            "tokenizer.json"
        )
    with open(os.path.join(path, "metadata.json"), encoding="utf-8") as f:
        tasks = json.load(f).get("tasks") or []
    with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
        backbone = json.load(f).get("class_name", "?")
    if "CausalLM" not in tasks and "TextClassifier" not in tasks:
        raise PresetError(
            f"{path!r} holds a {backbone}, not a language model: expected a "
            "text preset (BERT-like, or a causal LM like GPT-2, Gemma, Llama)"
        )
    assets = os.path.join(path, "assets", "tokenizer")
    if not os.path.isfile(os.path.join(path, TOKENIZER_FILE)) or not (
        os.path.isdir(assets) and os.listdir(assets)
    ):
        raise PresetError(
            f"{path!r} has no tokenizer: expected tokenizer.json and its "
            "vocabulary under assets/tokenizer/ (save the tokenizer too: "
            "tokenizer.save_to_preset(folder))"
        )
    return CAUSAL if "CausalLM" in tasks else ENCODER


@export
class TokenPooling(keras.layers.Layer):
    """One token's vector of each sequence: the first, or the last real one.

    An encoder (BERT) sums a text up in its first token ([CLS]); a causal
    language model has seen the whole text only at its last real token.

    Args:
        position: `"first"` or `"last"` (the last position where
            `padding_mask` is true; padding at the end).

    Call arguments:
        sequence: (batch, length, dim).
        padding_mask: (batch, length), true on real tokens.

    Returns:
        (batch, dim).

    Example:

    >>> h = np.arange(12, dtype="float32").reshape(1, 3, 4)
    >>> TokenPooling("last")(h, np.array([[1, 1, 0]])).numpy().tolist()
    [[4.0, 5.0, 6.0, 7.0]]
    """

    def __init__(self, position: str = "first", **kwargs):
        super().__init__(**kwargs)
        if position not in ("first", "last"):
            raise ValueError(
                f"`position` must be 'first' or 'last'. Received: position={position!r}"
            )
        self.position = position

    def call(self, sequence, padding_mask):
        if self.position == "first":
            return sequence[:, 0, :]
        count = keras.ops.sum(keras.ops.cast(padding_mask, "int32"), axis=1)
        last = keras.ops.maximum(count - 1, 0)  # (batch,)
        return keras.ops.take_along_axis(sequence, last[:, None, None], axis=1)[:, 0]

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[2])

    def get_config(self):
        return {**super().get_config(), "position": self.position}


@export
class AllTokens(keras.layers.Layer):
    """A padding mask that keeps every token: (batch, length) ids -> bools.

    A causal language model's preset takes `{"token_ids", "padding_mask"}`;
    training windows are cut from running text and have no padding.
    """

    def call(self, token_ids):
        return keras.ops.ones_like(token_ids, dtype="bool")

    def compute_output_spec(self, token_ids):
        return keras.KerasTensor(token_ids.shape, dtype="bool")


def token_ids_model(lm) -> keras.Model:
    """`lm` (a KerasHub CausalLM) as a model of token ids -> next-token logits."""
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    logits = lm({"token_ids": ids, "padding_mask": AllTokens(name="all_tokens")(ids)})
    return keras.Model(ids, logits, name="preset_lm")


class TextBody:
    """A pretrained language model and how texts become its inputs.

    Attributes:
        kind: `"encoder"`, `"causal_lm"` or `"own_gpt"`.
        source: the folder it came from.
        backbone: keras.Model. The body, named "backbone".
        sequence_length: int. Tokens per example, special tokens included.
        special_tokens: int. Tokens the preprocessing adds to each text.
    """

    def __init__(self, kind, source, backbone, sequence_length, encoder, tokenizer):
        self.kind, self.source = kind, source
        self.backbone = backbone
        self.sequence_length = int(sequence_length)
        self._encode, self._tokenize = encoder, tokenizer
        self.special_tokens = int(np.sum(self.encode([""])["padding_mask"]))

    def encode(self, texts) -> dict:
        """Texts -> the model's inputs, numpy arrays (len(texts), sequence_length);
        a text too long is cut to fit."""
        return {k: np.asarray(v) for k, v in self._encode(list(texts)).items()}

    def lengths(self, texts) -> np.ndarray:
        """Tokens each text takes, special tokens included (before any cut)."""
        return np.array(
            [self._tokenize(t) + self.special_tokens for t in texts], "int64"
        )

    def build_classifier(self, num_classes: int, dropout: float = 0.1) -> keras.Model:
        """The body with a new head: the pooled token, dropout, softmax.

        The inputs are the dict `encode` returns; the body is the layer
        named "backbone".
        """
        sample = self.encode(["a"])
        inputs = {
            name: keras.Input((None,), dtype=str(array.dtype), name=name)
            for name, array in sample.items()
        }
        if self.kind == OWN_GPT:
            hidden = self.backbone(inputs["token_ids"])
        else:
            hidden = self.backbone(
                {k: v for k, v in inputs.items() if k in self.backbone.input}
            )
        if isinstance(hidden, dict) and "pooled_output" in hidden:
            # BERT: its pretrained pooler over [CLS], as KerasHub's own
            # BertTextClassifier reads it.
            x = hidden["pooled_output"]
        else:
            if isinstance(hidden, dict):
                hidden = hidden["sequence_output"]
            position = "first" if self.kind == ENCODER else "last"
            x = TokenPooling(position, name="pool")(hidden, inputs["padding_mask"])
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
        out = keras.layers.Dense(
            num_classes, activation="softmax", dtype="float32", name="head"
        )(x)
        return keras.Model(inputs, out, name="text_classifier")


def _hub_body(path, sequence_length) -> TextBody:
    hub = keras_hub()
    kind = preset_kind(path)
    try:
        backbone = hub.models.Backbone.from_preset(path)
    except Exception as e:  # a broken or partial preset: say which folder
        raise PresetError(
            f"{path!r} could not be loaded as a KerasHub backbone: "
            f"{type(e).__name__}: {str(e).splitlines()[0]}"
        ) from None
    most = backbone.get_config().get("max_sequence_length") or 512
    if sequence_length is None:
        sequence_length = _preset_sequence_length(path) or most
    if sequence_length > most:
        raise PresetError(
            f"`sequence_length`={sequence_length} is over the "
            f"{type(backbone).__name__}'s max_sequence_length of {most} in {path!r}"
        )
    backbone.name = BACKBONE_NAME
    if kind == ENCODER:
        pre = hub.models.TextClassifierPreprocessor.from_preset(
            path, sequence_length=sequence_length
        )

        def encode(texts):
            return pre(texts)

    else:
        pre = hub.models.CausalLMPreprocessor.from_preset(
            path, sequence_length=sequence_length
        )

        def encode(texts):
            return pre.generate_preprocess(texts, sequence_length=sequence_length)

    tokenizer = pre.tokenizer
    body = TextBody(
        kind,
        os.path.abspath(path),
        backbone,
        sequence_length,
        encode,
        lambda text: int(np.asarray(tokenizer(text)).shape[0]),
    )
    body.preprocessor = pre
    return body


def _preset_sequence_length(path) -> int | None:
    """The sequence length the preset's preprocessor.json sets, if any (without
    one, KerasHub would fall back to 512, whatever the backbone takes)."""
    file = os.path.join(path, "preprocessor.json")
    if not os.path.isfile(file):
        return None
    with open(file, encoding="utf-8") as f:
        return json.load(f).get("config", {}).get("sequence_length")


def _gpt_run_body(path, sequence_length, safe_mode=True) -> TextBody:
    from keras_bigmodels.data.text import Tokenizer
    from keras_bigmodels.models.gpt import _context_length
    from keras_bigmodels.saving import load_model

    tokenizer_file = os.path.join(path, "tokenizer.json")
    if not os.path.isfile(tokenizer_file):
        raise PresetError(f"{path!r} has no tokenizer.json: expected a 'train gpt' run")
    gpt = load_model(path, safe_mode=safe_mode)
    tok = Tokenizer.load(tokenizer_file)
    most = _context_length(gpt)
    sequence_length = sequence_length or most
    if sequence_length > most:
        raise PresetError(
            f"`sequence_length`={sequence_length} is over the GPT's context of "
            f"{most} tokens in {path!r}"
        )
    body = keras.Model(
        gpt.input, gpt.get_layer("final_norm").output, name=BACKBONE_NAME
    )

    def encode(texts):
        ids, lengths = tok.encode_batch(texts, sequence_length, return_lengths=True)
        mask = np.arange(sequence_length)[None, :] < np.asarray(lengths)[:, None]
        return {"token_ids": ids, "padding_mask": mask}

    result = TextBody(
        OWN_GPT,
        os.path.abspath(path),
        body,
        sequence_length,
        encode,
        lambda text: int(tok.encode_batch([text], 1, return_lengths=True)[1][0]),
    )
    result.tokenizer = tok
    return result


def open_text_body(
    path, sequence_length: int | None = None, safe_mode=True
) -> TextBody:
    """A KerasHub preset folder or a `train gpt` run, as a text classifier's body.

    Args:
        path: a preset folder (`save_to_preset`) or a `train gpt` run folder.
        sequence_length: int or None. Tokens per example; default: the
            preset's preprocessor's (else the backbone's most), or the GPT's
            context length.
        safe_mode: bool. Refuse Lambda layers when opening a run.

    Returns:
        TextBody.

    Raises:
        PresetError: one line saying what was expected.

    Example:

    >>> body = open_text_body("presets/bert_tiny_en_uncased")  # doctest: +SKIP
    >>> model = body.build_classifier(num_classes=3)  # doctest: +SKIP
    """
    path = os.fspath(path)
    if sequence_length is not None and (
        isinstance(sequence_length, bool)
        or not isinstance(sequence_length, int)
        or sequence_length < 2
    ):
        raise ValueError(
            "`sequence_length` must be an integer >= 2. "
            f"Received: sequence_length={sequence_length!r}"
        )
    if is_gpt_run(path):
        return _gpt_run_body(path, sequence_length, safe_mode)
    if os.path.isfile(os.path.join(path, "manifest.json")):
        raise PresetError(
            f"{path!r} is a run folder, but not of 'train gpt': expected a "
            "KerasHub preset folder or a 'train gpt' run"
        )
    if not is_preset(path):
        raise PresetError(
            f"{path!r} is neither a KerasHub preset folder (config.json, "
            "metadata.json and tokenizer.json, written by save_to_preset) nor "
            "a 'train gpt' run"
        )
    return _hub_body(path, sequence_length)


def load_causal_lm(path):
    """A KerasHub causal-LM preset, for `generate` (`keras_hub.models.CausalLM`).

    Raises:
        PresetError: not a preset, no tokenizer, or not a causal LM.
    """
    path = os.fspath(path)
    kind = preset_kind(path)
    if kind != CAUSAL:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            backbone = json.load(f).get("class_name", "?")
        raise PresetError(
            f"{path!r} holds a {backbone}, which does not generate text: "
            "expected a causal-LM preset (GPT-2, Gemma, Llama, ...)"
        )
    return keras_hub().models.CausalLM.from_preset(path)


def generate_from_preset(
    path,
    prompt: str,
    *,
    max_new_tokens: int = 50,
    temperature: float = 1.0,
    top_k: int | None = 20,
    seed: int | None = None,
    too_long: str = "error",
) -> str:
    """Continue `prompt` with a KerasHub causal-LM preset from a folder.

    Sampling as `models.gpt.generate`: the `top_k` most likely tokens at
    `temperature` (0: always the most likely), the same seed the same text.
    A prompt that leaves no room under the preset's sequence length is
    refused (`too_long="error"`) or cut to its last tokens (`"truncate"`).

    Args:
        path: a causal-LM preset folder (GPT-2, Gemma, Llama, ...).
        prompt: str.
        max_new_tokens, temperature, top_k, seed: sampling.
        too_long: `"error"` or `"truncate"`.

    Returns:
        The prompt and its continuation, as text.

    Example:

    >>> generate_from_preset("presets/gpt2_base_en", "The cat")  # doctest: +SKIP
    """
    hub = keras_hub()
    if too_long not in ("error", "truncate"):
        raise ValueError(
            f"`too_long` must be 'error' or 'truncate'. Received: too_long={too_long!r}"
        )
    lm = load_causal_lm(path)
    pre = lm.preprocessor
    most = lm.backbone.get_config().get("max_sequence_length") or pre.sequence_length
    used = int(np.asarray(pre.tokenizer(prompt)).shape[0]) + 1  # + start token
    if used + 1 > most:
        if too_long == "error":
            raise ValueError(
                f"The prompt takes {used} tokens of the {most} this preset "
                "reads at once; shorten it, or pass `too_long`='truncate' to "
                "keep its end"
            )
        # Keep the prompt's end, leaving room for the new tokens.
        keep = most - 1 - min(max_new_tokens, most // 2)
        ids = np.asarray(pre.tokenizer(prompt))[-keep:]
        prompt = np.asarray(pre.tokenizer.detokenize(ids)).item()
        prompt = prompt.decode("utf-8") if isinstance(prompt, bytes) else prompt
        used = len(ids) + 1
    if temperature == 0:
        sampler = hub.samplers.GreedySampler()
    else:
        sampler = hub.samplers.TopKSampler(
            k=top_k or lm.backbone.get_config()["vocabulary_size"],
            temperature=temperature,
            seed=seed,
        )
    lm.compile(sampler=sampler)
    text = lm.generate(prompt, max_length=min(most, used + max_new_tokens))
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)
