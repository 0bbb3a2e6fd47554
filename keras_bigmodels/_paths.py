"""Run-folder checks that need no TensorFlow, shared by the library and the CLI."""

from __future__ import annotations

import os


def run_folder_problem(run_dir, needs=("model.keras",)) -> str | None:
    """An error line if `run_dir` lacks any of the files `needs`, else None."""
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        return f"Run folder not found: {run_dir!r}"
    missing = [f for f in needs if not os.path.isfile(os.path.join(run_dir, f))]
    if missing:
        return f"{run_dir!r} is not a readable run folder: missing {', '.join(missing)}"
    return None
