"""The article's convolutional network, with the FAQ's remedies as arguments."""

from __future__ import annotations

import keras
from keras import layers

from keras_bigmodels import _validation as V
from keras_bigmodels.models.blocks import (
    conv_block_layers,
    dense_block_layers,
    light_augmentation,
)


def build_cnn(
    input_shape=(224, 224, 3),
    num_classes: int = 10,
    *,
    filters=(32, 64, 128),
    kernel_size: int = 3,
    dense_units=(128,),
    dropout: float = 0.0,
    l2: float = 0.0,
    batch_norm: bool = False,
    augmentation=None,
    rescale: float | None = None,
    padding: str = "valid",
    name: str = "cnn",
):
    """The convolutional image classifier of the article, ready to train.

    Article §3.1 (CNN) and §4.2 (模型构建). Called with no arguments it is the
    article's network exactly: three Conv2D(3x3, relu) layers of 32, 64 and
    128 filters, each followed by MaxPooling2D(2x2), then Flatten, Dense(128,
    relu) and Dense(10, softmax). The other arguments are the FAQ's (§6.3)
    remedies for overfitting and the conveniences a real run needs.

    Args:
        input_shape: tuple of 3 ints. (height, width, channels).
        num_classes: int. Softmax outputs; 1 gives one sigmoid output.
        filters: tuple of ints. Filters of each conv block.
        kernel_size: int. Square kernel size of every convolution.
        dense_units: tuple of ints. Hidden Dense layers before the output.
        dropout: float in [0, 1). Dropout after each hidden Dense layer.
        l2: float. L2 weight decay on every kernel.
        batch_norm: bool. Conv -> BatchNorm -> ReLU instead of Conv(relu).
        augmentation: None, `"light"` (small shifts, rotations, zooms; no
            flips) or a list of Keras preprocessing layers. Active only while
            training.
        rescale: float or None. Multiply inputs by this first (`1/255` lets
            raw uint8 images in [0, 255] be fed directly).
        padding: `"valid"` (the article) or `"same"`.
        name: str. Model name; layers are named `block1_conv`, `dense1`, ...

    Returns:
        A `keras.Sequential` model, not compiled. Its outputs are class
        probabilities; compile with `sparse_categorical_crossentropy` for
        integer labels or `categorical_crossentropy` for one-hot labels.

    Example:

    >>> model = build_cnn()
    >>> model.count_params()
    11170250
    >>> small = build_cnn((32, 32, 1), rescale=1 / 255, dropout=0.3)
    """
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or any(
            isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in input_shape
        )
    ):
        raise ValueError(
            "`input_shape` must be 3 positive integers (height, width, "
            f"channels). Received: input_shape={input_shape!r}"
        )
    V.check_positive_int("num_classes", num_classes)
    filters = V.check_int_sequence("filters", filters)
    V.check_positive_int("kernel_size", kernel_size)
    dense_units = V.check_int_sequence("dense_units", dense_units, allow_empty=True)
    V.check_fraction("dropout", dropout, allow_none=False)
    V.check_non_negative("l2", l2)
    V.check_choice("padding", padding, ("valid", "same"))
    if rescale is not None and (
        isinstance(rescale, bool) or not isinstance(rescale, (int, float))
    ):
        raise ValueError(
            f"`rescale` must be a number or None. Received: rescale={rescale!r}"
        )
    if augmentation not in (None, "light") and not isinstance(
        augmentation, (list, tuple)
    ):
        raise ValueError(
            "`augmentation` must be None, 'light' or a list of layers. "
            f"Received: augmentation={augmentation!r}"
        )
    h, w = input_shape[:2]
    if (
        min(
            V.conv_feature_size(
                h, n_blocks=len(filters), kernel_size=kernel_size, padding=padding
            ),
            V.conv_feature_size(
                w, n_blocks=len(filters), kernel_size=kernel_size, padding=padding
            ),
        )
        < 1
    ):
        raise ValueError(
            f"`input_shape` is too small for {len(filters)} blocks of "
            f"{kernel_size}x{kernel_size} '{padding}' convolutions and 2x2 pooling. "
            f"Received: input_shape={tuple(input_shape)}"
        )

    stack = [keras.Input(shape=tuple(input_shape), name="image")]
    if rescale is not None:
        stack.append(layers.Rescaling(rescale, name="rescale"))
    if augmentation == "light":
        stack += light_augmentation()
    elif augmentation:
        stack += list(augmentation)
    for i, f in enumerate(filters, 1):
        stack += conv_block_layers(
            f,
            kernel_size=kernel_size,
            padding=padding,
            batch_norm=batch_norm,
            l2=l2,
            name=f"block{i}",
        )
    stack.append(layers.Flatten(name="flatten"))
    for i, units in enumerate(dense_units, 1):
        stack += dense_block_layers(units, dropout, l2, name=f"dense{i}")
    stack.append(
        layers.Dense(
            num_classes,
            activation="sigmoid" if num_classes == 1 else "softmax",
            kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
            name="predictions",
        )
    )
    return keras.Sequential(stack, name=name)
