"""What each attention head of a Transformer classifier looks at (challenge 1.3).

Article §2.4 (注意力机制): softmax(QKᵀ/√d_k) is a (seq, seq) table per head
saying how much each token draws from every other. `attention_weights`
reads those tables out of a `build_transformer` model for one sequence;
`plot_attention` draws them, one panel per block and head.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from keras_bigmodels.layers.transformer_blocks import (
    TransformerEncoderBlock,
    padding_to_attention_mask,
)


def attention_weights(model: keras.Model, tokens) -> list[np.ndarray]:
    """The self-attention weights of every encoder block for one token sequence.

    Args:
        model: a `build_transformer` classifier.
        tokens: 1-D int array of token ids (0 is padding).

    Returns:
        One float array (heads, seq, seq) per block; each row sums to 1
        over the non-padding keys.

    Example:

    >>> w = attention_weights(model, tok.encode("好评如潮"))  # doctest: +SKIP
    """
    blocks = [
        layer for layer in model.layers if isinstance(layer, TransformerEncoderBlock)
    ]
    if not blocks:
        raise ValueError(
            "`model` has no TransformerEncoderBlock; use a build_transformer "
            f"model. Received: model={model.name!r}"
        )
    ids = np.asarray(tokens, dtype="int32")[None]  # (1, seq)
    mask = padding_to_attention_mask(ids != 0)

    # The input of each block, from the model's own graph.
    def first(t):  # a block's input may list its padding mask too
        return t[0] if isinstance(t, (list, tuple)) else t

    # One input tensor, not a list of one: the probe is called with an array.
    probe = keras.Model(
        model.inputs[0] if len(model.inputs) == 1 else model.inputs,
        [first(block.input) for block in blocks],
    )
    inputs = probe(ids, training=False)
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    out = []
    for block, x in zip(blocks, inputs, strict=True):
        h = block._attention_norm(x) if block.norm_first else x
        _, scores = block._attention(
            h, h, attention_mask=mask, return_attention_scores=True, training=False
        )
        out.append(np.asarray(scores)[0])  # (heads, seq, seq)
    return out


def plot_attention(weights: list, labels, path) -> str:
    """Heatmaps of `attention_weights`: rows are blocks, columns heads.

    Args:
        weights: list of (heads, seq, seq) arrays.
        labels: the tokens as text, one per position (Chinese is drawn).
        path: the PNG file to write.

    Returns:
        The path written.
    """
    import matplotlib.pyplot as plt

    from keras_bigmodels.insight.fonts import text_fonts

    labels = [str(t) for t in labels]
    blocks, heads = len(weights), weights[0].shape[0]
    size = max(2.5, 0.25 * len(labels))
    with text_fonts(labels):
        fig, axes = plt.subplots(
            blocks, heads, figsize=(size * heads, size * blocks), squeeze=False
        )
        for b, w in enumerate(weights):
            for h in range(heads):
                ax = axes[b][h]
                ax.imshow(w[h], cmap="viridis", vmin=0, vmax=1)
                ax.set_title(f"block {b + 1}, head {h + 1}", fontsize=8)
                ticks = range(len(labels))
                ax.set_xticks(ticks, labels, fontsize=6, rotation=90)
                ax.set_yticks(ticks, labels, fontsize=6)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return os.fspath(path)
