"""Attention(Q, K, V) = softmax(QKᵀ / √d_k) V as a Keras layer."""

import keras
from keras import ops

from keras_bigmodels._export import export
from keras_bigmodels._validation import check_fraction


def causal_mask(seq_q, seq_k):
    """Boolean (seq_q, seq_k): query i may attend key j when j <= i.

    The same top-left alignment as `keras.ops.dot_product_attention(is_causal=True)`.
    """
    rows = ops.expand_dims(ops.arange(seq_q), -1)
    cols = ops.expand_dims(ops.arange(seq_k), 0)
    return ops.greater_equal(rows, cols)


def merge_masks(attention_mask, *, use_causal_mask, seq_q, seq_k):
    """One boolean mask (True = attend) from a padding/attention mask and causality."""
    mask = None if attention_mask is None else ops.cast(attention_mask, "bool")
    if use_causal_mask:
        causal = causal_mask(seq_q, seq_k)
        mask = causal if mask is None else ops.logical_and(mask, causal)
    return mask


@export
class ScaledDotProductAttention(keras.layers.Layer):
    """Scaled dot-product attention, exactly the article's formula.

    Article §3.2.3 (注意力机制): Attention(Q, K, V) = softmax(QKᵀ / √d_k) V,
    from "Attention Is All You Need" (https://arxiv.org/abs/1706.03762).
    Works on any leading dimensions: `(batch, seq, d)` or `(batch, heads,
    seq, d)`. The logits and softmax are computed in float32 even under mixed
    precision. A query whose keys are all masked gets zero output and zero
    weights, never NaN.

    Args:
        dropout: float in [0, 1). Dropout on the attention weights in training.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        query: (..., seq_q, d_k).
        key: (..., seq_k, d_k). Defaults to `query` (self-attention).
        value: (..., seq_k, d_v). Defaults to `key`.
        attention_mask: boolean, True = attend, broadcastable to
            (..., seq_q, seq_k).
        use_causal_mask: bool. Query i attends only keys j <= i.
        return_attention_scores: bool. Also return the weights
            (..., seq_q, seq_k).
        training: bool. Dropout is active only in training.

    Returns:
        (..., seq_q, d_v), and the weights when asked for.

    Example:

    >>> import numpy as np
    >>> q = np.random.rand(2, 5, 8).astype("float32")
    >>> out, w = ScaledDotProductAttention()(q, q, q, return_attention_scores=True)
    >>> out.shape, w.shape
    (TensorShape([2, 5, 8]), TensorShape([2, 5, 5]))
    """

    def __init__(self, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.dropout = check_fraction("dropout", dropout, allow_none=False)
        self._dropout_layer = keras.layers.Dropout(dropout) if dropout else None
        # A Keras mask on the queries passes through: output i belongs to query i.
        self.supports_masking = True

    def call(
        self,
        query,
        key=None,
        value=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        key = query if key is None else key  # self-attention, e.g. in Sequential
        value = key if value is None else value
        d_k = ops.shape(query)[-1]
        # Scaling Q (seq_q x d) is cheaper than scaling QKᵀ (seq_q x seq_k).
        scale = ops.cast(1.0 / ops.sqrt(ops.cast(d_k, "float32")), query.dtype)
        # (..., seq_q, seq_k), in float32 so the softmax is stable.
        logits = ops.cast(
            ops.matmul(query * scale, ops.swapaxes(key, -1, -2)), "float32"
        )
        mask = merge_masks(
            attention_mask,
            use_causal_mask=use_causal_mask,
            seq_q=ops.shape(query)[-2],
            seq_k=ops.shape(key)[-2],
        )
        if mask is not None:
            logits = ops.where(mask, logits, ops.cast(-1e9, logits.dtype))
        if logits.shape[-1] == 1:
            # One key: its weight is 1 (keras.ops.softmax warns on this axis).
            weights = ops.ones_like(logits)
        else:
            weights = ops.softmax(logits, axis=-1)
        if mask is not None:
            # A row with nothing to attend to would be a uniform average of
            # masked keys; make it zero instead.
            any_key = ops.any(mask, axis=-1, keepdims=True)
            weights = weights * ops.cast(any_key, weights.dtype)
        weights = ops.cast(weights, value.dtype)
        attended = weights
        if self._dropout_layer is not None:
            attended = self._dropout_layer(weights, training=training)
        output = ops.matmul(attended, value)  # (..., seq_q, d_v)
        if return_attention_scores:
            return output, weights
        return output

    def compute_output_shape(self, query_shape, key_shape=None, value_shape=None):
        key_shape = query_shape if key_shape is None else key_shape
        value_shape = key_shape if value_shape is None else value_shape
        return tuple(query_shape[:-1]) + (value_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({"dropout": self.dropout})
        return config
