"""Missing values filled inside the model, with statistics of the training data."""

import keras
import numpy as np
from keras import ops

from keras_bigmodels import _validation as V
from keras_bigmodels._export import export
from keras_bigmodels.data.tabular import STRATEGIES, column_statistics


@export
class MissingValueImputer(keras.layers.Layer):
    """Fill missing values (NaN) with statistics learned from training data.

    Article FAQ §6.2 (如何处理缺失数据). Call `adapt` on the training split
    only: the statistics are then weights of the layer, saved and loaded
    with the model, so prediction uses exactly the training statistics and
    the validation data never changes them.

    Args:
        strategy: str. `"mean"`, `"median"`, `"max"` or `"constant"`.
        fill_value: float. The value of `"constant"`, and of columns that
            had no value at all in the training data.
        add_indicator: bool. Append one 0/1 column per feature saying
            whether the value was missing (so the model can learn from
            missingness itself).

    Example:

    >>> imputer = MissingValueImputer("median")
    >>> imputer.adapt(np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 6.0]]))
    >>> imputer(np.array([[np.nan, np.nan]])).numpy().tolist()
    [[3.0, 5.0]]
    """

    def __init__(self, strategy="mean", fill_value=0.0, add_indicator=False, **kwargs):
        super().__init__(**kwargs)
        V.check_choice("strategy", strategy, STRATEGIES)
        if (
            isinstance(fill_value, bool)
            or not isinstance(fill_value, (int, float))
            or (not np.isfinite(fill_value))
        ):
            raise ValueError(
                "`fill_value` must be a finite number. "
                f"Received: fill_value={fill_value!r}"
            )
        self.strategy = strategy
        self.fill_value = float(fill_value)
        self.add_indicator = bool(add_indicator)
        self.supports_masking = False

    def build(self, input_shape):
        # (features,): the fill value of each column.
        self.statistics = self.add_weight(
            name="statistics",
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.fill_value),
            trainable=False,
        )

    def adapt(self, data) -> None:
        """Learn the fill values from `data` (the training split only).

        Args:
            data: a 2-D array, or a `tf.data.Dataset` of such batches (or
                of `(x, y)` batches).
        """
        if hasattr(data, "as_numpy_iterator"):
            parts = [
                b[0] if isinstance(b, tuple) else b for b in data.as_numpy_iterator()
            ]
            data = np.concatenate(parts)
        data = np.asarray(data, dtype="float64")
        stats = column_statistics(data, self.strategy, self.fill_value)
        if not self.built:
            self.build(data.shape)
        self.statistics.assign(stats.astype(self.statistics.dtype))

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        missing = ops.isnan(x)  # (batch, features)
        filled = ops.where(missing, ops.cast(self.statistics, x.dtype), x)
        if self.add_indicator:
            return ops.concatenate([filled, ops.cast(missing, x.dtype)], axis=-1)
        return filled

    def compute_output_shape(self, input_shape):
        if self.add_indicator and input_shape[-1] is not None:
            return (*input_shape[:-1], 2 * input_shape[-1])
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "strategy": self.strategy,
            "fill_value": self.fill_value,
            "add_indicator": self.add_indicator,
        }
