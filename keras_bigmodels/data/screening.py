"""Screening image files before training: find every file that would fail later.

A file that cannot be decoded must never stop an epoch halfway. Each file is
checked once, when a dataset is built, and sorted into a decoder "kind":

* JPEG: decoded by TensorFlow (with DCT down-scaling when the image is large);
* PNG, GIF, BMP (true colour), WebP: decoded by TensorFlow's generic decoder;
* anything else Pillow can read (TIFF, palette BMP, ...): decoded by Pillow.

`verify="fast"` checks structure without decoding pixels: the header parses,
PNG chunk checksums match, a JPEG ends with its end-of-image marker, BMP/GIF/
WebP/TIFF decode with Pillow (they have no cheap check). `verify="full"`
decodes every image with Pillow, which also catches corruption that leaves the
structure intact but is slower.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, UnidentifiedImageError

try:
    # ISA-L's CRC-32 (the same polynomial as zlib's, which PNG uses) runs on
    # the CPU's carry-less multiply: 4-5x zlib's speed, and checking every
    # chunk's checksum is most of what screening a PNG costs.
    from isal.isal_zlib import crc32
except ImportError:  # no isal wheel for this platform
    from zlib import crc32

# Decoder kinds; the integers index the branches of the decode `switch_case`.
KIND_JPEG = 0
KIND_TF = 1
KIND_PIL = 2

# Formats TensorFlow's own decoders read correctly in every mode we have seen
# (16-bit PNG is scaled to 8 bits properly; CMYK JPEG is converted).
_TF_FORMATS = {"PNG", "GIF", "WEBP"}
_TF_BMP_MODES = {"RGB", "RGBA"}

VERIFY_MODES = ("fast", "full")


class BadFilesWarning(UserWarning):
    """Files were left out of a dataset; the message names each and why."""


@dataclasses.dataclass(frozen=True)
class BadFile:
    """A file left out of a dataset, and why."""

    path: str
    reason: str
    # "unreadable" (not an image, corrupt, missing), "no_label" or
    # "unknown_class" (a class outside the ones asked for).
    kind: str = "unreadable"

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """What screening learned about one good file."""

    kind: int
    width: int
    height: int
    format: str
    mode: str


class BadImageError(ValueError):
    """Raised when a file is not a usable image; the message names the file."""


# Start-of-frame markers: every one but DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_MODES = {1: "L", 3: "RGB", 4: "CMYK"}
_SEGMENT = struct.Struct(">BBH")  # 0xFF, marker, segment length
_FRAME = struct.Struct(">HHB")  # a frame header's height, width, components


# Files up to this size are read whole in one system call (a PNG's checksums
# need every byte; a small JPEG's header and end marker are then both at
# hand); of a larger file, the first _HEAD_BYTES, which hold the headers of
# nearly every image.
_WHOLE_READ_BYTES = 1 << 18
_HEAD_BYTES = 1 << 16
# Of the files read whole, those up to this size may be kept for their decoder
# (`screen_files(keep_bytes=...)`): reading a file costs its decoder a fixed
# few microseconds, worth saving on small images; on larger ones decoding
# dwarfs it and a kept copy would only take memory.
_KEPT_FILE_BYTES = 1 << 16
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)  # O_BINARY: Windows only


def _pread(fd: int, n: int, offset: int) -> bytes:
    # os.pread does not exist on Windows.
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, n)


def _read_whole(fd: int, data: bytes, size: int) -> bytes:
    """The whole file of `size` bytes whose first bytes are `data`."""
    parts, got = [data], len(data)
    while got < size:
        chunk = _pread(fd, size - got, got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return data if len(parts) == 1 else b"".join(parts)


def _jpeg_ends(fd: int, data: bytes, size: int) -> bool:
    """Whether the last KiB of the JPEG file whose first bytes are `data`
    holds the end-of-image marker.

    Entropy-coded JPEG data stuffs 0xFF as 0xFF00, so 0xFFD9 in the tail can
    only be that marker; a truncated file lacks it.
    """
    if len(data) >= size:  # searched in place: no copy of the tail
        return data.find(b"\xff\xd9", max(0, len(data) - 1024)) >= 0
    return b"\xff\xd9" in _pread(fd, 1024, max(0, size - 1024))


def _probe_jpeg(fd: int, size: int, data: bytes) -> ImageInfo | None:
    """Walk a JPEG's marker segments to its frame header, without Pillow.

    About ten times cheaper than `Image.open`, which matters when a folder
    of photos is screened before every first epoch. `data` holds the file's
    first bytes (the frame header is nearly always in the first 64 KiB);
    more is read from `fd` only for very large EXIF blocks. Returns None when
    the header is unusual (Pillow then has the last word).
    """
    i, n = 2, len(data)  # i: after the start-of-image marker
    while True:
        if i + 10 > n:
            more = _pread(fd, max(65536, i + 10 - n), n)
            if not more or n > (1 << 20):
                return None
            data += more
            n = len(data)
            continue
        # One unpack per segment: a slice and int.from_bytes cost more.
        ff, marker, length = _SEGMENT.unpack_from(data, i)
        if ff != 0xFF:
            return None
        if marker in _SOF_MARKERS:
            height, width, components = _FRAME.unpack_from(data, i + 5)
            mode = _JPEG_MODES.get(components)
            if not (height and width and mode):
                return None
            if not _jpeg_ends(fd, data, size):
                raise BadImageError("truncated JPEG (no end-of-image marker)")
            return ImageInfo(KIND_JPEG, width, height, "JPEG", mode)
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length field
            i += 2
        elif marker == 0xDA:  # scan data before any frame header
            return None
        else:
            i += 2 + length


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# (colour type, bit depth) -> the mode Pillow reports.
_PNG_MODES = {
    (0, 1): "1",
    **{(0, d): "L" for d in (2, 4, 8)},
    (0, 16): "I;16",
    (2, 8): "RGB",
    (2, 16): "RGB",
    **{(3, d): "P" for d in (1, 2, 4, 8)},
    (4, 8): "LA",
    (4, 16): "LA",
    (6, 8): "RGBA",
    (6, 16): "RGBA",
}


_CHUNK_HEAD = struct.Struct(">I4s")  # a PNG chunk's length and type
_CRC = struct.Struct(">I")


def _png_error(detail: str) -> BadImageError:
    return BadImageError(
        f"cannot decode this PNG image: corrupt, truncated or an unsupported "
        f"variant ({detail})"
    )


def _probe_png(whole: bytes) -> ImageInfo | None:
    """Walk a PNG's chunks and check every checksum, without Pillow.

    The same checks as Pillow's `verify()` at about half its cost. `whole` is
    the entire file (read at once: a read per chunk cost more than the
    checksums on small files). Returns None for a header Pillow should judge.
    """
    data = memoryview(whole)[len(_PNG_SIGNATURE) :]
    ihdr = data[:25]  # length (4), b"IHDR" (4), fields (13), checksum (4)
    if len(ihdr) < 25 or ihdr[4:8] != b"IHDR" or ihdr[:4] != b"\0\0\0\x0d":
        return None
    if crc32(ihdr[4:21]) != int.from_bytes(ihdr[21:25], "big"):
        raise _png_error("the IHDR chunk fails its checksum")
    width = int.from_bytes(ihdr[8:12], "big")
    height = int.from_bytes(ihdr[12:16], "big")
    mode = _PNG_MODES.get((ihdr[17], ihdr[16]))
    if mode is None:
        return None
    i, end, has_data = 25, len(data), False  # i: offset of the next chunk
    while True:
        if i + 8 > end:
            raise _png_error("truncated: no IEND chunk")
        length, kind = _CHUNK_HEAD.unpack_from(data, i)
        body_end = i + 8 + length
        if body_end + 4 > end:
            raise _png_error(f"truncated inside a {kind!r} chunk")
        # The checksum covers the chunk type and its data, which lie together.
        if crc32(data[i + 4 : body_end]) != _CRC.unpack_from(data, body_end)[0]:
            raise _png_error(f"a {kind.decode('latin-1')} chunk fails its checksum")
        i = body_end + 4
        if kind == b"IDAT":
            has_data = True
        elif kind == b"IEND":
            break
    if not has_data:
        raise _png_error("no IDAT chunk: the file has no image data")
    return ImageInfo(KIND_TF, width, height, "PNG", mode)


def screen_file(path: str, verify: str = "fast") -> ImageInfo:
    """Check that `path` is a decodable image and choose its decoder.

    Args:
        path: str. The file to check.
        verify: str. `"fast"` (structural checks) or `"full"` (decode pixels).

    Returns:
        An `ImageInfo` with the decoder kind, size, format and mode.

    Raises:
        BadImageError: the file is empty, not an image, truncated, corrupt or in
            a format that cannot be decoded. The message gives the reason.
    """
    return _screen(path, verify)[0]


def _screen(path: str, verify: str) -> tuple[ImageInfo, tuple[int, int], bytes | None]:
    """`screen_file`, also returning what the read learned on the way.

    Returns `(info, (size, mtime_ns), content)`: the file's size and
    modification time as it was screened (the screening cache's key, without
    a second `stat`), and the whole file when one read took all of it (small
    files), else None.
    """
    try:
        # A raw descriptor and one read: half the cost of a buffered file on
        # the small images where screening time matters most.
        fd = os.open(path, _OPEN_FLAGS)
        try:
            st = os.fstat(fd)
            size = st.st_size
            data = os.read(fd, size if size <= _WHOLE_READ_BYTES else _HEAD_BYTES)
            if not data:
                raise BadImageError("empty file")
            stamp = (size, st.st_mtime_ns)
            info = None
            if verify == "fast":
                if data[:2] == b"\xff\xd8":
                    info = _probe_jpeg(fd, size, data)
                elif data[:8] == _PNG_SIGNATURE:
                    info = _probe_png(_read_whole(fd, data, size))
            if info is not None and info.width > 0 and info.height > 0:
                return info, stamp, data if len(data) == size else None
            # Unusual headers and full verification: Pillow has the last word.
            with Image.open(path) as im:
                fmt, mode, (width, height) = im.format, im.mode, im.size
                if fmt == "JPEG":
                    if not _jpeg_ends(fd, data, size):
                        raise BadImageError("truncated JPEG (no end-of-image marker)")
                    kind = KIND_JPEG
                elif fmt in _TF_FORMATS or (fmt == "BMP" and mode in _TF_BMP_MODES):
                    kind = KIND_TF
                else:
                    kind = KIND_PIL
                try:
                    if verify == "full" or fmt != "PNG" and kind != KIND_JPEG:
                        if fmt == "JPEG":
                            # 1/8 scale still reads every entropy-coded byte.
                            im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
                        im.load()
                    elif fmt == "PNG":
                        im.verify()  # walks every chunk and checks its CRC
                except (OSError, SyntaxError, ValueError, EOFError) as e:
                    raise BadImageError(
                        f"cannot decode this {fmt} image: corrupt, truncated or an "
                        f"unsupported variant ({e})"
                    ) from None
        finally:
            os.close(fd)
    except BadImageError:
        raise
    except UnidentifiedImageError:
        raise BadImageError(
            "not an image: its content matches no image format "
            "(text or another file type with an image extension?)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise BadImageError(f"corrupt or truncated image data ({e})") from None
    except Image.DecompressionBombError as e:
        raise BadImageError(f"refused as a decompression bomb ({e})") from None
    if width <= 0 or height <= 0:
        raise BadImageError(f"image has no pixels (size {width}x{height})")
    # Pillow decodes KIND_PIL files from their path: their bytes are not kept.
    whole = data if len(data) == size and kind != KIND_PIL else None
    return ImageInfo(kind, width, height, fmt, mode), stamp, whole


@dataclasses.dataclass
class Screened:
    """What `screen_files` found, one entry per path in the order given.

    Attributes:
        infos: `ImageInfo` of each file, or None for a bad one.
        bad_files: list of `BadFile`, the bad files in order.
        stamps: `(size, mtime_ns)` of each good file as it was screened, or
            None (a bad file, or a verdict not screened now).
        contents: the whole file, kept for its decoder so that it is not read
            twice (files up to 64 KiB, within the `keep_bytes` budget), or None.
    """

    infos: list
    bad_files: list
    stamps: list
    contents: list


def screen_files(
    paths: list[str],
    verify: str = "fast",
    num_workers: int | None = None,
    keep_bytes: int = 0,
) -> Screened:
    """Screen many files, in parallel where that pays.

    Args:
        paths: list of str. The files.
        verify: str. `"fast"` or `"full"`.
        num_workers: int or None. Threads for full verification.
        keep_bytes: int. Keep the contents of small files (up to 64 KiB),
            in order, while their total stays within this many bytes.

    Returns:
        A `Screened`.
    """
    infos: list[ImageInfo | None] = []
    bad: list[BadFile] = []
    stamps: list[tuple[int, int] | None] = []
    contents: list[bytes | None] = []
    left = keep_bytes

    def keep(content):
        # Within the budget as the files come: never more held than it allows.
        nonlocal left
        if content is None or len(content) > min(left, _KEPT_FILE_BYTES):
            return None
        left -= len(content)
        return content

    # Full decodes release the GIL inside Pillow, so threads overlap them; the
    # fast structural checks are pure Python, where threads only contend.
    if verify == "fast" or len(paths) < 64:
        # A plain loop: a pool's wrapper call and tuple per file cost a tenth
        # of what screening a small JPEG does.
        for path in paths:
            try:
                info, stamp, content = _screen(path, verify)
            except BadImageError as e:
                info = stamp = content = None
                bad.append(BadFile(path, str(e)))
            infos.append(info)
            stamps.append(stamp)
            contents.append(keep(content))
    else:

        def one(path):
            try:
                return _screen(path, verify), None
            except BadImageError as e:
                return (None, None, None), BadFile(path, str(e))

        workers = num_workers or min(16, 2 * (os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for (info, stamp, content), bad_file in pool.map(one, paths, chunksize=32):
                infos.append(info)
                stamps.append(stamp)
                contents.append(keep(content))
                if bad_file is not None:
                    bad.append(bad_file)
    return Screened(infos, bad, stamps, contents)


def report_bad_files(bad_files: list[BadFile], on_bad_file: str) -> None:
    """Raise on the first bad file, or warn once naming every bad file."""
    if not bad_files:
        return
    if on_bad_file == "raise":
        first = bad_files[0]
        raise BadImageError(f"Bad image file {first.path}: {first.reason}")
    lines = "\n".join(f"  {b}" for b in bad_files)
    warnings.warn(
        f"Skipped {len(bad_files)} bad image file(s):\n{lines}",
        BadFilesWarning,
        stacklevel=3,
    )


def pil_to_array(im: Image.Image, color_mode: str) -> np.ndarray:
    """Convert a Pillow image to a uint8 (H, W, C) array in `color_mode`.

    16-bit and 32-bit integer images are scaled to 8 bits (Pillow's own
    `convert` clips them instead); palette images with transparency go through
    RGBA so the transparency is honoured.
    """
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.int64)
        peak = 65535 if im.mode.startswith("I;16") else max(int(arr.max()), 1)
        if im.mode == "I" and peak <= 255:
            peak = 255
        arr = np.clip(arr, 0, None) * 255 // peak
        im = Image.fromarray(arr.astype(np.uint8), "L")
    elif im.mode == "F":
        im = Image.fromarray(np.clip(np.asarray(im), 0, 255).astype(np.uint8), "L")
    elif im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    target = {"rgb": "RGB", "grayscale": "L", "rgba": "RGBA"}[color_mode]
    arr = np.asarray(im.convert(target), dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr
