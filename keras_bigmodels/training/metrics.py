"""Metrics the article's tasks need beyond Keras's own."""

import keras
from keras import ops

from keras_bigmodels._export import export


@export
class SequenceExactMatch(keras.metrics.Mean):
    """Fraction of target sequences whose every token is predicted right.

    Under teacher forcing this equals greedy decoding's exact-match accuracy:
    if the argmax is right at every step given the true prefix, greedy
    decoding reproduces the target token by token, and conversely. Padding
    (`ignore_class`) does not count.

    Args:
        ignore_class: int. Target id to ignore (padding).
        name: str.
        dtype: metric dtype.

    Example:

    >>> import numpy as np
    >>> m = SequenceExactMatch()
    >>> logits = np.eye(7)[[5, 6, 0]][None]  # argmax 5, 6, then padding
    >>> m.update_state([[5, 6, 0]], logits)
    >>> float(m.result())
    1.0
    """

    def __init__(self, ignore_class=0, name="exact_match", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.ignore_class = ignore_class

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        pred = ops.cast(ops.argmax(y_pred, axis=-1), "int32")  # (batch, T)
        right = ops.logical_or(
            ops.equal(pred, y_true), ops.equal(y_true, self.ignore_class)
        )
        match = ops.cast(ops.all(right, axis=-1), self.dtype)  # (batch,)
        return super().update_state(match, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update({"ignore_class": self.ignore_class})
        return config
