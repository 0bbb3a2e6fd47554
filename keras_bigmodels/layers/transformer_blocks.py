"""Transformer encoder and decoder blocks: attention + feed-forward, with residuals."""

import keras
from keras import ops

from keras_bigmodels import _validation as V
from keras_bigmodels._export import export
from keras_bigmodels.layers.multi_head_attention import MultiHeadAttention


def padding_to_attention_mask(padding_mask, attention_mask=None):
    """(batch, seq_k) keep-mask -> (batch, 1, seq_k), merged with `attention_mask`."""
    mask = None
    if padding_mask is not None:
        mask = ops.expand_dims(ops.cast(padding_mask, "bool"), 1)
    if attention_mask is not None:
        attention_mask = ops.cast(attention_mask, "bool")
        mask = attention_mask if mask is None else ops.logical_and(mask, attention_mask)
    return mask


class _BlockBase(keras.layers.Layer):
    """Shared constructor, config and residual wiring of the two blocks."""

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.1,
        norm_first=False,
        activation="relu",
        layer_norm_epsilon=1e-5,
        key_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = V.check_positive_int("num_heads", num_heads)
        self.intermediate_dim = V.check_positive_int(
            "intermediate_dim", intermediate_dim
        )
        self.dropout = V.check_fraction("dropout", dropout, allow_none=False)
        self.norm_first = bool(norm_first)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.key_dim = V.check_positive_int("key_dim", key_dim, allow_none=True)
        self.supports_masking = True

    def _head_dim(self, dim):
        if self.key_dim:
            return self.key_dim
        if dim % self.num_heads:
            raise ValueError(
                f"The model width {dim} is not divisible by `num_heads`; pass "
                f"`key_dim`. Received: num_heads={self.num_heads}"
            )
        return dim // self.num_heads

    def _norm(self, name):
        return keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )

    def _build_ffn(self, input_shape):
        dim = input_shape[-1]
        self._ffn_norm = self._norm("ffn_norm")
        self._ffn_norm.build(input_shape)
        self._ffn_in = keras.layers.Dense(
            self.intermediate_dim,
            activation=self.activation,
            dtype=self.dtype_policy,
            name="ffn_in",
        )
        self._ffn_in.build(input_shape)
        self._ffn_out = keras.layers.Dense(dim, dtype=self.dtype_policy, name="ffn_out")
        self._ffn_out.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self._dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy
        )

    def _residual(self, x, *, norm, fn, training):
        # Pre-norm: x + f(LN(x)); post-norm (the original paper): LN(x + f(x)).
        if self.norm_first:
            return x + self._dropout_layer(fn(norm(x)), training=training)
        return norm(x + self._dropout_layer(fn(x), training=training))

    def _ffn(self, x):
        return self._ffn_out(self._ffn_in(x))

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return input_shape

    def compute_mask(self, inputs, *args, mask=None, **kwargs):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "norm_first": self.norm_first,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "key_dim": self.key_dim,
            }
        )
        return config


@export
class TransformerEncoderBlock(_BlockBase):
    """Self-attention then a feed-forward network, each with residual and LayerNorm.

    Article §3.2 (Transformer 编码器). Post-norm as in the paper by default;
    `norm_first=True` gives the pre-norm variant that trains more stably in
    deep stacks.

    Args:
        num_heads: int. Attention heads.
        intermediate_dim: int. Hidden size of the feed-forward network.
        dropout: float in [0, 1). Dropout on attention weights and residuals.
        norm_first: bool. Pre-norm instead of post-norm.
        activation: feed-forward activation.
        layer_norm_epsilon: float.
        key_dim: int or None. Per-head size; defaults to width / num_heads.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: (batch, seq, dim).
        padding_mask: boolean (batch, seq), True for real tokens. A Keras mask
            on `inputs` (e.g. from `Embedding(mask_zero=True)`) is used when
            this is None.
        attention_mask: boolean (batch, seq, seq), True = attend.
        training: bool.

    Returns:
        (batch, seq, dim).

    Example:

    >>> import numpy as np
    >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
    >>> block(np.zeros((2, 7, 16), "float32")).shape
    TensorShape([2, 7, 16])
    """

    def build(self, input_shape):
        dim = input_shape[-1]
        self._attention = MultiHeadAttention(
            self.num_heads,
            self._head_dim(dim),
            dropout=self.dropout,
            dtype=self.dtype_policy,
            name="self_attention",
        )
        self._attention.build(input_shape, input_shape)
        self._attention_norm = self._norm("self_attention_norm")
        self._attention_norm.build(input_shape)
        self._build_ffn(input_shape)

    def call(
        self, inputs, padding_mask=None, attention_mask=None, mask=None, training=None
    ):
        padding_mask = mask if padding_mask is None else padding_mask
        attn_mask = padding_to_attention_mask(padding_mask, attention_mask)

        def attend(x):
            return self._attention(x, x, attention_mask=attn_mask, training=training)

        x = self._residual(
            inputs, norm=self._attention_norm, fn=attend, training=training
        )
        return self._residual(x, norm=self._ffn_norm, fn=self._ffn, training=training)


@export
class TransformerDecoderBlock(_BlockBase):
    """Causal self-attention, optional cross-attention, then a feed-forward network.

    Article §3.2 (Transformer 解码器). Each position attends only to itself
    and earlier positions; with `cross_attention=True` it then attends to
    the encoder's outputs (encoder–decoder models). Without it the block is
    the GPT block.

    Args:
        num_heads, intermediate_dim, dropout, norm_first, activation,
        layer_norm_epsilon, key_dim: as `TransformerEncoderBlock`.
        cross_attention: bool. Add attention over `encoder_outputs`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: (batch, seq_t, dim).
        encoder_outputs: (batch, seq_s, dim); needed with cross-attention.
        decoder_padding_mask: boolean (batch, seq_t). A Keras mask on `inputs`
            is used when this is None.
        encoder_padding_mask: boolean (batch, seq_s).
        training: bool.

    Returns:
        (batch, seq_t, dim).

    Example:

    >>> import numpy as np
    >>> block = TransformerDecoderBlock(2, 32, cross_attention=True)
    >>> x, enc = np.zeros((2, 5, 16), "float32"), np.zeros((2, 9, 16), "float32")
    >>> block(x, enc).shape
    TensorShape([2, 5, 16])
    """

    def __init__(self, num_heads, intermediate_dim, cross_attention=False, **kwargs):
        super().__init__(num_heads, intermediate_dim, **kwargs)
        self.cross_attention = bool(cross_attention)

    def build(self, inputs_shape, encoder_outputs_shape=None):
        dim = inputs_shape[-1]
        head = self._head_dim(dim)
        self._self_attention = MultiHeadAttention(
            self.num_heads,
            head,
            dropout=self.dropout,
            dtype=self.dtype_policy,
            name="self_attention",
        )
        self._self_attention.build(inputs_shape, inputs_shape)
        self._self_attention_norm = self._norm("self_attention_norm")
        self._self_attention_norm.build(inputs_shape)
        if self.cross_attention:
            enc_shape = encoder_outputs_shape or inputs_shape
            self._cross_attention = MultiHeadAttention(
                self.num_heads,
                head,
                dropout=self.dropout,
                dtype=self.dtype_policy,
                name="cross_attention",
            )
            self._cross_attention.build(inputs_shape, enc_shape)
            self._cross_attention_norm = self._norm("cross_attention_norm")
            self._cross_attention_norm.build(inputs_shape)
        self._build_ffn(inputs_shape)

    def call(
        self,
        inputs,
        encoder_outputs=None,
        decoder_padding_mask=None,
        encoder_padding_mask=None,
        mask=None,
        training=None,
    ):
        if self.cross_attention and encoder_outputs is None:
            raise ValueError("This block has cross-attention: pass `encoder_outputs`.")
        if decoder_padding_mask is None:
            decoder_padding_mask = mask
        self_mask = padding_to_attention_mask(decoder_padding_mask)

        def self_attend(x):
            return self._self_attention(
                x, x, attention_mask=self_mask, use_causal_mask=True, training=training
            )

        x = self._residual(
            inputs, norm=self._self_attention_norm, fn=self_attend, training=training
        )
        if self.cross_attention:
            cross_mask = padding_to_attention_mask(encoder_padding_mask)

            def cross_attend(y):
                return self._cross_attention(
                    y, encoder_outputs, attention_mask=cross_mask, training=training
                )

            x = self._residual(
                x, norm=self._cross_attention_norm, fn=cross_attend, training=training
            )
        return self._residual(x, norm=self._ffn_norm, fn=self._ffn, training=training)

    def get_config(self):
        config = super().get_config()
        config.update({"cross_attention": self.cross_attention})
        return config
