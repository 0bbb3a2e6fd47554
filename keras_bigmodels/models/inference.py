"""One compiled forward pass per model, for loops that call it step by step.

Generating text, greedy decoding and held-out scoring call a model hundreds of
times on same-shaped batches. An eager `model(x)` runs every layer op by op
from Python; a `tf.function` runs the traced graph (`bench/generate.py` times
both; bench/README.md has the figures). The function is traced once
per input shape and kept on the model, and it runs outside any distribution
strategy's replica context, as an eager call would, so it needs no peers.
"""

from __future__ import annotations

import tensorflow as tf

_ATTRIBUTE = "_keras_bigmodels_forward"


def forward(model):
    """`x -> model(x, training=False)` as a compiled function, made once per model.

    Args:
        model: a `keras.Model`.

    Returns:
        A callable taking the model's inputs (arrays or tensors) and
        returning its outputs as tensors.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> x = np.ones((4, 3), "float32")
    >>> bool(np.allclose(forward(model)(x), model(x)))
    True
    """
    fn = model.__dict__.get(_ATTRIBUTE)
    if fn is None:
        fn = tf.function(
            lambda inputs: model(inputs, training=False), reduce_retracing=True
        )
        # Plain attribute, not tracked by Keras (not a layer, not a weight).
        object.__setattr__(model, _ATTRIBUTE, fn)
    return fn
