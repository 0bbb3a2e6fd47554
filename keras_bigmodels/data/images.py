"""Images in: a folder of the user's own images to a fast, safe `tf.data` pipeline.

Article §4 (数据准备 / 模型训练): "I have a folder of images; train a model on
it." The article's `load_image` and `load_data` are here, fixed, next to
`image_folder`, which streams the same folder through `tf.data` without
holding it in memory.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_bigmodels import _validation as V
from keras_bigmodels._paths import visible_subfolders
from keras_bigmodels.data import screening
from keras_bigmodels.data.pipeline_options import parallel_calls, pipeline_options
from keras_bigmodels.data.placement import prefetch_to_accelerator
from keras_bigmodels.data.screening_cache import screen_remembered
from keras_bigmodels.data.splits import stratified_split

IMAGE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".bmp",
    ".webp",
    ".tif",
    ".tiff",
)
CHANNELS = {"rgb": 3, "grayscale": 1, "rgba": 4}
SUBSETS = ("training", "validation", "test", "both", "all")
_JPEG_RATIOS = (1, 2, 4, 8)
_BRANCH_TF = len(_JPEG_RATIOS)
_BRANCH_PIL = _BRANCH_TF + 1
_SHUFFLE_BUFFER_CACHED = 4096
# Screening reads a small file whole; up to this many bytes of files of at
# most 64 KiB are kept for their decoders instead of being read again (a few
# percent of an epoch of small JPEGs). The cap keeps memory flat however large
# the folder.
KEPT_BYTES = 16 << 20


@dataclasses.dataclass
class ImageIndex:
    """The screened contents of an image folder.

    Attributes:
        paths: list of str. Usable image files, sorted.
        labels: int array or None. Class index of each path.
        class_names: list of str. Sorted class names (numbers numerically).
        infos: list of `ImageInfo`. Decoder kind, size and format per path.
        bad_files: list of `BadFile`. Files left out and why.
        contents: list of bytes or None, or None. Each file's content as
            screening read it, where it was kept (see `KEPT_BYTES`), so that
            its decoder does not read it a second time.
    """

    paths: list
    labels: np.ndarray | None
    class_names: list
    infos: list
    bad_files: list
    contents: list | None = None

    def subset(self, indices: np.ndarray) -> ImageIndex:
        """The same index restricted to `indices` (bad files kept)."""
        labels = None if self.labels is None else self.labels[indices]
        return ImageIndex(
            [self.paths[i] for i in indices],
            labels,
            self.class_names,
            [self.infos[i] for i in indices],
            self.bad_files,
            None if self.contents is None else [self.contents[i] for i in indices],
        )


def _class_sort_key(name: str):
    # "10" sorts after "9": digit-named classes keep their numeric order.
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def list_image_files(directory, follow_links: bool = False) -> list[str]:
    """Every file under `directory` with an image extension, sorted (unscreened)."""
    directory = _check_directory(directory)
    found = []
    for root, dirs, files in os.walk(directory, followlinks=follow_links):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            os.path.join(root, f)
            for f in files
            if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)
        )
    return sorted(found)


def _filename_label(path: str) -> str:
    # The article's rule: "3.0017.png" is class "3".
    return os.path.basename(path).split(".")[0]


def _label_function(labels, directory: str) -> Callable[[str], str | None]:
    if labels == "inferred":
        prefix = os.path.join(directory, "")

        def first_folder(p):
            # Listed paths start with `directory`; relpath is 20x slower.
            rel = (
                p[len(prefix) :]
                if p.startswith(prefix)
                else os.path.relpath(p, directory)
            )
            return rel.split(os.sep)[0]

        return first_folder
    if labels == "filename":
        return _filename_label
    if isinstance(labels, re.Pattern):

        def from_pattern(p):
            rel = os.path.relpath(p, directory).replace(os.sep, "/")
            m = labels.search(rel)
            if m is None:
                return None
            return m.group(1) if labels.groups else m.group(0)

        return from_pattern
    if callable(labels):
        return labels
    raise ValueError(
        "`labels` must be 'inferred', 'filename', None, a compiled regular "
        f"expression or a callable on the file path. Received: labels={labels!r}"
    )


def _check_directory(directory) -> str:
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"`directory` is not an existing folder. Received: directory={directory!r}"
        )
    return directory


def scan_image_folder(
    directory,
    labels="inferred",
    class_names: Sequence[str] | None = None,
    verify: str = "fast",
    on_bad_file: str = "skip",
    follow_links: bool = False,
) -> ImageIndex:
    """List, label and screen the images of a folder.

    Args:
        directory: str or path. The folder.
        labels: `"inferred"` (one sub-folder per class), `"filename"` (the
            text before the first dot of the file name, as in the article),
            a compiled regular expression searched in the path relative to
            `directory` (its first group, or the whole match, is the label),
            a callable mapping the path to a label, or None (no labels).
        class_names: optional list of str. Fixes the classes and their order;
            files of other classes are skipped and reported.
        verify: str. `"fast"` or `"full"`; see `keras_bigmodels.data.screening`.
        on_bad_file: str. `"skip"` (warn once, naming every bad file) or
            `"raise"` (raise on the first).
        follow_links: bool. Follow symbolic links to folders.

    Returns:
        An `ImageIndex`.
    """
    directory = _check_directory(directory)
    V.check_choice("verify", verify, screening.VERIFY_MODES)
    V.check_choice("on_bad_file", on_bad_file, ("skip", "raise"))
    label_of = None if labels is None else _label_function(labels, directory)
    if labels == "inferred":
        if not visible_subfolders(directory):
            raise ValueError(
                f"`labels='inferred'` needs one sub-folder per class, but "
                f"{directory!r} has none. For files named like '3.0017.png' "
                "use labels='filename'."
            )
    paths = list_image_files(directory, follow_links)
    if labels == "inferred":
        # Files lying directly in `directory` belong to no class.
        paths = [p for p in paths if os.path.dirname(p) != directory]

    bad: list[screening.BadFile] = []
    names: list[str | None] = []
    for p in paths:
        if label_of is None:
            names.append(None)
            continue
        try:
            name = label_of(p)
        except Exception as e:  # a user's callable may fail on odd paths
            name, why = None, f"label function failed ({type(e).__name__}: {e})"
        else:
            why = "no label found for this file"
        if name is None or str(name) == "":
            bad.append(screening.BadFile(p, why, "no_label"))
        names.append(None if name is None else str(name))
    keep = [i for i, n in enumerate(names) if label_of is None or n]
    found = sorted({names[i] for i in keep if names[i]}, key=_class_sort_key)
    if class_names is not None:
        allowed = set(map(str, class_names))
        for i in keep:
            if names[i] not in allowed:
                bad.append(
                    screening.BadFile(
                        paths[i],
                        f"class {names[i]!r} is not one of the {len(allowed)} "
                        "classes asked for",
                        "unknown_class",
                    )
                )
        keep = [i for i in keep if names[i] in allowed]
    paths = [paths[i] for i in keep]
    names = [names[i] for i in keep]

    screened = screen_remembered(paths, verify, directory, KEPT_BYTES)
    bad.extend(screened.bad_files)
    infos = screened.infos
    good = [i for i, info in enumerate(infos) if info is not None]
    screening.report_bad_files(bad, on_bad_file)
    if not good:
        raise ValueError(_why_no_images(directory, bad, class_names, found))
    paths = [paths[i] for i in good]
    infos = [infos[i] for i in good]
    contents = [screened.contents[i] for i in good]
    if not any(contents):
        contents = None
    if label_of is None:
        return ImageIndex(paths, None, [], infos, bad, contents)

    names = [names[i] for i in good]
    if class_names is None:
        class_names = sorted(set(names), key=_class_sort_key)
        if len(class_names) < 2:
            raise ValueError(
                f"Found a single class ({class_names[0]!r}) in {directory!r}; "
                "a classifier needs at least two classes."
            )
    class_names = [str(c) for c in class_names]
    lookup = {c: i for i, c in enumerate(class_names)}
    label_ids = np.array([lookup[n] for n in names], dtype=np.int64)
    return ImageIndex(paths, label_ids, class_names, infos, bad, contents)


def _why_no_images(directory, bad, class_names, found) -> str:
    """The one line that says why a folder gave no usable image."""
    if not bad:
        return (
            f"No image files found in {directory!r}: image files must end in one "
            f"of {IMAGE_EXTENSIONS}."
        )
    kinds = [b.kind for b in bad]
    if set(kinds) == {"unknown_class"}:
        return (
            f"None of the {len(bad)} images in {directory!r} is of a class asked "
            f"for: the folder has classes {_listing(found)}, the classes asked for "
            f"are {_listing(class_names)}."
        )
    counts = {
        "unreadable": "could not be read as images",
        "no_label": "had no label",
        "unknown_class": "were of classes not asked for",
    }
    parts = [f"{kinds.count(k)} {text}" for k, text in counts.items() if k in kinds]
    return (
        f"No usable images found in {directory!r}: of its {len(bad)} image "
        f"files, {', '.join(parts)} (each is listed with its reason)."
    )


def _listing(names, limit: int = 8) -> str:
    names = [str(n) for n in names]
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return "(" + ", ".join(names[:limit]) + more + ")"


def _path_tensor(paths):
    """File path(s) as a `tf.string` tensor of the bytes the file system uses.

    A name that is not valid UTF-8 (a GBK name unpacked from a Windows zip on
    Linux, say) is listed by Python with surrogate escapes, which TensorFlow
    cannot encode; `os.fsencode` gives back the original bytes, which
    `tf.io.read_file` opens and `os.fsdecode` turns back into the listed name.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        return tf.constant(os.fsencode(paths), tf.string)
    return tf.constant([os.fsencode(p) for p in paths], tf.string)


def _jpeg_branch(info: screening.ImageInfo, image_size) -> int:
    # Let libjpeg scale the DCT by 1/2, 1/4 or 1/8 when the result is still at
    # least as large as the target: far less work than decoding full size.
    if image_size is None:
        return 0
    th, tw = image_size
    branch = 0
    for b, r in enumerate(_JPEG_RATIOS):
        if info.width // r >= tw and info.height // r >= th:
            branch = b
    return branch


def _branch_for(info: screening.ImageInfo, image_size, color_mode: str) -> int:
    if info.kind == screening.KIND_JPEG:
        return _jpeg_branch(info, image_size)
    if info.kind == screening.KIND_TF and not (
        color_mode == "rgba"
        and info.format != "PNG"  # only PNG decodes to 4 channels in TF
    ):
        return _BRANCH_TF
    return _BRANCH_PIL


# These resize methods weigh input pixels with non-negative weights summing to
# one, so their result stays within 0..255 (float error is far below the 0.5
# that rounding could carry past 255) and needs no clip; the cubic, Lanczos
# and Gaussian kernels overshoot at edges. The clip is two passes over every
# resized image: about 5% of a first epoch of small JPEGs.
_CONVEX_INTERPOLATIONS = frozenset({"bilinear", "area", "nearest"})


def _make_decoder(image_size, color_mode: str, interpolation: str, branches=None):
    """A graph function: (path, branch[, bytes]) -> uint8 image (H, W, C).

    `branches` lists the decoder branches the folder needs (`_branch_for`
    values); only those are built, so a folder of JPEG files of one size class
    gets a single straight decode and no `switch_case`. The `branch` argument
    is then ignored, or indexes `branches` through its position: callers pass
    `_compact_branches(...)` ids.
    """
    channels = CHANNELS[color_mode]
    if branches is None:
        branches = list(range(_BRANCH_PIL + 1))
    branches = sorted(set(branches))

    def pil_decode(path):
        # bytes inside tf.data; a 0-d array when called eagerly.
        path = path.item() if isinstance(path, np.ndarray) else path
        with Image.open(os.fsdecode(path)) as im:
            return screening.pil_to_array(im, "rgba" if channels == 4 else "rgb")

    # TensorFlow's decoders differ in which channel counts they can produce
    # (GIF and WebP have no grayscale, CMYK JPEG fails with 1 channel), so
    # they all decode to RGB (RGBA for "rgba") and grayscale is derived here.
    decoded_channels = 4 if channels == 4 else 3

    def jpeg(path, data, ratio):
        img = tf.io.decode_jpeg(data, channels=3, ratio=ratio)
        if channels == 4:  # JPEG has no alpha: fully opaque
            alpha = tf.fill(tf.concat([tf.shape(img)[:2], [1]], 0), np.uint8(255))
            img = tf.concat([img, alpha], axis=-1)
        return img

    def tf_decode(path, data):
        return tf.io.decode_image(
            data, channels=decoded_channels, expand_animations=False
        )

    def pil(path, data):
        return tf.numpy_function(pil_decode, [path], tf.uint8, stateful=False)

    def decoder_of(b):
        if b < _BRANCH_TF:
            return lambda path, data: jpeg(path, data, _JPEG_RATIOS[b])
        return tf_decode if b == _BRANCH_TF else pil

    decoders = [decoder_of(b) for b in branches]

    # Plain TensorFlow ops only: autograph would spend most of the start-up
    # (about 0.8 s of a 0.9 s build) rewriting these functions for nothing.
    @tf.autograph.experimental.do_not_convert
    def decode(path, branch, data=None):
        # `data`: the file's bytes, or None to read them here. PIL reads the
        # file itself; only the TensorFlow decoders need bytes.
        if data is None and branches != [_BRANCH_PIL]:
            data = tf.io.read_file(path)
        if len(decoders) == 1:
            img = decoders[0](path, data)
        else:
            img = tf.switch_case(branch, [lambda d=d: d(path, data) for d in decoders])
        img.set_shape([None, None, decoded_channels])
        if channels == 1:
            img = tf.image.rgb_to_grayscale(img)
        if image_size is not None:
            img = tf.image.resize(img, image_size, method=interpolation)
            # Rounded back to uint8: a cached epoch then holds a quarter of the
            # bytes, and cached and uncached epochs give identical pixels.
            if interpolation not in _CONVEX_INTERPOLATIONS:
                img = tf.clip_by_value(img, 0.0, 255.0)
            img = tf.cast(tf.round(img), tf.uint8)
        return img

    return decode


def _compact_branches(index: ImageIndex, image_size, color_mode: str):
    """(branches present, int32 id per file into them) for `_make_decoder`."""
    full = np.array(
        [_branch_for(i, image_size, color_mode) for i in index.infos], np.int32
    )
    present = np.unique(full)
    return [int(b) for b in present], np.searchsorted(present, full).astype(np.int32)


def example_loader(
    index: ImageIndex,
    image_size,
    color_mode: str = "rgb",
    interpolation: str = "bilinear",
    labels: bool = True,
):
    """A graph function `i -> (uint8 image, label)` over a screened index.

    Only the examples asked for are read and decoded, so it serves
    `image_folder`'s pipeline and those that choose their own order
    (`data.batches.EpochBatches`). Files whose content screening kept
    (`index.contents`) are decoded from it without being read again.
    With `labels=False` it returns the image alone.
    """
    present, ids = _compact_branches(index, image_size, color_mode)
    branches = tf.constant(ids, tf.int32)
    paths = _path_tensor(index.paths)
    label_ids = tf.constant(
        index.labels if index.labels is not None else np.zeros(len(index.paths)),
        tf.int64,
    )
    decode = _make_decoder(image_size, color_mode, interpolation, present)
    kept, every_file = index.contents, False
    if kept is not None:
        every_file = all(c is not None for c in kept)
        kept = tf.constant([c or b"" for c in kept], tf.string)

    # tf.gather, not `tensor[i]`: indexing traces a strided slice with three
    # packed constants, several ms of every dataset's build.
    def content(i, path):
        if kept is None:
            return None
        data = tf.gather(kept, i)
        if every_file:
            return data
        # Some files kept (the rest were over the budget or are Pillow's).
        return tf.cond(
            tf.strings.length(data) > 0, lambda: data, lambda: tf.io.read_file(path)
        )

    @tf.autograph.experimental.do_not_convert
    def load(i):
        # Only what the decoder uses is gathered: the path to read a file or
        # for Pillow (whose files are never kept), the branch to choose among
        # several decoders.
        path = None if every_file else tf.gather(paths, i)
        branch = tf.gather(branches, i) if len(present) > 1 else None
        img = decode(path, branch, content(i, path))
        return (img, tf.gather(label_ids, i)) if labels else img

    return load


def _dataset_from_index(
    index: ImageIndex,
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
    load = example_loader(index, image_size, color_mode, interpolation, with_labels)
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
        directory, labels, class_names, verify, on_bad_file, follow_links
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
                image_size,
                color_mode,
                batch_size,
                shuffle and name == "training",
                seed,
                cache_for(name),
                label_mode if index.labels is not None else None,
                interpolation,
                dtype,
                device_prefetch,
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


def load_image(path, image_size=(224, 224), color_mode: str = "rgb") -> np.ndarray:
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
    decode = _make_decoder(image_size, color_mode, "bilinear", [branch])
    return decode(_path_tensor(path), tf.constant(0, tf.int32)).numpy()


def load_data(
    directory,
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
    index = scan_image_folder(directory, labels, None, "fast", on_bad_file)
    ds = _dataset_from_index(
        index,
        image_size,
        color_mode,
        256,
        False,
        None,
        None,
        "int",
        "bilinear",
        "uint8",
        False,
    )
    images, label_ids = _to_numpy(ds)
    if len(images) != len(index.paths):
        raise ValueError(
            f"{len(index.paths) - len(images)} image(s) in {directory!r} failed to "
            "decode after screening; run image_folder(..., verify='full') to name them."
        )
    out = (images, label_ids)
    return out + (index.class_names,) if return_class_names else out
