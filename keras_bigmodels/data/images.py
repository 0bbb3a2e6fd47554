"""Images in: a folder of the user's own images to a fast, safe `tf.data` pipeline.

Article §4 (数据准备 / 模型训练): "I have a folder of images; train a model on
it." The article's `load_image` and `load_data` are here, fixed, next to
`image_folder`, which streams the same folder through `tf.data` without
holding it in memory. Listing and screening a folder into an index lives in
`image_index`, decoding and resizing one file in `image_decoding`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from keras_bigmodels import _validation as V
from keras_bigmodels._paths import visible_subfolders
from keras_bigmodels.data import screening
from keras_bigmodels.data.image_decoding import (
    CHANNELS,
    _branch_for,
    _make_decoder,
    _path_tensor,
    example_loader,
)
from keras_bigmodels.data.image_index import (
    ImageIndex,
    _check_directory,
    scan_image_folder,
)
from keras_bigmodels.data.pipeline_options import parallel_calls, pipeline_options
from keras_bigmodels.data.placement import prefetch_to_accelerator
from keras_bigmodels.data.splits import stratified_split

SUBSETS = ("training", "validation", "test", "both", "all")
_SHUFFLE_BUFFER_CACHED = 4096


# These resize methods weigh input pixels with non-negative weights summing to
# one, so their result stays within 0..255 (float error is far below the 0.5
# that rounding could carry past 255) and needs no clip; the cubic, Lanczos
# and Gaussian kernels overshoot at edges. The clip is two passes over every
# resized image: about 5% of a first epoch of small JPEGs.


def _dataset_from_index(
    index: ImageIndex,
    *,
    image_size,
    color_mode: str,
    batch_size: int | None,
    shuffle: bool,
    seed: int | None,
    cache,
    label_mode: str | None,
    interpolation: str,
    dtype: str,
    device_prefetch,
) -> tf.data.Dataset:
    n = len(index.paths)
    with_labels = index.labels is not None and label_mode is not None
    load = example_loader(
        index,
        image_size=image_size,
        color_mode=color_mode,
        interpolation=interpolation,
        labels=with_labels,
    )
    # Indices, not paths (or kept contents), go through the shuffle buffer:
    # memory stays flat however big the folder.
    ds = tf.data.Dataset.range(n)
    if shuffle and not cache:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=parallel_calls())
    # Screening catches every bad file we know of; this is the last guard so a
    # file that changes or fails after screening is dropped, never fatal. The
    # repeat/take refills a dropped slot from the next pass, so the dataset
    # keeps a known length (Keras then shows epoch progress and never warns
    # that the input "ran out of data"); it is before `cache` so the cache
    # sees the end of its input and is completed.
    ds = ds.ignore_errors(log_warning=True).repeat().take(n)
    if cache:
        ds = ds.cache("" if cache in (True, "memory") else os.fspath(cache))
        if shuffle:
            ds = ds.shuffle(
                min(n, _SHUFFLE_BUFFER_CACHED), seed=seed, reshuffle_each_iteration=True
            )
    if batch_size is not None:
        ds = ds.batch(batch_size)
    num_classes = len(index.class_names)

    @tf.autograph.experimental.do_not_convert
    def finish(img, *label):
        img = tf.cast(img, dtype)
        if not label:
            return img
        y = label[0]
        if label_mode == "categorical":
            y = tf.one_hot(y, num_classes)
        elif label_mode == "binary":
            y = tf.expand_dims(tf.cast(y, "float32"), -1)
        return img, y

    if tf.as_dtype(dtype) != tf.uint8 or label_mode in ("categorical", "binary"):
        # Once per batch; with uint8 images and int labels there is nothing to do.
        ds = ds.map(finish, num_parallel_calls=parallel_calls())
    ds = prefetch_to_accelerator(ds.with_options(pipeline_options()), device_prefetch)
    ds.class_names = index.class_names
    ds.index = index
    ds.file_paths = index.paths
    ds.bad_files = index.bad_files
    return ds


def _check_image_size(image_size, allow_none: bool = False):
    if image_size is None and allow_none:
        return None
    return V.check_size("image_size", image_size)


def image_folder(
    directory,
    *,
    image_size=(224, 224),
    batch_size: int | None = 32,
    labels="inferred",
    label_mode: str | None = "int",
    class_names: Sequence[str] | None = None,
    color_mode: str = "rgb",
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    test_split: float | None = None,
    subset: str | None = None,
    cache=None,
    interpolation: str = "bilinear",
    dtype: str = "uint8",
    verify: str = "fast",
    on_bad_file: str = "skip",
    device_prefetch="auto",
    follow_links: bool = False,
    verbose: bool = True,
):
    """A folder of images as a batched, prefetched `tf.data.Dataset`.

    Article §4.1 (数据准备), fixed and made fast: images are decoded and
    resized in parallel by `tf.data`, never all held in memory (unless
    `cache="memory"`), the validation split is stratified and seeded, and bad
    files are found before training starts instead of halfway through it.

    Args:
        directory: str or path. The image folder.
        image_size: (height, width) or int. Every image is resized to it.
        batch_size: int or None. None yields single images.
        labels: `"inferred"` (class sub-folders), `"filename"` (the text
            before the first dot: `3.0017.png` is class `3`), a compiled
            regular expression, a callable on the path, or None.
        label_mode: `"int"`, `"categorical"` (one-hot), `"binary"` (float,
            two classes) or None (images only).
        class_names: optional list of str. Fixes which classes, in what order.
        color_mode: `"rgb"`, `"grayscale"` or `"rgba"`. Grayscale, RGBA,
            palette, 16-bit and CMYK files are all converted to it.
        shuffle: bool. Reshuffle every epoch (seeded).
        seed: int. Seed for the split and the shuffle. Required when one
            held-out subset is asked for on its own, so that separate calls
            agree on which files are held out.
        validation_split: float in [0, 1). Fraction held out per class.
        test_split: float in [0, 1). A further fraction held out for testing.
        subset: `"training"`, `"validation"`, `"test"`, `"both"` (training and
            validation) or `"all"` (training, validation, test).
        cache: None, `"memory"` (or True), or a file path. Caches the decoded
            and resized uint8 images after the first epoch.
        interpolation: str. Resize method, as in `tf.image.resize`.
        dtype: str. Image dtype of the batches; values are in [0, 255] either
            way. The default `"uint8"` moves a quarter of the bytes of
            float32 through the pipeline and onto the GPU; Keras functional
            and Sequential models cast inputs to their own dtype in the step
            (on the accelerator), so they take uint8 batches as they are. Use
            `"float32"` for subclassed models or your own arithmetic.
        verify: `"fast"` (structural checks) or `"full"` (decode every image).
        on_bad_file: `"skip"` (one warning naming each bad file and why) or
            `"raise"` (an error naming the first bad file).
        device_prefetch: `"auto"` prefetches batches onto the GPU when exactly
            one is visible; False keeps them in host memory (choose that if you
            will `map` the dataset further).
        follow_links: bool. Follow symbolic links to folders.
        verbose: bool. Print how many images and classes were found.

    Returns:
        A `tf.data.Dataset` of `(images, labels)` batches (images only when
        `labels` or `label_mode` is None), or a tuple of them for
        `subset="both"` / `"all"`. Each has `class_names`, `file_paths` and
        `bad_files` attributes. Files are decoded two calls per CPU core with
        `tf.data`'s autotuning model off (see
        `keras_bigmodels.data.pipeline_options`); `dataset.with_options` turns
        it back on.

    Example:

    >>> train, val = image_folder("my_photos/", validation_split=0.2,
    ...                           subset="both", seed=42)  # doctest: +SKIP
    >>> train.class_names  # doctest: +SKIP
    ['cat', 'dog']
    """
    image_size = _check_image_size(image_size)
    V.check_positive_int("batch_size", batch_size, allow_none=True)
    V.check_choice("color_mode", color_mode, tuple(CHANNELS))
    V.check_choice("label_mode", label_mode, ("int", "categorical", "binary", None))
    V.check_fraction("validation_split", validation_split)
    V.check_fraction("test_split", test_split)
    if subset is not None:
        V.check_choice("subset", subset, SUBSETS)
    held_out = bool(validation_split) or bool(test_split)
    if held_out and subset is None:
        raise ValueError(
            "`subset` must be set when `validation_split` or `test_split` is: "
            f"one of {SUBSETS}. Received: subset=None"
        )
    if subset is not None and not held_out:
        raise ValueError(
            "`subset` needs `validation_split` and/or `test_split`. "
            f"Received: subset={subset!r}, validation_split={validation_split!r}, "
            f"test_split={test_split!r}"
        )
    if (validation_split or 0) + (test_split or 0) >= 1:
        raise ValueError(
            "`validation_split` + `test_split` must leave images for training. "
            f"Received: validation_split={validation_split}, test_split={test_split}"
        )
    if subset in ("training", "validation", "test") and seed is None:
        raise ValueError(
            f"`seed` must be set when `subset={subset!r}` is asked for on its "
            "own, so every call holds out the same files. Received: seed=None"
        )
    if subset == "validation" and not validation_split:
        raise ValueError(
            "`subset='validation'` needs `validation_split`. "
            f"Received: validation_split={validation_split!r}"
        )
    if subset in ("test", "all") and not test_split:
        raise ValueError(
            f"`subset={subset!r}` needs `test_split`. "
            f"Received: test_split={test_split!r}"
        )
    if label_mode == "binary" and class_names is not None and len(class_names) != 2:
        raise ValueError(
            "`label_mode='binary'` needs exactly two classes. "
            f"Received: class_names={class_names!r}"
        )
    if cache not in (None, False, True, "memory") and not isinstance(
        cache, (str, os.PathLike)
    ):
        raise ValueError(
            f"`cache` must be None, 'memory' or a file path. Received: cache={cache!r}"
        )
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31 - 1))

    index = scan_image_folder(
        directory,
        labels=labels,
        class_names=class_names,
        verify=verify,
        on_bad_file=on_bad_file,
        follow_links=follow_links,
    )
    if label_mode == "binary" and len(index.class_names) != 2:
        raise ValueError(
            "`label_mode='binary'` needs exactly two classes; found "
            f"{len(index.class_names)}: {index.class_names}"
        )
    parts = stratified_split(
        index.labels,
        (
            1 - (validation_split or 0) - (test_split or 0),
            validation_split or 0,
            test_split or 0,
        ),
        seed=seed,
        n=len(index.paths),
    )
    names = ("training", "validation", "test")
    wanted = {
        None: ["training"],
        "both": ["training", "validation"],
        "all": list(names),
    }.get(subset, [subset])
    if verbose:
        bad = f", {len(index.bad_files)} bad file(s) skipped" if index.bad_files else ""
        cls = f" in {len(index.class_names)} classes" if index.class_names else ""
        used = ", ".join(f"{len(parts[names.index(w)])} for {w}" for w in wanted)
        used = f"; using {used}" if subset else ""
        print(f"Found {len(index.paths)} images{cls}{bad}{used}.")

    def cache_for(name):
        # Each subset needs its own cache file; memory caches are per dataset.
        if not cache or cache in (True, "memory") or name == "training":
            return cache
        return f"{os.fspath(cache)}.{name}"

    datasets = []
    for name in wanted:
        idx = parts[names.index(name)]
        if len(idx) == 0:
            raise ValueError(
                f"The {name} subset of {directory!r} is empty: "
                f"{len(index.paths)} images are too few for the split asked for."
            )
        datasets.append(
            _dataset_from_index(
                index.subset(idx),
                image_size=image_size,
                color_mode=color_mode,
                batch_size=batch_size,
                shuffle=shuffle and name == "training",
                seed=seed,
                cache=cache_for(name),
                label_mode=label_mode if index.labels is not None else None,
                interpolation=interpolation,
                dtype=dtype,
                device_prefetch=device_prefetch,
            )
        )
    return datasets[0] if len(datasets) == 1 else tuple(datasets)


def _to_numpy(ds: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray | None]:
    images, labels = [], []
    for batch in ds.as_numpy_iterator():
        if isinstance(batch, tuple):
            images.append(batch[0])
            labels.append(batch[1])
        else:
            images.append(batch)
    x = np.concatenate(images)
    return x, (np.concatenate(labels) if labels else None)


def load_image(path, *, image_size=(224, 224), color_mode: str = "rgb") -> np.ndarray:
    """Load one image as a uint8 array, resized; the article's `load_image`, fixed.

    Article §4.1. The same decoder as `image_folder`, so a model sees the same
    pixels at prediction time as in training.

    Args:
        path: str or path. The image file.
        image_size: (height, width), int, or None to keep the original size.
        color_mode: `"rgb"`, `"grayscale"` or `"rgba"`.

    Returns:
        A uint8 array of shape (height, width, channels).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a usable image (the message gives the reason).

    Example:

    >>> img = load_image("cat.jpg", image_size=(224, 224))  # doctest: +SKIP
    >>> img.shape, img.dtype  # doctest: +SKIP
    ((224, 224, 3), dtype('uint8'))
    """
    path = os.fspath(path)
    image_size = _check_image_size(image_size, allow_none=True)
    V.check_choice("color_mode", color_mode, tuple(CHANNELS))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such image file: {path!r}")
    try:
        info = screening.screen_file(path, verify="full")
    except screening.BadImageError as e:
        raise screening.BadImageError(f"Bad image file {path}: {e}") from None
    branch = _branch_for(info, image_size, color_mode)
    decode = _make_decoder(image_size, color_mode=color_mode, branches=[branch])
    return decode(_path_tensor(path), tf.constant(0, tf.int32)).numpy()


def load_data(
    directory,
    *,
    image_size=(224, 224),
    labels="auto",
    color_mode: str = "rgb",
    on_bad_file: str = "skip",
    return_class_names: bool = False,
):
    """Load a whole folder into numpy arrays; the article's `load_data`, fixed.

    Article §4.1. Returns uint8 images so the article's `images / 255.0` and
    `to_categorical(labels, num_classes=10)` work unchanged. For folders
    larger than memory use `image_folder`, which streams.

    Args:
        directory: str or path. The image folder.
        image_size: (height, width) or int.
        labels: `"auto"` (class sub-folders if there are any, else the article's
            file-name rule), or any `labels` value `image_folder` accepts.
        color_mode: `"rgb"`, `"grayscale"` or `"rgba"`.
        on_bad_file: `"skip"` or `"raise"`.
        return_class_names: bool. Also return the list of class names.

    Returns:
        `(images, labels)`: uint8 (N, H, W, C) and int64 (N,) class indices
        into the sorted class names (`(images, labels, class_names)` when
        `return_class_names`).

    Example:

    >>> images, labels = load_data("digits/train", image_size=32)  # doctest: +SKIP
    >>> images = images / 255.0  # doctest: +SKIP
    """
    directory = _check_directory(directory)
    image_size = _check_image_size(image_size)
    if labels == "auto":
        labels = "inferred" if visible_subfolders(directory) else "filename"
    index = scan_image_folder(directory, labels=labels, on_bad_file=on_bad_file)
    ds = _dataset_from_index(
        index,
        image_size=image_size,
        color_mode=color_mode,
        batch_size=256,
        shuffle=False,
        seed=None,
        cache=None,
        label_mode="int",
        interpolation="bilinear",
        dtype="uint8",
        device_prefetch=False,
    )
    images, label_ids = _to_numpy(ds)
    if len(images) != len(index.paths):
        raise ValueError(
            f"{len(index.paths) - len(images)} image(s) in {directory!r} failed to "
            "decode after screening; run image_folder(..., verify='full') to name them."
        )
    out = (images, label_ids)
    return out + (index.class_names,) if return_class_names else out
