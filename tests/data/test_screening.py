"""Every kind of bad file is found when the dataset is built, never mid-epoch."""

import io
import os
import warnings

import numpy as np
import pytest
from PIL import Image

from keras_bigmodels.data import BadImageError, image_folder, load_image
from keras_bigmodels.data.screening import screen_file
from tests.helpers import make_class_folder, pattern_image, write_image

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n%%EOF\n"


def _jpeg_bytes(label=0):
    b = io.BytesIO()
    Image.fromarray(pattern_image(label, (40, 40))).save(b, "JPEG")
    return b.getvalue()


def _png_bytes(label=0):
    b = io.BytesIO()
    Image.fromarray(pattern_image(label, (40, 40))).save(b, "PNG")
    return b.getvalue()


def _corrupt_png():
    data = bytearray(_png_bytes())
    mid = len(data) // 2
    data[mid : mid + 8] = bytes(255 - b for b in data[mid : mid + 8])
    return bytes(data)


BAD_FILES = {
    "empty.png": (b"", "empty file"),
    "notes.jpg": (b"this is a text file, not a photo\n" * 5, "not an image"),
    "truncated.jpg": (_jpeg_bytes()[:300], "truncated"),  # cut inside the header
    "cut.jpg": (_jpeg_bytes()[:-200], "truncated JPEG"),  # cut in the pixel data
    "truncated.png": (_png_bytes()[:200], "cannot decode this PNG"),
    "corrupt.png": (_corrupt_png(), "cannot decode this PNG"),
    "vector.png": (EPS, "cannot decode this EPS"),
}


@pytest.fixture
def folder_with_bad_files(tmp_path):
    make_class_folder(tmp_path, {"a": 6, "b": 6})
    for name, (content, _) in BAD_FILES.items():
        (tmp_path / "a" / name).write_bytes(content)
    return tmp_path


def test_bad_files_are_skipped_with_one_warning_naming_each(folder_with_bad_files):
    with pytest.warns(UserWarning) as record:
        ds = image_folder(
            folder_with_bad_files, image_size=(16, 16), batch_size=4, verbose=False
        )
    messages = [str(w.message) for w in record if "bad image" in str(w.message)]
    assert len(messages) == 1
    for name, (_, reason) in BAD_FILES.items():
        assert name in messages[0]
        line = next(line for line in messages[0].splitlines() if name in line)
        assert reason in line, (name, line)
    assert {os.path.basename(b.path) for b in ds.bad_files} == set(BAD_FILES)
    # Every epoch runs to the end over exactly the good files.
    for _ in range(2):
        n = sum(int(x.shape[0]) for x, _ in ds)
        assert n == 12


def test_on_bad_file_raise_names_the_file(folder_with_bad_files):
    with pytest.raises(
        BadImageError, match="corrupt.png|empty.png|notes.jpg|truncated|vector.png"
    ) as info:
        image_folder(folder_with_bad_files, on_bad_file="raise", verbose=False)
    assert str(folder_with_bad_files) in str(info.value)


def test_full_verification_also_passes_good_files(class_folder):
    ds = image_folder(class_folder, image_size=(8, 8), verify="full", verbose=False)
    assert ds.bad_files == []


def test_bad_file_found_by_load_image(tmp_path):
    p = tmp_path / "x.jpg"
    p.write_bytes(_jpeg_bytes()[:300])
    with pytest.raises(BadImageError, match="x.jpg"):
        load_image(p)
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("budget", [0, None], ids=["read-again", "kept"])
def test_file_that_breaks_after_screening_is_dropped_not_fatal(
    tmp_path, monkeypatch, budget
):
    from keras_bigmodels.data import image_index

    # `budget`: the bytes of screened contents kept; None for the default
    # (every small file kept), 0 for none (every file read again to decode it).
    if budget is not None:
        monkeypatch.setattr(image_index, "KEPT_BYTES", budget)
    make_class_folder(tmp_path, {"a": 4, "b": 4})
    ds = image_folder(
        tmp_path,
        image_size=(8, 8),
        batch_size=None,
        shuffle=False,
        verbose=False,
        device_prefetch=False,
    )
    before = [x for x, _ in ds.as_numpy_iterator()]
    # Truncate one file after the dataset was built.
    victim = ds.file_paths[0]
    with open(victim, "r+b") as f:
        f.truncate(50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        after = [x for x, _ in ds.as_numpy_iterator()]
    # The epoch keeps its length: a broken file's slot is refilled, and a file
    # whose screened content was kept decodes from what was screened.
    assert len(after) == 8
    if budget is None:
        np.testing.assert_array_equal(np.stack(after), np.stack(before))
    else:
        assert not any(np.array_equal(before[0], x) for x in after[:7])


def test_screen_files_keeps_whole_small_files_within_the_budget(tmp_path):
    from keras_bigmodels.data import screening

    paths = make_class_folder(tmp_path, {"a": 5, "b": 5}, ext=".jpg")
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)
    # Read whole but too big to keep (> 64 KiB), and read in parts (> 256 KiB).
    paths.append(write_image(str(tmp_path / "b" / "mid.png"), noise[:180, :180]))
    paths.append(write_image(str(tmp_path / "a" / "big.png"), noise))
    sizes = [os.path.getsize(p) for p in paths]
    assert screening._KEPT_FILE_BYTES < sizes[-2] <= screening._WHOLE_READ_BYTES
    assert sizes[-1] > screening._WHOLE_READ_BYTES
    budget = sum(sizes[:4]) + sizes[4] // 2  # room for the first four only
    got = screening.screen_files(paths, keep_bytes=budget)
    assert got.bad_files == [] and None not in got.infos
    assert got.stamps == [(os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths]
    kept = [c is not None for c in got.contents]
    assert kept[:4] == [True] * 4 and kept[-2:] == [False, False]
    assert sum(len(c) for c in got.contents if c is not None) <= budget
    for path, content in zip(paths, got.contents, strict=True):
        if content is not None:
            with open(path, "rb") as f:
                assert content == f.read()
    # The big files are never kept, whatever the budget; no budget keeps nothing.
    every = screening.screen_files(paths, keep_bytes=1 << 30).contents
    assert [c is None for c in every] == [False] * 10 + [True, True]
    assert screening.screen_files(paths).contents == [None] * len(paths)


COLOR_CASES = {
    "gray.png": ("PNG", "L"),
    "rgba.png": ("PNG", "RGBA"),
    "palette.png": ("PNG", "P"),
    "cmyk.jpg": ("JPEG", "CMYK"),
    "gray.jpg": ("JPEG", "L"),
    "palette.bmp": ("BMP", "P"),
    "rgb.tif": ("TIFF", "RGB"),
    "anim.gif": ("GIF", "P"),
    "rgb.webp": ("WEBP", "RGB"),
}


@pytest.mark.parametrize("name", sorted(COLOR_CASES))
@pytest.mark.parametrize("color_mode", ["rgb", "grayscale", "rgba"])
def test_modes_convert_to_requested_color_mode(tmp_path, name, color_mode):
    fmt, mode = COLOR_CASES[name]
    src = pattern_image(1, (12, 16))
    path = write_image(str(tmp_path / name), src, fmt=fmt, mode=mode)
    img = load_image(path, image_size=None, color_mode=color_mode)
    channels = {"rgb": 3, "grayscale": 1, "rgba": 4}[color_mode]
    assert img.shape == (12, 16, channels) and img.dtype == np.uint8
    ref = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    if color_mode == "grayscale":
        ref = ref @ np.array([0.299, 0.587, 0.114])
        got = img[..., 0]
    else:
        got = img[..., :3]
        if color_mode == "rgba":
            assert img[..., 3].min() >= 0
    # Decoders differ in rounding and JPEG colour conversion by a few levels.
    tol = 12 if fmt in ("JPEG", "WEBP") or color_mode == "grayscale" else 1
    assert np.abs(got.astype(np.float64) - ref).max() <= tol, name


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    ramp = (np.linspace(0, 65535, 12 * 16).reshape(12, 16)).astype(np.uint16)
    path = str(tmp_path / "deep.png")
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I;16")
    img = load_image(path, image_size=None, color_mode="grayscale")[..., 0]
    np.testing.assert_allclose(img, ramp / 257.0, atol=1.0)


def test_16_bit_tiff_goes_through_pillow_and_is_scaled(tmp_path):
    ramp = (np.linspace(0, 65535, 12 * 16).reshape(12, 16)).astype(np.uint16)
    path = str(tmp_path / "deep.tif")
    Image.fromarray(ramp).save(path)
    img = load_image(path, image_size=None, color_mode="grayscale")[..., 0]
    np.testing.assert_allclose(img, ramp / 257.0, atol=1.0)


PNG_MODES = ("1", "L", "I;16", "LA", "P", "RGB", "RGBA")


@pytest.mark.parametrize("mode", PNG_MODES)
def test_png_probe_reads_the_header_pillow_reads(tmp_path, mode):
    src = Image.fromarray(pattern_image(2, (13, 21))).convert("RGB")
    img = src.convert("I").point(lambda v: v * 200) if mode == "I;16" else src
    path = str(tmp_path / f"{mode.replace(';', '')}.png")
    img.convert(mode).save(path)
    info = screen_file(path, verify="fast")
    with Image.open(path) as im:
        assert (info.format, info.mode, info.width, info.height) == (
            im.format,
            im.mode,
            *im.size,
        )


def _png_chunks(data):
    """(offset, length, type) of each chunk of a PNG byte string."""
    out, i = [], 8
    while i < len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        out.append((i, length, data[i + 4 : i + 8]))
        i += 12 + length
    return out


def _damaged_pngs():
    data = _png_bytes()
    chunks = _png_chunks(data)
    (ihdr, _, _), idat, (iend, _, _) = chunks[0], chunks[1], chunks[-1]
    flip = bytearray(data)
    flip[idat[0] + 8 + idat[1] // 2] ^= 0x10  # one bit in the compressed pixels
    header = bytearray(data)
    header[ihdr + 9] ^= 0x01  # the width's lowest byte
    crc = bytearray(data)
    crc[iend - 1] ^= 0xFF  # the last IDAT checksum
    no_data = data[: idat[0]] + data[idat[0] + 12 + idat[1] :]
    return {
        "pixel bit": bytes(flip),
        "header byte": bytes(header),
        "checksum": bytes(crc),
        "no IEND": data[:iend],
        "cut in IDAT": data[: idat[0] + 20],
        "no IDAT": no_data,
    }


@pytest.mark.parametrize("damage", sorted(_damaged_pngs()))
def test_png_probe_finds_the_damage_pillow_finds(tmp_path, damage):
    path = tmp_path / "x.png"
    path.write_bytes(_damaged_pngs()[damage])
    with pytest.raises(BadImageError, match="cannot decode this PNG"):
        screen_file(str(path), verify="fast")
    with pytest.raises(Exception):  # noqa: B017 - Pillow raises several types
        with Image.open(path) as im:
            im.verify()
            im = Image.open(path)
            im.load()


@pytest.mark.parametrize("head", [16, 200])
def test_large_files_screened_from_their_head_and_tail(tmp_path, monkeypatch, head):
    # Files over the whole-read size are read from a head, then as needed (the
    # rest of a PNG for its checksums, the tail of a JPEG for its end marker,
    # more of a JPEG whose frame header lies beyond the head): shrink the
    # sizes so those paths run on small files, and get the same verdicts.
    from keras_bigmodels.data import screening

    monkeypatch.setattr(screening, "_WHOLE_READ_BYTES", 0)
    monkeypatch.setattr(screening, "_HEAD_BYTES", head)
    for name in ("good.png", "good.jpg"):
        path = tmp_path / name
        path.write_bytes(_png_bytes(3) if name.endswith("png") else _jpeg_bytes(3))
        info = screen_file(str(path), verify="fast")
        with Image.open(path) as im:
            assert (info.format, info.mode, info.width, info.height) == (
                im.format,
                im.mode,
                *im.size,
            )
    for data in _damaged_pngs().values():
        path = tmp_path / "bad.png"
        path.write_bytes(data)
        with pytest.raises(BadImageError, match="cannot decode this PNG"):
            screen_file(str(path), verify="fast")
    for name in ("truncated.jpg", "cut.jpg"):
        path = tmp_path / name
        path.write_bytes(BAD_FILES[name][0])
        with pytest.raises(BadImageError, match=BAD_FILES[name][1]):
            screen_file(str(path), verify="fast")


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_full_verification_finds_every_bad_file(tmp_path, name):
    # verify="full" leaves the structural probes to Pillow; the same files fail.
    content, reason = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadImageError, match=reason):
        screen_file(str(path), verify="full")


def test_png_checksum_routine_equals_zlibs_crc32():
    # Screening uses ISA-L's CRC-32 where it is installed: it must be zlib's
    # (PNG's) polynomial on every length and on unaligned memoryview slices,
    # which is how the PNG probe passes chunk bodies.
    import zlib

    from keras_bigmodels.data import screening

    data = np.random.default_rng(0).integers(0, 256, 300_003, np.uint8).tobytes()
    view = memoryview(data)
    for length in (0, 1, 7, 64, 1000, 5000, 65_539, 300_000):
        for offset in (0, 1, 3):
            chunk = view[offset : offset + length]
            assert screening.crc32(chunk) == zlib.crc32(chunk), (length, offset)
