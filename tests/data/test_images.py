import os
import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_bigmodels.data import image_folder, load_data, load_image, stratified_split
from tests.helpers import make_class_folder, pattern_image, write_image


def _labels_by_path(ds):
    out = {}
    paths = iter(ds.file_paths)
    for _, y in ds.unbatch():
        out[next(paths)] = int(y)
    return out


def test_inferred_labels_and_class_names(class_folder):
    ds = image_folder(
        class_folder, image_size=(16, 16), batch_size=4, shuffle=False, verbose=False
    )
    assert ds.class_names == ["cat", "dog", "owl"]
    x, y = next(iter(ds))
    assert x.shape == (4, 16, 16, 3) and x.dtype == tf.uint8
    assert float(tf.reduce_max(x)) <= 255.0
    labels = _labels_by_path(ds)
    for path, label in labels.items():
        assert ds.class_names[label] == os.path.basename(os.path.dirname(path))
    assert len(labels) == 25


def test_pixels_match_a_bilinear_resize_of_the_file(class_folder):
    ds = image_folder(
        class_folder, image_size=(10, 12), batch_size=None, shuffle=False, verbose=False
    )
    x, _ = next(iter(ds))
    src = np.asarray(Image.open(ds.file_paths[0]).convert("RGB"))
    ref = tf.image.resize(src, (10, 12), method="bilinear").numpy()
    np.testing.assert_allclose(x.numpy(), np.round(ref), atol=1.0)


@pytest.mark.parametrize(
    "interpolation", ["bilinear", "area", "nearest", "bicubic", "lanczos3"]
)
def test_every_resize_method_gives_rounded_clipped_pixels(tmp_path, interpolation):
    # Black and white stripes: the cubic and Lanczos kernels overshoot the
    # 0..255 range at the edges, so a missing clip would wrap around in uint8.
    stripes = np.zeros((24, 30, 3), np.uint8)
    stripes[:, ::4] = 255
    stripes[::5] = 255
    for name in ("a", "b"):
        write_image(str(tmp_path / name / "0.png"), stripes)
    ds = image_folder(
        tmp_path,
        image_size=(17, 11),
        batch_size=None,
        shuffle=False,
        interpolation=interpolation,
        verbose=False,
    )
    x, _ = next(iter(ds))
    raw = tf.image.resize(stripes, (17, 11), method=interpolation).numpy()
    ref = np.round(np.clip(raw.astype(np.float64), 0, 255)).astype(np.uint8)
    assert x.dtype == tf.uint8
    np.testing.assert_array_equal(x.numpy(), ref)
    if interpolation in ("bicubic", "lanczos3"):
        assert raw.min() < -0.5  # the clip mattered here


def test_filename_labels_as_in_the_article(tmp_path):
    for label in range(3):
        for i in range(4):
            write_image(str(tmp_path / f"{label}.{i:04d}.png"), pattern_image(label))
    ds = image_folder(
        tmp_path, image_size=(8, 8), labels="filename", shuffle=False, verbose=False
    )
    assert ds.class_names == ["0", "1", "2"]
    for path, label in _labels_by_path(ds).items():
        assert os.path.basename(path).split(".")[0] == ds.class_names[label]


def test_numeric_class_names_sort_numerically(tmp_path):
    make_class_folder(tmp_path, {"2": 2, "10": 2, "9": 2})
    ds = image_folder(tmp_path, image_size=(8, 8), verbose=False)
    assert ds.class_names == ["2", "9", "10"]


def test_regex_and_callable_labels(tmp_path):
    for i in range(6):
        write_image(
            str(tmp_path / f"img_{'cat' if i % 2 else 'dog'}_{i}.png"),
            pattern_image(i % 2),
        )
    ds = image_folder(
        tmp_path,
        image_size=(8, 8),
        labels=re.compile(r"img_(\w+?)_"),
        shuffle=False,
        verbose=False,
    )
    assert ds.class_names == ["cat", "dog"]
    ds2 = image_folder(
        tmp_path,
        image_size=(8, 8),
        verbose=False,
        labels=lambda p: "odd" if int(p[-5]) % 2 else "even",
    )
    assert ds2.class_names == ["even", "odd"]
    for path, label in _labels_by_path(ds).items():
        assert ds.class_names[label] in os.path.basename(path)


def test_unlabelled_images_only(class_folder):
    ds = image_folder(class_folder, image_size=(8, 8), labels=None, verbose=False)
    x = next(iter(ds))
    assert x.shape[1:] == (8, 8, 3)


def test_categorical_labels(class_folder):
    ds = image_folder(
        class_folder, image_size=(8, 8), label_mode="categorical", verbose=False
    )
    _, y = next(iter(ds))
    assert y.shape[1] == 3
    np.testing.assert_allclose(tf.reduce_sum(y, axis=1), 1.0)


def test_split_is_stratified_seeded_and_disjoint(tmp_path):
    make_class_folder(tmp_path, {"a": 20, "b": 10, "c": 30})
    kw = dict(image_size=(8, 8), validation_split=0.2, seed=7, verbose=False)
    train, val = image_folder(tmp_path, subset="both", **kw)
    assert not set(train.file_paths) & set(val.file_paths)
    assert len(train.file_paths) + len(val.file_paths) == 60
    per_class = {c: sum(f"/{c}/" in p for p in val.file_paths) for c in "abc"}
    assert per_class == {"a": 4, "b": 2, "c": 6}
    # Separate calls with the same seed agree; another seed differs.
    assert (
        image_folder(tmp_path, subset="validation", **kw).file_paths == val.file_paths
    )
    assert (
        image_folder(tmp_path, subset="training", **kw).file_paths == train.file_paths
    )
    kw["seed"] = 8
    assert (
        image_folder(tmp_path, subset="validation", **kw).file_paths != val.file_paths
    )


def test_three_way_split(tmp_path):
    make_class_folder(tmp_path, {"a": 10, "b": 10})
    train, val, test = image_folder(
        tmp_path,
        image_size=(8, 8),
        validation_split=0.2,
        test_split=0.1,
        subset="all",
        seed=1,
        verbose=False,
    )
    sets = [set(d.file_paths) for d in (train, val, test)]
    assert [len(s) for s in sets] == [14, 4, 2]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])


def test_stratified_split_numbers():
    labels = np.array([0] * 50 + [1] * 5 + [2] * 2)
    a, b = stratified_split(labels, (0.8, 0.2), seed=0)
    assert len(np.intersect1d(a, b)) == 0 and len(a) + len(b) == len(labels)
    assert np.bincount(labels[b]).tolist() == [10, 1, 1]
    a2, b2 = stratified_split(labels, (0.8, 0.2), seed=0)
    np.testing.assert_array_equal(b, b2)


def test_cache_in_memory_and_on_disk_match_uncached(class_folder, tmp_path_factory):
    kw = dict(image_size=(12, 12), batch_size=None, shuffle=False, verbose=False)
    plain = np.stack(
        [x for x, _ in image_folder(class_folder, **kw).as_numpy_iterator()]
    )
    mem = image_folder(class_folder, cache="memory", **kw)
    path = tmp_path_factory.mktemp("cache") / "images"
    disk = image_folder(class_folder, cache=str(path), **kw)
    for ds in (mem, disk):
        for _ in range(2):  # the first epoch fills the cache, the second reads it
            got = np.stack([x for x, _ in ds.as_numpy_iterator()])
            np.testing.assert_array_equal(got, plain)
    assert any(f.startswith("images") for f in os.listdir(path.parent))


@pytest.mark.parametrize(
    "color_mode,pillow_file", [("rgb", True), ("grayscale", True), ("rgb", False)]
)
def test_screened_contents_kept_or_read_again_give_the_same_pixels(
    tmp_path, monkeypatch, color_mode, pillow_file
):
    # Screening keeps small files' bytes for their decoders up to a budget;
    # every file, kept or read again (over the budget, or Pillow's), must give
    # the pixels a plain read gives, in the same order and with its label.
    from keras_bigmodels.data import image_index as I  # noqa: N812

    make_class_folder(tmp_path, {"a": 4, "b": 4}, ext=".jpg")
    make_class_folder(tmp_path, {"a": 3, "b": 3}, ext=".png")
    if pillow_file:
        write_image(str(tmp_path / "a" / "x.tif"), pattern_image(2), fmt="TIFF")
    kw = dict(
        image_size=(12, 10),
        batch_size=None,
        shuffle=False,
        color_mode=color_mode,
        verbose=False,
        device_prefetch=False,
    )

    def epoch(budget):
        monkeypatch.setattr(I, "KEPT_BYTES", budget)
        monkeypatch.setenv("KERAS_BIGMODELS_CACHE", "off")
        ds = image_folder(tmp_path, **kw)
        xs, ys = zip(*ds.as_numpy_iterator(), strict=True)
        return ds.index.contents, np.stack(xs), np.array(ys)

    default = I.KEPT_BYTES
    none, x0, y0 = epoch(0)
    assert none is None
    total = sum(os.path.getsize(p) for p in I.list_image_files(tmp_path))
    some, x1, y1 = epoch(total // 2)
    assert any(c is None for c in some) and any(c is not None for c in some)
    every, x2, y2 = epoch(default)
    tif = [p.endswith(".tif") for p in image_folder(tmp_path, **kw).file_paths]
    assert [c is None for c in every] == tif  # Pillow's files are read by Pillow
    for x, y in ((x1, y1), (x2, y2)):
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(y, y0)


def test_shuffle_differs_between_epochs_but_is_seeded(class_folder):
    kw = dict(image_size=(8, 8), batch_size=None, seed=3, verbose=False)

    def orders(ds):
        return [[int(y) for _, y in ds] for _ in range(2)]

    first = orders(image_folder(class_folder, **kw))
    assert first[0] != first[1]
    assert orders(image_folder(class_folder, **kw)) == first


def test_trains_with_fit(class_folder):
    train = image_folder(class_folder, image_size=(16, 16), batch_size=8, verbose=False)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert int(train.cardinality()) == 4  # 25 images in batches of 8: known length
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*ran out of data")
        history = model.fit(train, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(image_size=(0, 8)), "image_size"),
        (dict(batch_size=0), "batch_size"),
        (dict(color_mode="cmyk"), "color_mode"),
        (dict(validation_split=1.5, subset="training", seed=1), "validation_split"),
        (dict(validation_split=0.2), "subset"),
        (dict(subset="training"), "subset"),
        (dict(validation_split=0.2, subset="training"), "seed"),
        (dict(validation_split=0.6, test_split=0.5, subset="all"), "leave images"),
        (dict(labels="folders"), "labels"),
        (dict(cache=3), "cache"),
        (dict(on_bad_file="ignore"), "on_bad_file"),
        (dict(label_mode="binary"), "binary"),
    ],
)
def test_invalid_arguments(class_folder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_folder(class_folder, verbose=False, **kwargs)


def test_clear_errors_for_missing_empty_and_single_class(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory"):
        image_folder(tmp_path / "nope")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "readme.txt").write_text("hi")
    with pytest.raises(ValueError, match="No image files found.*must end in"):
        image_folder(tmp_path, verbose=False)
    make_class_folder(tmp_path, {"a": 3})
    with pytest.raises(ValueError, match="single class"):
        image_folder(tmp_path, verbose=False)
    flat = tmp_path / "flat"
    write_image(str(flat / "x.png"), pattern_image(0))
    with pytest.raises(ValueError, match="labels='filename'"):
        image_folder(flat, verbose=False)


def test_load_image_and_load_data_feed_the_article_code(tmp_path):
    for label in range(10):
        for i in range(2):
            write_image(str(tmp_path / f"{label}.{i:04d}.png"), pattern_image(label))
    img = load_image(tmp_path / "3.0000.png", image_size=(32, 32))
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    images, labels = load_data(tmp_path, image_size=(32, 32))
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8
    # The article's own next two lines now work unchanged.
    images = images / 255.0
    onehot = keras.utils.to_categorical(labels, num_classes=10)
    assert onehot.shape == (20, 10) and images.max() <= 1.0
    assert labels.tolist() == [i // 2 for i in range(20)]
    np.testing.assert_array_equal(
        load_image(tmp_path / "3.0000.png", image_size=(32, 32)),
        (images[6] * 255).round().astype(np.uint8),
    )


def test_large_jpeg_decoded_at_reduced_scale_matches_full_decode(tmp_path):
    yy, xx = np.mgrid[0:256, 0:320]
    smooth = np.stack(
        [128 + 100 * np.sin(xx / 40.0 + k) * np.cos(yy / 50.0) for k in range(3)], -1
    ).astype(np.uint8)
    path = write_image(str(tmp_path / "big.jpg"), smooth)
    fast = load_image(path, image_size=(32, 32)).astype(np.float64)
    full = tf.image.resize(
        tf.io.decode_jpeg(open(path, "rb").read()), (32, 32), antialias=True
    ).numpy()
    assert np.abs(fast - full).mean() < 3.0


@pytest.mark.parametrize("color_mode", ["rgb", "grayscale", "rgba"])
def test_decoder_built_for_one_branch_gives_the_pixels_of_the_full_switch(
    tmp_path, color_mode
):
    # A folder of one kind of file gets a straight decode with no switch_case;
    # it must give exactly the pixels every other folder gets.
    from keras_bigmodels.data import image_decoding as D  # noqa: N812
    from keras_bigmodels.data import image_index as I  # noqa: N812

    big = np.tile(pattern_image(3, (64, 80)), (4, 4, 1))  # 256x320: DCT ratio 4
    files = {
        "small.jpg": ("JPEG", "RGB", pattern_image(1, (20, 24))),
        "big.jpg": ("JPEG", "RGB", big),
        "rgba.png": ("PNG", "RGBA", pattern_image(2, (20, 24))),
        "palette.bmp": ("BMP", "P", pattern_image(4, (20, 24))),
    }
    index = I.ImageIndex(
        [
            write_image(str(tmp_path / n), a, fmt=f, mode=m)
            for n, (f, m, a) in files.items()
        ],
        None,
        [],
        [],
        [],
    )
    index.infos = [I.screening.screen_file(p) for p in index.paths]
    size = (32, 40)
    present, ids = D._compact_branches(index, size, color_mode)
    assert len(present) == 4  # JPEG at two scales, TensorFlow's decoder, Pillow
    everything = D._make_decoder(size, color_mode=color_mode)
    for path, info, branch in zip(index.paths, index.infos, ids, strict=True):
        full = D._branch_for(info, size, color_mode)
        expected = everything(tf.constant(path), tf.constant(full)).numpy()
        alone = D._make_decoder(size, color_mode=color_mode, branches=[full])
        got = alone(tf.constant(path), tf.constant(0)).numpy()
        np.testing.assert_array_equal(got, expected, err_msg=path)
        compact = D._make_decoder(size, color_mode=color_mode, branches=present)
        got = compact(tf.constant(path), tf.constant(branch)).numpy()
        np.testing.assert_array_equal(got, expected, err_msg=path)


def test_file_names_that_are_not_utf8_are_read(tmp_path):
    # GBK names unpacked on Linux from a zip made on a Chinese Windows: Python
    # lists them with surrogate escapes, which TensorFlow cannot encode.
    root = os.fsencode(tmp_path)
    names = {}
    for label, cls in enumerate((b"\xc3\xa8", b"\xb9\xb7")):  # 猫, 狗 in GBK
        for i, ext in enumerate((b".png", b".tif", b".jpg")):
            path = os.path.join(root, cls, b"\xcd\xbc\xc6\xac%d%s" % (i, ext))  # 图片
            try:
                write_image(path, pattern_image(label, seed=i))
            except (OSError, UnicodeError):
                pytest.skip("this file system takes only UTF-8 names")
            names[os.fsdecode(path)] = label
    ds = image_folder(
        tmp_path, image_size=(20, 24), batch_size=None, shuffle=False, verbose=False
    )
    assert sorted(ds.file_paths) == sorted(names) and not ds.bad_files
    for path, (x, y) in zip(ds.file_paths, ds, strict=True):
        # Same size: the resize changes nothing. TIFF goes through Pillow.
        if path.endswith(".tif"):
            with Image.open(path) as im:
                want = np.asarray(im.convert("RGB"))
        else:
            with open(path, "rb") as f:
                want = tf.io.decode_image(f.read(), channels=3).numpy()
        np.testing.assert_array_equal(x.numpy(), want)
        assert int(y) == names[path]
        np.testing.assert_array_equal(load_image(path, image_size=(20, 24)), x)


def _parallel_map_calls(ds) -> list[int]:
    """num_parallel_calls of every parallel map in a dataset's graph."""
    graph = tf.compat.v1.GraphDef.FromString(ds._as_serialized_graph().numpy())
    nodes = {n.name: n for n in graph.node}
    return [
        int(tf.make_ndarray(nodes[n.input[-1].split(":")[0]].attr["value"].tensor))
        for n in graph.node
        if n.op.startswith("ParallelMapDataset")
    ]


def test_pipeline_decodes_two_files_per_core_without_the_autotuning_model(
    class_folder,
):
    from keras_bigmodels.data.pipeline_options import parallel_calls

    for dtype in ("uint8", "float32"):  # float32 adds a per-batch map
        ds = image_folder(
            class_folder, image_size=(8, 8), dtype=dtype, seed=0, verbose=False
        )
        assert ds.options().autotune.enabled is False
        calls = _parallel_map_calls(ds)
        assert calls == [parallel_calls()] * (1 if dtype == "uint8" else 2)
    assert parallel_calls() == 2 * len(os.sched_getaffinity(0))
    # A user who wants tf.data's tuning back sets it on the dataset.
    options = tf.data.Options()
    options.autotune.enabled = True
    assert ds.with_options(options).options().autotune.enabled is True
    assert sum(int(x.shape[0]) for x, _ in ds) == 25
