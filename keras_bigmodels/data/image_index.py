"""A folder of images to an index: its files, their classes, bad files set aside.

Listing is sorted and hidden files and folders are skipped; labels come from
class sub-folders, file names, a pattern or a function; every file is
screened (`data.screening`) before training, so a broken or mislabelled file
is reported at the start, never found halfway through an epoch.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Sequence

import numpy as np

from keras_bigmodels import _validation as V
from keras_bigmodels._paths import visible_subfolders
from keras_bigmodels.data import screening
from keras_bigmodels.data.screening_cache import screen_remembered

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
    *,
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

    screened = screen_remembered(
        paths, verify=verify, directory=directory, keep_bytes=KEPT_BYTES
    )
    bad.extend(screened.bad_files)
    infos = screened.infos
    good = [i for i, info in enumerate(infos) if info is not None]
    screening.report_bad_files(bad, on_bad_file)
    if not good:
        raise ValueError(
            _why_no_images(directory, bad=bad, class_names=class_names, found=found)
        )
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


def _why_no_images(directory, *, bad, class_names, found) -> str:
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
