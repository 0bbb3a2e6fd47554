"""A pretrained network's own input preprocessing, as a layer inside the model."""

import keras
from keras import ops

from keras_bigmodels._export import export

MODES = ("tf", "torch", "caffe", "none")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@export
class ImagePreprocessing(keras.layers.Layer):
    """Map [0, 255] pixels to what a `keras.applications` network was trained on.

    Article §2.8 (预训练模型). Inside the model, so uint8 batches from
    `image_folder` go straight in, at training and at prediction time alike.
    The modes are those of `keras.applications.imagenet_utils.preprocess_input`:
    `"tf"` scales to [-1, 1] (MobileNet), `"torch"` to [0, 1] then normalizes
    by the ImageNet mean and std (DenseNet), `"caffe"` flips RGB to BGR and
    subtracts the ImageNet mean (ResNet, VGG), `"none"` passes pixels through
    (EfficientNet normalizes inside itself).

    Args:
        mode: str. One of `"tf"`, `"torch"`, `"caffe"`, `"none"`.
        to_rgb: bool. Repeat a single grayscale channel three times first.

    Example:

    >>> layer = ImagePreprocessing("tf")
    >>> float(layer(keras.ops.full((1, 2, 2, 3), 255.0))[0, 0, 0, 0])
    1.0
    """

    def __init__(self, mode="tf", to_rgb=False, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        self.mode = mode
        self.to_rgb = bool(to_rgb)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.to_rgb and x.shape[-1] == 1:
            x = ops.repeat(x, 3, axis=-1)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_IMAGENET_MEAN, self.compute_dtype)
            std = ops.convert_to_tensor(_IMAGENET_STD, self.compute_dtype)
            return (x / 255.0 - mean) / std
        if self.mode == "caffe":
            mean = ops.convert_to_tensor(_CAFFE_MEAN_BGR, self.compute_dtype)
            return ops.flip(x, axis=-1) - mean
        return x

    def compute_output_shape(self, input_shape):
        if self.to_rgb and input_shape[-1] == 1:
            return (*input_shape[:-1], 3)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "to_rgb": self.to_rgb}
