"""Path helpers that need no TensorFlow, shared by the library and the CLI."""

from __future__ import annotations

import os

# Text saved by Chinese editions of Windows editors (Notepad before 2019,
# many others still) is GBK, and so are file names written by a Chinese
# Windows into a zip; GB18030 is its superset. The one fallback after UTF-8,
# for text files and for names alike.
FALLBACK_ENCODING = "gb18030"


# The command that makes each kind of run (the manifest's `architecture`,
# up to its first "-"), and the commands that take each kind.
MADE_BY = {
    "cnn": "train cnn",
    "classifier": "train classifier",
    "mlp": "train mlp",
    "rnn": "train rnn",
    "transformer": "train transformer",
    "seq2seq": "train seq2seq",
    "gpt": "train gpt",
    "dcgan": "train gan",
    "autoencoder": "train autoencoder",
    "own_pretraining": "transfer",
}
TAKEN_BY = {
    "evaluate": ("cnn", "classifier"),
    "predict": ("cnn", "classifier"),
    "explain": ("cnn", "classifier", "transformer"),
    "generate": ("gpt",),
    "sample": ("dcgan", "autoencoder-variational"),
}


def _takes(command: str, architecture: str) -> bool:
    return any(
        architecture == kind or architecture.startswith(kind + "-")
        for kind in TAKEN_BY[command]
    )


PRESET_FILES = ("config.json", "metadata.json")


def is_preset_folder(path) -> bool:
    """Whether `path` is a folder holding a KerasHub preset's config files
    (`save_to_preset` writes them)."""
    return os.path.isdir(path) and all(
        os.path.isfile(os.path.join(path, f)) for f in PRESET_FILES
    )


def run_kind_problem(run_dir, command: str) -> str | None:
    """An error line if the run in `run_dir` is not of a kind `command` takes:
    which kind it is, which runs the command takes, and what this run is for."""
    import json

    try:
        with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as f:
            architecture = str(json.load(f).get("architecture") or "")
    except (OSError, ValueError):
        return None  # no readable manifest: the file check names it
    if not architecture or _takes(command, architecture):
        return None
    family = architecture.split("-")[0]
    made_by = MADE_BY.get(family, architecture)
    wanted = ", ".join(
        MADE_BY.get(kind.split("-")[0], kind)
        + (f" --kind {kind.split('-', 1)[1]}" if "-" in kind else "")
        for kind in TAKEN_BY[command]
    )
    others = [c for c in TAKEN_BY if _takes(c, architecture)]
    use = (
        f"Use this run with: {', '.join(f'keras-bigmodels {c}' for c in others)}"
        if others
        else "This run's results are in its metrics.json"
    )
    return (
        f"{run_dir!r} is a run of '{made_by}' ({architecture}); {command} takes "
        f"runs of {wanted}. {use}"
    )


def run_folder_problem(
    run_dir, needs=("model.keras",), command: str | None = None
) -> str | None:
    """An error line if `run_dir` is not a run that `command` takes or lacks
    any of the files `needs`, else None."""
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        return f"Run folder not found: {run_dir!r}"
    if command is not None:
        problem = run_kind_problem(run_dir, command)
        if problem:
            return problem
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


def visible_subfolders(directory) -> list[str]:
    """Names of the sub-folders of `directory` that are not hidden, sorted.

    Hidden ones (`.ipynb_checkpoints`, `.git`) are never classes.
    """
    with os.scandir(directory) as entries:
        return sorted(
            e.name for e in entries if e.is_dir() and not e.name.startswith(".")
        )
