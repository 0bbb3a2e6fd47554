"""Shared fixtures: tiny generated image folders, a trained digits run, quiet
TensorFlow. Plain helpers live in `tests/helpers.py`."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Screening verdicts are remembered per folder; keep the tests' own out of ~/.cache.
os.environ.setdefault("KERAS_BIGMODELS_CACHE", tempfile.mkdtemp(prefix="kbm-cache-"))

import pytest

from tests.helpers import cli, make_class_folder, run_dir_of


@pytest.fixture
def class_folder(tmp_path):
    """Three classes ('cat' 10, 'dog' 10, 'owl' 5) of small PNG images."""
    make_class_folder(tmp_path, {"cat": 10, "dog": 10, "owl": 5})
    return tmp_path


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """`train cnn` on the bundled digits, 2 epochs at 24x24: `(proc, run_dir)`."""
    out = tmp_path_factory.mktemp("runs")
    proc = cli(
        *("train", "cnn", "--data", "digits", "--epochs", 2, "--image-size", 24),
        *("--out", out),
    )
    assert proc.returncode == 0, proc.stderr
    return proc, run_dir_of(proc)
