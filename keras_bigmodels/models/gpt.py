"""A small decoder-only causal language model, and text generation."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from keras_bigmodels import _validation as V
from keras_bigmodels.layers import TransformerDecoderBlock
from keras_bigmodels.models.inference import forward
from keras_bigmodels.models.transformer import embed_tokens


def build_gpt(
    vocab_size: int,
    *,
    max_length: int = 128,
    embed_dim: int = 128,
    num_heads: int = 4,
    num_layers: int = 4,
    intermediate_dim: int = 512,
    dropout: float = 0.1,
    positions: str = "learned",
    name: str = "gpt",
):
    """A GPT-style language model: token i predicts token i + 1.

    Article §3.2 / "大模型": a stack of causal `TransformerDecoderBlock`s
    (pre-norm, no cross-attention) over token + position embeddings, as in
    GPT-2 (https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf)
    and nanoGPT.

    Args:
        vocab_size: int. Token ids 0..vocab_size-1.
        max_length: int. Context length.
        embed_dim: int. Width d.
        num_heads: int. Attention heads (embed_dim must divide by it).
        num_layers: int. Decoder blocks.
        intermediate_dim: int. Feed-forward hidden size.
        dropout: float in [0, 1).
        positions: `"learned"` (GPT) or `"sinusoidal"`.
        name: str.

    Returns:
        A `keras.Model` from int ids (batch, seq <= max_length) to next-token
        logits (batch, seq, vocab_size). Compile with
        `SparseCategoricalCrossentropy(from_logits=True)`.

    Example:

    >>> model = build_gpt(vocab_size=60, max_length=32, embed_dim=32, num_layers=1)
    >>> model.output_shape
    (None, None, 60)
    """
    for arg, value in (
        ("vocab_size", vocab_size),
        ("max_length", max_length),
        ("embed_dim", embed_dim),
        ("num_heads", num_heads),
        ("num_layers", num_layers),
        ("intermediate_dim", intermediate_dim),
    ):
        V.check_positive_int(arg, value)
    V.check_fraction("dropout", dropout, allow_none=False)
    V.check_divisible("embed_dim", value=embed_dim, by_name="num_heads", by=num_heads)
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    # In a language model id 0 is a real token, not padding: no padding mask.
    x, _ = embed_tokens(
        tokens,
        vocab_size=vocab_size,
        embed_dim=embed_dim,
        max_length=max_length,
        positions=positions,
        dropout=dropout,
        name="gpt",
    )
    for i in range(num_layers):
        x = TransformerDecoderBlock(
            num_heads,
            intermediate_dim,
            dropout=dropout,
            norm_first=True,
            activation="gelu",
            name=f"block{i + 1}",
        )(x)
    x = layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    logits = layers.Dense(vocab_size, dtype="float32", name="logits")(x)
    return keras.Model(tokens, logits, name=name)


def _context_length(model) -> int:
    for layer in model.layers:
        if hasattr(layer, "max_length"):
            return layer.max_length
    raise ValueError("`model` has no position layer; is it from build_gpt?")


def generate(
    model,
    prompt,
    *,
    max_new_tokens: int = 100,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    tokenizer=None,
    on_token=None,
):
    """Continue a prompt with a language model from `build_gpt`.

    Each new token is sampled from softmax(logits / temperature), restricted
    to the `top_k` most likely tokens when given; `temperature=0` picks the
    most likely token. The same seed always gives the same text. With a
    tokenizer, padding and the unknown token are never emitted.

    Args:
        model: a `build_gpt` model.
        prompt: str (with `tokenizer`) or a sequence of token ids.
        max_new_tokens: int. Tokens to add.
        temperature: float >= 0.
        top_k: int or None.
        seed: int or None.
        tokenizer: a `keras_bigmodels.data.Tokenizer`, to take and return text.
        on_token: callable or None. Called with each new token as it is
            sampled (its text with a tokenizer and a text prompt, else its
            id), so a caller can show the text while it is being written.

    Returns:
        The prompt plus the new tokens: str with a tokenizer, else int32 ids.

    Example:

    >>> text = generate(model, "The ", max_new_tokens=100, top_k=5, seed=0,
    ...                 tokenizer=tok)  # doctest: +SKIP
    """
    V.check_positive_int("max_new_tokens", max_new_tokens)
    V.check_non_negative("temperature", temperature)
    V.check_positive_int("top_k", top_k, allow_none=True)
    if isinstance(prompt, str):
        if tokenizer is None:
            raise ValueError(
                "A text `prompt` needs a `tokenizer`. "
                f"Received: prompt={prompt!r}, tokenizer=None"
            )
        ids = list(tokenizer.encode(prompt))
    else:
        ids = [int(i) for i in prompt]
    if not ids:
        raise ValueError(f"`prompt` is empty. Received: prompt={prompt!r}")
    context = _context_length(model)
    rng = np.random.default_rng(seed)
    # A fixed (1, context) buffer: one compiled graph for every step. Causal
    # attention means the zeros after the last real token change nothing.
    buf = np.zeros((1, context), "int32")
    step = forward(model)
    for _ in range(max_new_tokens):
        window = ids[-context:]
        buf[0, : len(window)] = window
        buf[0, len(window) :] = 0
        logits = np.asarray(step(buf)[0, len(window) - 1], "float64")
        if tokenizer is not None:
            logits[:2] = -np.inf  # never emit padding (0) or [UNK] (1) as text
        if temperature == 0:
            nxt = int(np.argmax(logits))
        else:
            logits = logits / temperature
            if top_k is not None and top_k < len(logits):
                cutoff = np.partition(logits, -top_k)[-top_k]
                logits = np.where(logits < cutoff, -np.inf, logits)
            p = np.exp(logits - logits.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
        ids.append(nxt)
        if on_token is not None:
            if tokenizer is not None and isinstance(prompt, str):
                space = " " if tokenizer.level == "word" else ""
                on_token(space + tokenizer.decode([nxt]))
            else:
                on_token(nxt)
    if tokenizer is not None and isinstance(prompt, str):
        return tokenizer.decode(ids)
    return np.asarray(ids, "int32")
