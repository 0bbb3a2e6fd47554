"""Small layer-stack helpers the builders share; layers are named f"{name}_..."."""

from __future__ import annotations

import keras
from keras import layers


def conv_block_layers(
    filters: int,
    *,
    kernel_size: int,
    padding: str = "valid",
    batch_norm: bool = False,
    l2: float = 0.0,
    pool: bool = True,
    name: str = "block",
) -> list:
    """Conv2D -> (BatchNorm) -> ReLU -> MaxPooling2D(2x2), as a list of layers.

    With `batch_norm` the convolution has no bias (BatchNorm's offset plays
    that part) and ReLU comes after normalization, as in ResNet.
    """
    reg = keras.regularizers.L2(l2) if l2 else None
    if not batch_norm:
        out = [
            layers.Conv2D(
                filters,
                kernel_size,
                padding=padding,
                activation="relu",
                kernel_regularizer=reg,
                name=f"{name}_conv",
            )
        ]
    else:
        out = [
            layers.Conv2D(
                filters,
                kernel_size,
                padding=padding,
                use_bias=False,
                kernel_regularizer=reg,
                name=f"{name}_conv",
            ),
            layers.BatchNormalization(name=f"{name}_bn"),
            layers.Activation("relu", name=f"{name}_relu"),
        ]
    if pool:
        out.append(layers.MaxPooling2D((2, 2), name=f"{name}_pool"))
    return out


def dense_block_layers(
    units: int, dropout: float = 0.0, l2: float = 0.0, name: str = "dense"
) -> list:
    """Dense(relu) -> (Dropout), as a list of layers."""
    reg = keras.regularizers.L2(l2) if l2 else None
    out = [layers.Dense(units, activation="relu", kernel_regularizer=reg, name=name)]
    if dropout:
        out.append(layers.Dropout(dropout, name=f"{name}_dropout"))
    return out


def light_augmentation(name: str = "augment") -> list:
    """Small shifts, rotations and zooms; no flips, so digits and text stay valid.

    Active only in training (`training=True`), so evaluation and prediction
    see the image as it is.
    """
    return [
        layers.RandomTranslation(0.1, 0.1, name=f"{name}_translate"),
        layers.RandomRotation(0.05, name=f"{name}_rotate"),
        layers.RandomZoom(0.1, name=f"{name}_zoom"),
    ]
