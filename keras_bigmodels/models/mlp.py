"""A multilayer perceptron for tables, with missing values filled inside it."""

from __future__ import annotations

import keras
from keras import layers

from keras_bigmodels import _validation as V
from keras_bigmodels.layers.missing_values import MissingValueImputer


def build_mlp(
    num_features: int,
    num_classes: int,
    *,
    hidden=(64, 32),
    dropout: float = 0.2,
    imputer: MissingValueImputer | None = None,
    normalization: layers.Normalization | None = None,
    name: str = "mlp",
) -> keras.Model:
    """Dense layers on table rows; NaN in, class probabilities out.

    Article FAQ §6.2 (missing data) and §6.1 (tabular data: a small model).
    Put an adapted `MissingValueImputer` first, and an adapted
    `keras.layers.Normalization` after it (adapt both on the training split
    only): the model then carries its own preprocessing into `.keras` files.

    Args:
        num_features: int. Columns of a row.
        num_classes: int. Softmax outputs; 1 gives one sigmoid output.
        hidden: tuple of ints. Units of the hidden Dense (ReLU) layers.
        dropout: float in [0, 1). Dropout after each hidden layer.
        imputer: an adapted `MissingValueImputer`, or None (then the input
            must have no NaN).
        normalization: an adapted `keras.layers.Normalization`, or None.
        name: str.

    Returns:
        A functional `keras.Model` taking (batch, num_features) floats.

    Example:

    >>> imputer = MissingValueImputer("median")
    >>> imputer.adapt(x_train)  # doctest: +SKIP
    >>> model = build_mlp(30, 2, imputer=imputer)  # doctest: +SKIP
    """
    V.check_positive_int("num_features", num_features)
    V.check_positive_int("num_classes", num_classes)
    hidden = V.check_int_sequence("hidden", hidden, allow_empty=True)
    V.check_fraction("dropout", dropout, allow_none=False)
    inputs = keras.Input(shape=(num_features,), name="features")
    x = inputs
    if imputer is not None:
        x = imputer(x)
    if normalization is not None:
        x = normalization(x)
    for i, units in enumerate(hidden, 1):
        x = layers.Dense(units, activation="relu", name=f"dense{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{i}")(x)
    outputs = layers.Dense(
        num_classes,
        activation="sigmoid" if num_classes == 1 else "softmax",
        name="predictions",
    )(x)
    return keras.Model(inputs, outputs, name=name)
