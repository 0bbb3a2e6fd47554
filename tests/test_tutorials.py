"""Tutorials use the public API only, and run."""

import glob
import json
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "tutorials")
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "*.ipynb")))


def code_of(path):
    nb = json.load(open(path, encoding="utf-8"))
    return "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
    )


def test_there_are_tutorials():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_public_api_only(path):
    code = code_of(path)
    assert not re.search(r"keras_bigmodels(\.\w+)*\._", code), "private name used"
    for module in re.findall(r"from (keras_bigmodels[\w.]*) import", code):
        assert module in (
            "keras_bigmodels",
            "keras_bigmodels.data",
            "keras_bigmodels.datasets",
            "keras_bigmodels.layers",
            "keras_bigmodels.workflows",
        ), module


@pytest.mark.large
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_runs_end_to_end(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = code_of(path)
    code = re.sub(r"^EPOCHS = \d+", "EPOCHS = 1", code, flags=re.M)
    exec(compile(code, path, "exec"), {"__name__": "__tutorial__"})
