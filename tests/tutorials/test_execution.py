"""Every tutorial runs, cell by cell, in a kernel of its own, offline.

The Chinese notebooks run in the quick tier, their English twins (the same
code) in the `large` tier. Fast mode (`KBM_TUTORIAL_FAST=1`) shrinks data
and epochs; `bench/tutorials.py` times both modes.
"""

import os

import pytest

from tests.notebooks import ROOT, notebooks, run


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=os.path.relpath(p, ROOT)) for p in notebooks("zh")]
    + [
        pytest.param(p, id=os.path.relpath(p, ROOT), marks=pytest.mark.large)
        for p in notebooks("en")
    ],
)
def test_runs_cell_by_cell_offline(path, tmp_path):
    seconds = run(path, str(tmp_path), fast=True)
    print(f"{os.path.relpath(path, ROOT)}: {seconds:.1f} s")
