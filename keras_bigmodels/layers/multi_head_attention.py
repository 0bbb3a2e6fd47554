"""Multi-head attention built on `ScaledDotProductAttention`."""

import keras
from keras import ops

from keras_bigmodels import _validation as V
from keras_bigmodels._export import export
from keras_bigmodels.layers.attention import ScaledDotProductAttention


@export
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention: h scaled dot-product attentions in parallel.

    Article §3.2.3 (多头注意力): MultiHead(Q, K, V) = Concat(head_1..head_h) Wᴼ
    with head_i = Attention(Q Wᵢ^Q, K Wᵢ^K, V Wᵢ^V), from "Attention Is All
    You Need" (https://arxiv.org/abs/1706.03762). The per-head weights can be
    returned for plotting.

    Args:
        num_heads: int. Number of heads h.
        key_dim: int. Size of each head's queries and keys (d_k).
        value_dim: int or None. Size of each head's values; defaults to key_dim.
        dropout: float in [0, 1). Dropout on the attention weights.
        use_bias: bool. Biases in the four projections.
        output_dim: int or None. Output size; defaults to the query's last dim.
        kernel_initializer: initializer of the projections.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        query: (batch, seq_q, dim_q).
        value: (batch, seq_k, dim_v); defaults to `query` (self-attention).
        key: (batch, seq_k, dim_k); defaults to `value`.
        attention_mask: boolean (batch, seq_q, seq_k), True = attend.
        use_causal_mask: bool.
        return_attention_scores: bool. Also return (batch, heads, seq_q, seq_k).
        training: bool.

    Returns:
        (batch, seq_q, output_dim), and the per-head weights when asked for.

    Example:

    >>> import numpy as np
    >>> x = np.random.rand(2, 6, 16).astype("float32")
    >>> mha = MultiHeadAttention(num_heads=4, key_dim=8)
    >>> y, w = mha(x, x, return_attention_scores=True)
    >>> y.shape, w.shape
    (TensorShape([2, 6, 16]), TensorShape([2, 4, 6, 6]))
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_dim=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = V.check_positive_int("num_heads", num_heads)
        self.key_dim = V.check_positive_int("key_dim", key_dim)
        self.value_dim = V.check_positive_int("value_dim", value_dim, allow_none=True)
        self.dropout = V.check_fraction("dropout", dropout, allow_none=False)
        self.use_bias = use_bias
        self.output_dim = V.check_positive_int(
            "output_dim", output_dim, allow_none=True
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        v_dim = value_dim or key_dim

        def dense(units, name):
            return keras.layers.Dense(
                units,
                use_bias=use_bias,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
            )

        self._query_dense = dense(num_heads * key_dim, "query")
        self._key_dense = dense(num_heads * key_dim, "key")
        self._value_dense = dense(num_heads * v_dim, "value")
        self._attention = ScaledDotProductAttention(
            dropout=dropout, dtype=self.dtype_policy, name="attention"
        )
        self._output_dense = None

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        self._query_dense.build(query_shape)
        self._key_dense.build(key_shape)
        self._value_dense.build(value_shape)
        out_dim = self.output_dim or query_shape[-1]
        self._output_dense = keras.layers.Dense(
            out_dim,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="output",
        )
        self._output_dense.build(
            tuple(query_shape[:-1])
            + (self.num_heads * (self.value_dim or self.key_dim),)
        )

    def _split_heads(self, x, depth):
        # (batch, seq, heads * depth) -> (batch, heads, seq, depth)
        x = ops.reshape(x, (ops.shape(x)[0], -1, self.num_heads, depth))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        value = query if value is None else value  # self-attention
        key = value if key is None else key
        v_dim = self.value_dim or self.key_dim
        q = self._split_heads(self._query_dense(query), self.key_dim)
        k = self._split_heads(self._key_dense(key), self.key_dim)
        v = self._split_heads(self._value_dense(value), v_dim)
        if attention_mask is not None:
            # (batch, seq_q, seq_k) -> (batch, 1, seq_q, seq_k): same for every head.
            attention_mask = ops.expand_dims(ops.cast(attention_mask, "bool"), 1)
        out, weights = self._attention(
            q,
            k,
            v,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            return_attention_scores=True,
            training=training,
        )
        # (batch, heads, seq_q, d_v) -> (batch, seq_q, heads * d_v)
        out = ops.transpose(out, (0, 2, 1, 3))
        out = ops.reshape(out, (ops.shape(out)[0], -1, self.num_heads * v_dim))
        out = self._output_dense(out)
        if return_attention_scores:
            return out, weights
        return out

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return tuple(query_shape[:-1]) + (self.output_dim or query_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_dim": self.output_dim,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
