"""Path helpers that need no TensorFlow, shared by the library and the CLI."""

from __future__ import annotations

import os

# Text saved by Chinese editions of Windows editors (Notepad before 2019,
# many others still) is GBK, and so are file names written by a Chinese
# Windows into a zip; GB18030 is its superset. The one fallback after UTF-8,
# for text files and for names alike.
FALLBACK_ENCODING = "gb18030"


def run_folder_problem(run_dir, needs=("model.keras",)) -> str | None:
    """An error line if `run_dir` lacks any of the files `needs`, else None."""
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        return f"Run folder not found: {run_dir!r}"
    missing = [f for f in needs if not os.path.isfile(os.path.join(run_dir, f))]
    if missing:
        return f"{run_dir!r} is not a readable run folder: missing {', '.join(missing)}"
    return None


def readable_name(name) -> str:
    """A file or class name as a person should read it, in a plot or a line.

    A name that is not valid UTF-8 on disk (a GBK name unpacked on Linux from
    a zip made on a Chinese Windows, say) comes from `os.listdir` with
    surrogate escapes, which no font draws and UTF-8 output cannot hold. It is
    shown decoded as GB18030 (a superset of GBK) when its bytes are that,
    otherwise with its odd bytes as `\\x..` escapes. Other names are returned
    unchanged.

    Example:

    >>> readable_name(os.fsdecode(b"\\xb9\\xb7"))  # "dog" in GBK
    '狗'
    """
    name = str(name)
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    raw = name.encode("utf-8", "surrogateescape")
    try:
        return raw.decode(FALLBACK_ENCODING)
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")
