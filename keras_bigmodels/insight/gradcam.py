"""Grad-CAM: where in the image a CNN looked for its answer (challenge 1.3).

Article §1.3 (models are hard to explain). Grad-CAM (Selvaraju et al. 2017,
https://arxiv.org/abs/1610.02391) weights each feature map of a
convolutional layer by the mean gradient of the class score with respect to
it, sums them and keeps the positive part:

    L = ReLU(sum_k a_k A^k),   a_k = mean_ij dy_c / dA^k_ij

The map is resized to the image and scaled to [0, 1].
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf


def _chain(model: keras.Model) -> list:
    """The layers of a single-path model, in order, without its input layer."""
    return [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]


def _feature_map_layers(layers: list) -> list:
    """The layers Grad-CAM can weigh: from the first convolution (or
    pretrained backbone) on, those whose output is a spatial map
    (batch, h, w, channels). Resizing and augmentation before the first
    convolution give 4-D outputs too, but hold pixels, not features."""
    first = next(
        (
            i
            for i, layer in enumerate(layers)
            if isinstance(layer, (keras.layers.Conv2D, keras.Model))
        ),
        len(layers),
    )
    return [layer for layer in layers[first:] if len(layer.output.shape) == 4]


def _default_layer(layers: list) -> str:
    # The last layer producing feature maps (batch, h, w, channels): the last
    # convolution, or a pretrained backbone as a whole.
    candidates = [
        layer
        for layer in _feature_map_layers(layers)
        if isinstance(layer, (keras.layers.Conv2D, keras.Model))
    ]
    if not candidates:
        raise ValueError(
            "`model` has no convolutional layer (4-D feature maps) for Grad-CAM. "
            f"Received: layers {[layer.name for layer in layers]}"
        )
    return candidates[-1].name


def grad_cam(model, image, *, class_index=None, layer=None) -> np.ndarray:
    """An (H, W) heatmap in [0, 1] of the evidence for `class_index`.

    Args:
        model: a single-path image classifier: `build_cnn`,
            `build_image_classifier` or a model of the same shape.
        image: array (H, W, C), pixels as the model takes them (uint8 0-255
            for the models of this package).
        class_index: int or None. The class to explain; None: the predicted one.
        layer: str or None. The layer whose feature maps are weighted; None:
            the last convolution (or the pretrained backbone).

    Returns:
        float32 array (H, W), the image's size, values in [0, 1].

    Example:

    >>> image = load_image("cat.jpg", image_size=(224, 224))  # doctest: +SKIP
    >>> heat = grad_cam(model, image)  # doctest: +SKIP
    >>> save_overlay(image, heat, "cat_gradcam.png")  # doctest: +SKIP
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(
            f"`image` must be one (height, width, channels) image. "
            f"Received: shape {image.shape}"
        )
    layers = _chain(model)
    name = layer or _default_layer(layers)
    maps_layers = [current.name for current in _feature_map_layers(layers)]
    if name not in maps_layers:
        output = {current.name: current.output.shape for current in layers}.get(name)
        why = (
            f"; {name!r} gives {tuple(output)}, not a spatial map"
            if output is not None
            else ""
        )
        raise ValueError(
            "`layer` must be a layer with spatial feature maps (batch, height, "
            f"width, channels) {maps_layers}{why}. Received: layer={name!r}"
        )
    x = tf.convert_to_tensor(image[None].astype("float32"))
    with tf.GradientTape() as tape:
        maps = None
        for current in layers:
            x = current(x, training=False)
            if current.name == name:
                maps = x
                tape.watch(maps)
        probs = x  # (1, classes)
        if class_index is None:
            class_index = int(tf.argmax(probs[0]))
        if not 0 <= int(class_index) < probs.shape[-1]:
            raise ValueError(
                f"`class_index` must be in [0, {probs.shape[-1]}). "
                f"Received: class_index={class_index}"
            )
        score = probs[:, int(class_index)]
    grads = tape.gradient(score, maps)  # (1, h, w, channels)
    weights = tf.reduce_mean(grads, axis=(1, 2))  # (1, channels)
    cam = tf.nn.relu(tf.reduce_sum(maps * weights[:, None, None, :], axis=-1))
    cam = tf.image.resize(cam[..., None], image.shape[:2], method="bilinear")[0, ..., 0]
    cam = cam.numpy()
    peak = cam.max()
    return (cam / peak if peak > 0 else cam).astype("float32")


def save_overlay(image, heatmap, path, alpha: float = 0.45) -> str:
    """Write the image with the heatmap blended over it (jet colours) as a PNG.

    The heatmap is resized (bilinear) to the image's own size, so the
    overlay keeps the photo's resolution whatever size the model saw.

    Args:
        image: array (H, W, C), uint8: the picture to draw on.
        heatmap: array (h, w) in [0, 1], e.g. `grad_cam`'s.
        path: str. The PNG to write.
        alpha: float. The heatmap's weight in the blend.

    Returns:
        str, the path written.
    """
    from matplotlib import colormaps
    from PIL import Image

    image = np.asarray(image)
    rgb = image[..., :3] if image.shape[-1] >= 3 else np.repeat(image[..., :1], 3, -1)
    photo = Image.fromarray(np.ascontiguousarray(rgb, dtype="uint8"))
    heat = Image.fromarray(
        np.round(np.clip(heatmap, 0, 1) * 255).astype("uint8"), mode="L"
    )
    if heat.size != photo.size:
        heat = heat.resize(photo.size, Image.Resampling.BILINEAR)
    # Jet colours through a 256-entry table: uint8 all the way, so a photo
    # of 100+ megapixels costs a few bytes per pixel, not float arrays.
    jet = np.round(colormaps["jet"](np.arange(256) / 255)[:, :3] * 255)
    coloured = Image.fromarray(jet.astype("uint8")[np.asarray(heat)])
    Image.blend(photo, coloured, alpha).save(path, format="PNG")
    return os.fspath(path)
