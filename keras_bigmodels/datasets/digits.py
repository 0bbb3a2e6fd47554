"""scikit-learn's handwritten digits: real data that ships with the package install.

1,797 scans of handwritten digits (8x8 pixels, 16 grey levels) from the UCI
"Optical Recognition of Handwritten Digits" data, bundled inside scikit-learn,
so nothing is downloaded. Used by the README's main command and the tutorials.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from keras_bigmodels import _validation as V

CLASS_NAMES = [str(i) for i in range(10)]
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def _resize(images: np.ndarray, image_size) -> np.ndarray:
    if image_size is None:
        return images
    h, w = V.check_size("image_size", image_size)
    out = [
        np.asarray(Image.fromarray(im[..., 0]).resize((w, h), Image.BILINEAR))
        for im in images
    ]
    return np.stack(out)[..., None]


def load_digits(image_size=None):
    """The bundled digits, split into a fixed train and test set.

    The split is stratified and seeded (20% test, seed 0), so every call and
    every machine gets the same 1,437 training and 360 test images.

    Args:
        image_size: None for the original 8x8, or (height, width)/int to
            resize bilinearly (the article's CNN needs at least 22x22).

    Returns:
        `((x_train, y_train), (x_test, y_test))` like `keras.datasets.mnist`:
        uint8 images (N, H, W, 1) scaled from 16 grey levels to 0..255, and
        int64 labels 0..9.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_digits(image_size=32)
    >>> x_train.shape, x_test.shape
    ((1437, 32, 32, 1), (360, 32, 32, 1))
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images,
        labels,
        test_size=TEST_FRACTION,
        random_state=SPLIT_SEED,
        stratify=labels,
    )
    return (_resize(x_train, image_size), y_train), (
        _resize(x_test, image_size),
        y_test,
    )


def export_digits(directory, image_size=(32, 32)) -> dict[str, str]:
    """Write the bundled digits as PNG files in class sub-folders.

    Creates `directory/train/<digit>/NNNN.png` and `directory/test/<digit>/...`,
    the layout `image_folder(..., labels="inferred")` reads, so the folder path
    of the article can be tried on real files.

    Args:
        directory: str or path. Created if missing; existing files with the
            same names are overwritten.
        image_size: (height, width), int, or None for the original 8x8.

    Returns:
        `{"train": path, "test": path}`.

    Example:

    >>> paths = export_digits("digits_png")  # doctest: +SKIP
    >>> paths["train"]  # doctest: +SKIP
    'digits_png/train'
    """
    directory = os.fspath(directory)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(
            f"`directory` exists and is not a folder. Received: directory={directory!r}"
        )
    (x_train, y_train), (x_test, y_test) = load_digits(image_size)
    out = {}
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        root = os.path.join(directory, split)
        for c in CLASS_NAMES:
            os.makedirs(os.path.join(root, c), exist_ok=True)
        for i, (im, label) in enumerate(zip(x, y, strict=True)):
            Image.fromarray(im[..., 0], "L").save(
                os.path.join(root, str(label), f"{i:04d}.png")
            )
        out[split] = root
    return out
