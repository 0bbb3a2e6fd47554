"""Remember what screening learned about a folder, so the next run starts at once.

Screening reads every file's header (and checks every PNG checksum) before the
first epoch. A user trains on the same folder again and again, so the verdicts
are kept per folder in a small JSON file, keyed by each file's size and
modification time, as `git` keeps its index: a file that changed is screened
again, and a file modified within the last few seconds is never remembered
(its modification time may not yet tell a later rewrite apart).

Where: `$KERAS_BIGMODELS_CACHE/screening/`, by default
`~/.cache/keras_bigmodels/screening/` (`$XDG_CACHE_HOME` is honoured). Set
`KERAS_BIGMODELS_CACHE=off` to screen every file every time. A cache that
cannot be read or written is ignored: it only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time

from keras_bigmodels.data import screening
from keras_bigmodels.data.screening import BadFile, ImageInfo

_VERSION = 1
# Files modified this recently are screened but not remembered.
_SETTLE_SECONDS = 2.0


def cache_dir() -> str | None:
    """The screening cache folder, or None when caching is off."""
    root = os.environ.get("KERAS_BIGMODELS_CACHE")
    if root is not None and root.strip().lower() in ("", "0", "off", "false", "no"):
        return None
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache"
        )
        root = os.path.join(base, "keras_bigmodels")
    return os.path.join(root, "screening")


def _cache_file(directory: str, verify: str) -> str | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = f"{_VERSION}\0{os.path.abspath(directory)}\0{verify}".encode()
    return os.path.join(folder, hashlib.sha1(key).hexdigest()[:20] + ".json")


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class ScreeningCache:
    """The remembered verdicts of one folder; `lookup`, then `store` the rest."""

    def __init__(self, directory: str, verify: str):
        self.directory = os.path.abspath(directory)
        self._prefix = os.path.join(os.fspath(directory), "")
        self.file = _cache_file(directory, verify)
        self.entries: dict = {}
        self.changed = False
        if self.file is None:
            return
        try:
            with open(self.file, encoding="utf-8") as f:
                data = json.load(f)
            if data.get("version") == _VERSION and data.get("directory") == (
                self.directory
            ):
                self.entries = data["files"]
        except (OSError, ValueError, KeyError, TypeError):
            self.entries = {}

    def _key(self, path: str) -> str:
        # Listed paths start with the folder as given; relpath costs 20x a slice.
        if path.startswith(self._prefix):
            return path[len(self._prefix) :]
        return os.path.relpath(path, self.directory)

    def lookup(self, path: str):
        """(info, bad) remembered for an unchanged `path`, or None."""
        entry = self.entries.get(self._key(path))
        if not entry or _stamp(path) != (entry[0], entry[1]):
            return None
        if entry[2] == "bad":
            return None, BadFile(path, entry[3])
        return ImageInfo(*entry[3:]), None

    def store(
        self,
        path: str,
        info: ImageInfo | None,
        bad: BadFile | None,
        stamp: tuple[int, int] | None = None,
    ) -> None:
        """Remember the verdict on `path`; `stamp` is its `(size, mtime_ns)`
        as screened (taken now when not given)."""
        if self.file is None:
            return
        stamp = stamp or _stamp(path)
        if stamp is None:
            return
        if time.time() - stamp[1] / 1e9 < _SETTLE_SECONDS:
            return  # too fresh: a rewrite within the clock's step would look equal
        if info is not None:
            entry = [*stamp, "ok", info.kind, info.width, info.height, info.format]
            entry.append(info.mode)
        else:
            entry = [*stamp, "bad", bad.reason]
        self.entries[self._key(path)] = entry
        self.changed = True

    def save(self) -> None:
        """Write the verdicts atomically; any failure leaves no trace."""
        if self.file is None or not self.changed:
            return
        try:
            os.makedirs(os.path.dirname(self.file), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.file), suffix=".tmp")
            # json.dumps, not json.dump: dump streams through the pure-Python
            # encoder, several times slower on a folder's thousands of entries.
            text = json.dumps(
                {
                    "version": _VERSION,
                    "directory": self.directory,
                    "files": self.entries,
                },
                separators=(",", ":"),
            )
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self.file)
        except OSError:
            try:
                os.unlink(tmp)
            except (OSError, UnboundLocalError):
                pass


def screen_remembered(
    paths: list[str], *, verify: str, directory: str, keep_bytes: int = 0
) -> screening.Screened:
    """`screening.screen_files` for the files of `directory`, with the cache.

    Unchanged files take their remembered verdict (one `stat` each, and no
    content kept); the rest are screened and remembered.
    """
    cache = ScreeningCache(directory, verify)
    known = cache.lookup if cache.entries else lambda path: None
    results = [known(p) for p in paths]
    todo = [i for i, r in enumerate(results) if r is None]
    stamps: list = [None] * len(paths)
    contents: list = [None] * len(paths)
    if todo:
        fresh = screening.screen_files(
            [paths[i] for i in todo], verify, keep_bytes=keep_bytes
        )
        bad_files = iter(fresh.bad_files)  # in the order of the files that failed
        for j, i in enumerate(todo):
            info = fresh.infos[j]
            results[i] = (info, None if info is not None else next(bad_files))
            stamps[i], contents[i] = fresh.stamps[j], fresh.contents[j]
            cache.store(paths[i], *results[i], stamps[i])
        cache.save()
    return screening.Screened(
        [r[0] for r in results],
        [r[1] for r in results if r[1] is not None],
        stamps,
        contents,
    )
