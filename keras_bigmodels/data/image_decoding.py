"""Decoding and resizing one image inside `tf.data`, as fast as each file allows.

JPEG files are decoded at a reduced scale when the target size permits
(the decoder's DCT scaling), PNG/GIF/BMP by TensorFlow, everything else
(16-bit, CMYK, TIFF, WebP) by Pillow; only the branches a folder needs are
built into the graph.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_bigmodels.data import screening
from keras_bigmodels.data.image_index import ImageIndex

CHANNELS = {"rgb": 3, "grayscale": 1, "rgba": 4}
_JPEG_RATIOS = (1, 2, 4, 8)
_BRANCH_TF = len(_JPEG_RATIOS)
_BRANCH_PIL = _BRANCH_TF + 1


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


_CONVEX_INTERPOLATIONS = frozenset({"bilinear", "area", "nearest"})


def _make_decoder(
    image_size, *, color_mode: str, interpolation: str = "bilinear", branches=None
):
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
    *,
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
    decode = _make_decoder(
        image_size, color_mode=color_mode, interpolation=interpolation, branches=present
    )
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
