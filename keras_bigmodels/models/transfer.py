"""Pretrained backbones with a new head, and fine-tuning that keeps BatchNorm frozen.

Article §2.8 (预训练模型). A classifier is a backbone (the body that turns an
image into features) plus a head (pooling, dropout and the class layer), so
a `keras.applications` network, the article's convolutional body, a run of
this package or any `keras.Model` plug into the same head. Train the head on
the frozen backbone first, then `unfreeze` and fine-tune at a low rate.

Keras 3 note (keras-team/keras#20285): calling the base model with
`training=False`, as older guides advise, does not keep BatchNorm in
inference mode once `fit` passes `training=True`. A BatchNorm layer runs in
inference mode when it is not trainable, so `unfreeze` sets every BatchNorm
layer of the backbone `trainable=False` and recompiles.
"""

from __future__ import annotations

import dataclasses
import os
import socket

import keras
from keras import layers

from keras_bigmodels import _validation as V
from keras_bigmodels.layers.image_preprocessing import ImagePreprocessing
from keras_bigmodels.models.blocks import conv_block_layers, light_augmentation

WEIGHTS_HOST = "storage.googleapis.com"
_APPS_URL = f"https://{WEIGHTS_HOST}/tensorflow/keras-applications/"


@dataclasses.dataclass(frozen=True)
class Application:
    """What `build_image_classifier` needs to know of a `keras.applications` net."""

    constructor: str  # attribute of keras.applications
    preprocessing: str  # ImagePreprocessing mode
    weights_file: str  # the no-top ImageNet weights file Keras downloads
    url: str
    sizes: tuple = ()  # input sizes ImageNet weights exist for (empty: any)
    min_size: int = 32


def _mobilenet_v2_file(rows: int) -> str:
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5"


APPLICATIONS = {
    "mobilenet_v2": Application(
        "MobileNetV2",
        "tf",
        _mobilenet_v2_file(224),
        _APPS_URL + "mobilenet_v2/",
        sizes=(96, 128, 160, 192, 224),
    ),
    "efficientnet_b0": Application(
        "EfficientNetB0",
        "none",
        "efficientnetb0_notop.h5",
        f"https://{WEIGHTS_HOST}/keras-applications/",
    ),
    "resnet50": Application(
        "ResNet50",
        "caffe",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _APPS_URL + "resnet/",
    ),
    "vgg16": Application(
        "VGG16",
        "caffe",
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _APPS_URL + "vgg16/",
    ),
    "densenet121": Application(
        "DenseNet121",
        "torch",
        "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _APPS_URL + "densenet/",
    ),
}
BACKBONE_NAME = "backbone"


class WeightsUnavailableError(OSError):
    """Pretrained weights are neither on disk nor downloadable from here."""


def keras_cache_dir() -> str:
    """Keras's cache folder for downloaded weights (`$KERAS_HOME/models`)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(home, "models")


def _reachable(host: str, timeout: float) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_weights(
    backbone: str, weights, image_size: int, *, timeout: float = 5.0
) -> str | None:
    """The weights argument to give `keras.applications`: None or a local file.

    `"imagenet"` becomes the file in Keras's cache folder, downloaded first
    when it is missing and the network allows (each network wait is bounded
    by `timeout` seconds). Without a network the error names the file, where
    to get it and the two ways to use it.
    """
    app = APPLICATIONS[backbone]
    if weights is None:
        return None
    if weights != "imagenet":
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"`weights` must be None, 'imagenet' or an existing weights file. "
                f"Received: weights={path!r}"
            )
        return _readable_weights(path, "Replace it with a complete copy.")
    name = (
        _mobilenet_v2_file(image_size)
        if backbone == "mobilenet_v2"
        else app.weights_file
    )
    cached = os.path.join(keras_cache_dir(), name)
    url = app.url + name
    how = (
        f"Download {name} from {url} on a machine that can, then either pass "
        f"`weights`='/path/to/{name}' or put the file in {keras_cache_dir()}/ "
        "(Keras's cache folder) and keep `weights`='imagenet'."
    )
    if os.path.isfile(cached):
        return _readable_weights(
            cached, f"Delete it; the next run downloads it again, or: {how}"
        )
    if not _reachable(WEIGHTS_HOST, timeout):
        raise WeightsUnavailableError(
            f"Cannot reach {WEIGHTS_HOST} to download the ImageNet weights of "
            f"{backbone} (no answer within {timeout:g} s). {how}"
        )
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # bounds each read, not only the connect
    try:
        return keras.utils.get_file(name, url, cache_subdir="models")
    except Exception as e:  # URL, HTTP, hash and file errors alike
        raise WeightsUnavailableError(
            f"Downloading the ImageNet weights of {backbone} failed "
            f"({type(e).__name__}: {e}). {how}"
        ) from None
    finally:
        socket.setdefaulttimeout(previous)


def _readable_weights(path: str, remedy: str) -> str:
    """`path` if it is a complete HDF5 weights file; else a one-line error
    naming it (a download cut short leaves such a file in the cache)."""
    import h5py

    try:
        with h5py.File(path, "r"):
            return path
    except OSError as e:
        size = os.path.getsize(path)
        raise WeightsUnavailableError(
            f"The weights file {path} is damaged ({size} bytes, not a complete "
            f"HDF5 file: {str(e).split('(')[0].strip()}); a download that did "
            f"not finish leaves such a file. {remedy}"
        ) from None


def _check_input_shape(backbone: str, input_shape, weights) -> tuple:
    app = APPLICATIONS[backbone]
    input_shape = tuple(input_shape or (224, 224, 3))
    if len(input_shape) != 3 or not all(
        isinstance(v, int) and v > 0 for v in input_shape
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels) positive integers. "
            f"Received: input_shape={input_shape}"
        )
    h, w, c = input_shape
    if c not in (1, 3):
        raise ValueError(
            f"{backbone} takes 3-channel (RGB) or 1-channel (grayscale, repeated "
            "to RGB) images: set `input_shape` to 3 channels. "
            f"Received: input_shape={input_shape}"
        )
    if min(h, w) < app.min_size:
        raise ValueError(
            f"{backbone} needs images of at least {app.min_size}x{app.min_size}; "
            f"set a larger `input_shape`. Received: input_shape={input_shape}"
        )
    if weights == "imagenet" and app.sizes and (h != w or h not in app.sizes):
        raise ValueError(
            f"ImageNet weights of {backbone} exist for square images of "
            f"{', '.join(map(str, app.sizes))} pixels; set `input_shape` to one "
            f"of them. Received: input_shape={input_shape}"
        )
    return input_shape


def cnn_backbone(input_shape, *, filters=(32, 64, 128), name="cnn_backbone"):
    """The article's convolutional body (§4.2): Conv2D(3x3, relu) + MaxPool blocks."""
    stack = [keras.Input(shape=tuple(input_shape), name="image")]
    for i, f in enumerate(filters, 1):
        stack += conv_block_layers(
            f,
            kernel_size=3,
            padding="valid",
            batch_norm=False,
            l2=0.0,
            name=f"block{i}",
        )
    return keras.Sequential(stack, name=name)


def body_end(model: keras.Model) -> str:
    """Where a trained classifier's reusable body ends: the layer that turns
    its last spatial feature maps into a vector (Flatten or global pooling).

    The layers after it (hidden Dense, dropout, the class layer) are fitted
    to the classes the model was trained on; measured in
    `bench/transfer_recipe.py`, reusing them transfers worse than stopping
    here. A model with no spatial maps ends before its last layer.
    """
    layers_ = [
        layer for layer in model.layers if not isinstance(layer, layers.InputLayer)
    ]
    spatial = [i for i, layer in enumerate(layers_) if len(layer.output.shape) == 4]
    if spatial and spatial[-1] + 1 < len(layers_) - 1:
        return layers_[spatial[-1] + 1].name
    return layers_[-2].name if len(layers_) > 1 else layers_[-1].name


def backbone_of(model: keras.Model, layer: str | None = None) -> keras.Model:
    """The body of a trained classifier, for a new head.

    Article §2.8. By default the body ends at `body_end(model)`: for a
    `build_cnn` network its convolutions up to `Flatten`, for a
    `build_image_classifier` one its preprocessing, backbone and pooling.
    Its input is the model's input.

    Args:
        model: keras.Model. A trained single-path classifier.
        layer: str or None. End the body at this layer instead (its output
            is the body's output).

    Returns:
        A functional `keras.Model` sharing the model's layers and weights.

    Example:

    >>> body = backbone_of(load_model("runs/cnn-20261207-101500"))  # doctest: +SKIP
    >>> body.output.shape  # doctest: +SKIP
    (None, 512)
    """
    names = [x.name for x in model.layers if not isinstance(x, layers.InputLayer)]
    name = body_end(model) if layer is None else layer
    if name not in names[:-1]:
        raise ValueError(
            f"`backbone_layer` must be a layer of the model before its class "
            f"layer {names[:-1]}. Received: backbone_layer={name!r}"
        )
    return keras.Model(
        model.inputs, model.get_layer(name).output, name=f"{model.name}_body"
    )


def _application(backbone, *, input_shape, weights, timeout):
    app = APPLICATIONS[backbone]
    input_shape = _check_input_shape(backbone, input_shape, weights)
    path = resolve_weights(backbone, weights, input_shape[0], timeout=timeout)
    net = getattr(keras.applications, app.constructor)(
        include_top=False,
        weights=path,
        input_shape=(*input_shape[:2], 3),
    )
    return input_shape, app.preprocessing, net


def _resolve_backbone(backbone, *, input_shape, weights, timeout, backbone_layer=None):
    """-> (input_shape, preprocessing mode or rescale, backbone model, pretrained)."""
    if isinstance(backbone, keras.Model):
        return tuple(backbone.input_shape[1:]), None, backbone, True
    if not isinstance(backbone, (str, os.PathLike)):
        raise ValueError(
            "`backbone` must be a keras.applications name "
            f"{tuple(APPLICATIONS)}, 'cnn', a run folder or a keras.Model. "
            f"Received: backbone={backbone!r}"
        )
    backbone = os.fspath(backbone)
    if backbone in APPLICATIONS:
        shape, mode, net = _application(
            backbone, input_shape=input_shape, weights=weights, timeout=timeout
        )
        return shape, mode, net, weights is not None
    if backbone == "cnn":
        shape = tuple(input_shape or (224, 224, 3))
        return shape, "rescale", cnn_backbone(shape), False
    if os.path.isdir(backbone):
        from keras_bigmodels.saving import load_model

        model = load_model(os.path.join(backbone, "model.keras"))
        body = backbone_of(model, backbone_layer)
        return tuple(model.input_shape[1:]), None, body, True
    raise ValueError(
        "`backbone` must be a keras.applications name "
        f"{tuple(APPLICATIONS)}, 'cnn', a run folder or a keras.Model. "
        f"Received: backbone={backbone!r}"
    )


def _describe(backbone) -> str:
    return repr(backbone) if isinstance(backbone, str) else type(backbone).__name__


def build_image_classifier(
    backbone,
    num_classes: int,
    *,
    weights=None,
    input_shape=None,
    pooling: str = "avg",
    dropout: float = 0.2,
    augmentation=None,
    freeze_backbone: bool | None = None,
    backbone_layer: str | None = None,
    timeout: float = 5.0,
    name: str | None = None,
) -> keras.Model:
    """A classifier made of a (pretrained) backbone and a new head.

    Article §2.8 (预训练模型) and §6.1. The model takes images with pixels in
    [0, 255] (uint8 batches from `image_folder` go straight in): each
    application's own preprocessing is a layer inside it, and grayscale
    input is repeated to three channels for networks that need them.

    Args:
        backbone: `"mobilenet_v2"`, `"efficientnet_b0"`, `"resnet50"`,
            `"vgg16"`, `"densenet121"` (keras.applications), `"cnn"` (the
            article's convolutional body), a run folder of this package (its
            trained body), or any `keras.Model` mapping images to features.
        num_classes: int. Softmax outputs; 1 gives one sigmoid output.
        weights: None, `"imagenet"` (downloaded once into Keras's cache
            folder, with a bounded wait and a clear error offline) or the
            path of a weights file (`.h5` as Keras downloads it, or
            `.weights.h5`). Applications only.
        input_shape: (height, width, channels). Default (224, 224, 3) for
            applications and "cnn"; a run or model keeps its own.
        pooling: str. `"avg"`, `"max"` or `"flatten"` over 4-D features.
        dropout: float in [0, 1). Dropout before the class layer.
        augmentation: None, `"light"` or a list of Keras layers (training only).
        freeze_backbone: bool or None. None freezes a pretrained backbone
            (weights given, a run or a model) and trains a new one.
        backbone_layer: str or None. For a run folder: the layer its body
            ends at; None: `body_end`, where its feature maps become a
            vector (Flatten or pooling), so the old hidden and class layers
            are left behind.
        timeout: float. Seconds to wait on the network for weights.
        name: str or None. The model's name.

    Returns:
        A functional `keras.Model` with a layer named `"backbone"`.

    Example:

    >>> model = build_image_classifier("mobilenet_v2", 5, weights=None,
    ...                                input_shape=(96, 96, 3))
    >>> model.get_layer("backbone").trainable
    True
    """
    V.check_positive_int("num_classes", num_classes)
    V.check_choice("pooling", pooling, ("avg", "max", "flatten"))
    V.check_fraction("dropout", dropout, allow_none=False)
    V.check_positive("timeout", timeout)
    if weights is not None and (
        isinstance(backbone, keras.Model) or backbone not in APPLICATIONS
    ):
        raise ValueError(
            "`weights` applies to keras.applications backbones "
            f"{tuple(APPLICATIONS)}. Received: weights={weights!r} with "
            f"backbone={_describe(backbone)}"
        )
    if backbone_layer is not None and not (
        isinstance(backbone, (str, os.PathLike)) and os.path.isdir(backbone)
    ):
        raise ValueError(
            "`backbone_layer` applies to a run folder as backbone. Received: "
            f"backbone_layer={backbone_layer!r} with backbone={_describe(backbone)}"
        )
    shape, prep, body, pretrained = _resolve_backbone(
        backbone,
        input_shape=input_shape,
        weights=weights,
        timeout=timeout,
        backbone_layer=backbone_layer,
    )
    body.name = BACKBONE_NAME  # one name, so unfreeze and Grad-CAM find it
    if freeze_backbone is None:
        freeze_backbone = pretrained
    body.trainable = not freeze_backbone

    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    if augmentation == "light":
        for layer in light_augmentation():
            x = layer(x)
    elif augmentation:
        for layer in augmentation:
            x = layer(x)
    if prep == "rescale":
        x = layers.Rescaling(1 / 255, name="rescale")(x)
    elif prep is not None:
        x = ImagePreprocessing(prep, to_rgb=shape[-1] == 1, name="preprocess")(x)
    x = body(x)
    if len(x.shape) == 4:
        pool = {
            "avg": layers.GlobalAveragePooling2D,
            "max": layers.GlobalMaxPooling2D,
            "flatten": layers.Flatten,
        }[pooling]
        x = pool(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(
        num_classes,
        activation="sigmoid" if num_classes == 1 else "softmax",
        name="predictions",
    )(x)
    label = backbone if isinstance(backbone, str) else "custom"
    return keras.Model(
        inputs, outputs, name=name or f"{os.path.basename(str(label))}_classifier"
    )


def _sublayers(layer) -> list:
    """The layers `layer` holds directly: a functional model's, and a custom
    layer's attributes (a KerasHub TransformerEncoder's attention and Dense)."""
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _all_layers(layer):
    yield layer
    for sub in _sublayers(layer):
        yield from _all_layers(sub)


# Fine-tuning learning rates by kind of body (`unfreeze`'s default).
# The package's own bodies (a run's, "cnn", a keras.Model): measured in
# bench/transfer_recipe.py, Adam's usual 1e-3 after the head beats 1e-4 and
# 1e-5. keras.applications networks pretrained on ImageNet: 1e-5, as in
# Keras's transfer-learning guide, so the pretrained features move little.
FINE_TUNE_LEARNING_RATE = {"own": 1e-3, "application": 1e-5}


def fine_tune_learning_rate(model: keras.Model, lora_rank: int | None = None) -> float:
    """`unfreeze`'s default learning rate for `model`'s kind of body.

    A `keras.applications` backbone is recognised by the preprocessing
    layer `build_image_classifier` puts before it. With `lora_rank`,
    `LORA_LEARNING_RATE` whatever the body.
    """
    if lora_rank:
        return LORA_LEARNING_RATE
    application = any(
        isinstance(layer, ImagePreprocessing) for layer in _all_layers(model)
    )
    return FINE_TUNE_LEARNING_RATE["application" if application else "own"]


# LoRA's default learning rate: of 1e-3, 2e-3 and 3e-3 (250 epochs), the
# lowest mean error over three seeds in `bench/lora.py` (bench/README.md).
LORA_LEARNING_RATE = 2e-3
_LORA_LAYERS = (
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.layers.Embedding,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
)


def _keeps_lora_apart(layer) -> bool:
    """Whether a `.keras` file keeps `layer`'s LoRA update apart from its
    kernel: Keras's own Dense, EinsumDense, Embedding and convolutions do. A
    ReversibleEmbedding (a language model's tied token embedding) and
    subclasses of other libraries may save it merged, and the reloaded
    model would then not match its saved optimizer."""
    kind = type(layer)
    return kind.__module__.startswith("keras.") and kind.__name__ != (
        "ReversibleEmbedding"
    )


def _enable_lora(body, rank: int) -> None:
    """LoRA on the body's unfrozen layers that take it; every other weight of
    the body frozen (a layer's bias stays trainable with its update)."""
    for layer in _all_layers(body):
        if layer is body or _sublayers(layer):
            continue  # a container: its layers are visited themselves
        if not layer.trainable or not layer.weights:
            continue
        if isinstance(layer, _LORA_LAYERS) and _keeps_lora_apart(layer):
            if not getattr(layer, "lora_enabled", False):
                layer.enable_lora(rank)
        else:
            layer.trainable = False


def unfreeze(
    model: keras.Model,
    layers="all",
    *,
    learning_rate: float | None = None,
    lora_rank: int | None = None,
    optimizer=None,
    **compile_kwargs,
) -> keras.Model:
    """Make the backbone trainable for fine-tuning, BatchNorm kept frozen; recompile.

    Article §2.8. Call it after training the head on a frozen backbone. The
    last `layers` layers of the backbone (or all) become trainable, except
    BatchNormalization layers: they stay `trainable=False`, so they keep
    using and keeping their moving mean and variance (in Keras 3 a frozen
    BatchNorm layer runs in inference mode even inside `fit`). The model is
    recompiled with the loss and metrics it had and a new optimizer at
    `learning_rate` (low, so the pretrained weights move only a little).

    Args:
        model: a model from `build_image_classifier` (it has a layer named
            "backbone").
        layers: `"all"` or int. How many of the backbone's last layers to
            unfreeze.
        learning_rate: float or None. The Adam learning rate for
            fine-tuning; None: `fine_tune_learning_rate(model)`, 1e-3 for
            the package's own bodies (a run's, "cnn") and 1e-5 for
            keras.applications ones; with `lora_rank`, `LORA_LEARNING_RATE`.
        lora_rank: int or None. LoRA instead of fine-tuning every weight:
            each Dense, EinsumDense, Embedding and Conv1D/2D/3D layer of the
            body (Keras's own classes; a language model's tied
            ReversibleEmbedding is frozen) keeps its kernel frozen and
            learns a low-rank update W + A·B (`layer.enable_lora(rank)`,
            rank `lora_rank`); the body's other weights stay frozen, the
            head stays trainable.
            Saved as `.keras`, each update is merged into its kernel; the
            model reloads with LoRA on and a zero update (ready to train
            on) and gives the same predictions.
        optimizer: a Keras optimizer to use instead of Adam(learning_rate).
        **compile_kwargs: further arguments of `model.compile` (for
            example `jit_compile`); `loss` or `metrics` given here replace
            the model's own.

    Returns:
        The same model, recompiled.

    Example:

    >>> model.fit(train, epochs=5)  # doctest: +SKIP
    >>> unfreeze(model)  # doctest: +SKIP
    >>> model.fit(train, epochs=5)  # doctest: +SKIP
    """
    try:
        body = model.get_layer(BACKBONE_NAME)
    except ValueError:
        raise ValueError(
            "`model` has no layer named 'backbone'; build it with "
            f"build_image_classifier. Received: model={model.name!r}"
        ) from None
    if layers != "all":
        V.check_positive_int("layers", layers)
    if lora_rank is not None:
        V.check_positive_int("lora_rank", lora_rank)
    if learning_rate is None:
        learning_rate = fine_tune_learning_rate(model, lora_rank)
    V.check_positive("learning_rate", learning_rate)
    body.trainable = True
    inner = list(getattr(body, "layers", []))
    if layers != "all":
        for layer in inner[: max(0, len(inner) - layers)]:
            layer.trainable = False
    for layer in _all_layers(body):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    if lora_rank:
        _enable_lora(body, lora_rank)
    config = model.get_compile_config()
    if config:
        compiled = keras.saving.deserialize_keras_object(config)
        loss, metrics = compiled.get("loss"), compiled.get("metrics")
    else:
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    # Arguments given here win over the ones the model was compiled with.
    compile_kwargs = {"loss": loss, "metrics": metrics, **compile_kwargs}
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(learning_rate),
        **compile_kwargs,
    )
    return model
