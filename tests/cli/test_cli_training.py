"""`train ARCH` flags come from the workflow configs; failures are loud."""

import dataclasses
import glob
import json
import os
import re
import subprocess

import numpy as np
import pytest

from keras_bigmodels.cli.train import WORKFLOWS, flag_name
from tests.helpers import assert_one_line_error, cli, python_process


def _flags_in_help(text):
    return set(re.findall(r"(?m)^\s+(--[a-z][a-z0-9-]*)", text)) - {"--help"}


@pytest.mark.parametrize("arch", sorted(WORKFLOWS))
def test_help_lists_exactly_the_flags_the_workflow_reads(arch):
    proc = cli("train", arch, "--help")
    assert proc.returncode == 0
    cfg = WORKFLOWS[arch].config
    expected = {
        flag_name(f.name)
        for f in dataclasses.fields(cfg)
        if f.metadata.get("cli", True)
    }
    # A bool field may declare a second flag that sets it False.
    aliases = {
        flag_name(f.metadata["negative"])
        for f in dataclasses.fields(cfg)
        if f.metadata.get("negative")
    }
    assert _flags_in_help(proc.stdout) == expected | aliases
    for flag in (
        "--resume",
        "--strategy",
        "--precision",
        "--jit",
        "--clip-norm",
        "--checkpoint-every",
    ):
        assert flag in expected
    # Defaults in the help come from the config itself.
    epochs = next(f for f in dataclasses.fields(cfg) if f.name == "epochs").default
    assert (
        re.search(
            rf"--epochs N\s+most training epochs \(default: {epochs}\)", proc.stdout
        )
        or f"(default: {epochs})" in proc.stdout
    )


REFUSED = [
    ("cnn", ["--digits", "3"]),
    ("gpt", ["--filters", "8"]),
    ("gan", ["--num-heads", "4"]),
    ("gan", ["--patience", "3"]),
    ("gan", ["--dropout", "0.2"]),
    ("rnn", ["--num-heads", "2"]),
    ("transformer", ["--units", "8"]),
    ("autoencoder", ["--conditional"]),
]


@pytest.mark.large
def test_an_inapplicable_flag_is_refused_before_tensorflow_starts():
    # One fresh interpreter tries every case: none may import TensorFlow.
    code = (
        "import contextlib, io, json, sys\n"
        "from keras_bigmodels.cli.__main__ import main\n"
        "results = []\n"
        f"for arch, extra in {REFUSED!r}:\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        rc = main(['train', arch, *extra])\n"
        "    results.append([rc, err.getvalue()])\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n"
        "print(json.dumps(results))\n"
    )
    proc = python_process(code, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    for (arch, extra), (rc, err) in zip(REFUSED, results, strict=True):
        line = assert_one_line_error(subprocess.CompletedProcess([], rc, "", err))
        assert extra[0] in line and f"train {arch}" in line


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_floats_are_refused(value):
    line = assert_one_line_error(cli("train", "cnn", f"--learning-rate={value}"))
    assert "--learning-rate" in line and "finite" in line


def test_a_diverging_run_fails_loudly_and_keeps_only_finite_checkpoints(tmp_path):
    proc = cli(
        "train",
        "cnn",
        "--epochs",
        2,
        "--image-size",
        24,
        "--learning-rate",
        "1e8",
        "--checkpoint-every",
        1,
        "--out",
        tmp_path,
    )
    line = assert_one_line_error(proc)
    assert re.search(r"diverged at epoch 1, step \d+", line), line
    assert "accuracy" not in proc.stdout.lower().split("epoch 1/2")[-1]
    (run_dir,) = glob.glob(str(tmp_path / "cnn-*"))
    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    assert manifest["status"] == "failed"
    for path in glob.glob(os.path.join(run_dir, "checkpoints", "*.npz")):
        with np.load(path) as data:
            for k in data.files:
                if data[k].dtype.kind == "f":
                    assert np.isfinite(data[k]).all(), path
    if glob.glob(os.path.join(run_dir, "checkpoints", "*.npz")):
        assert "last good checkpoint" in line


@pytest.mark.large
def test_speed_switches_reach_the_run(tmp_path):
    proc = cli(
        "train",
        "autoencoder",
        "--epochs",
        2,
        "--latent-dim",
        4,
        "--precision",
        "mixed_float16",
        "--jit",
        "--clip-norm",
        "1.0",
        "--strategy",
        "one_device",
        "--out",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = glob.glob(str(tmp_path / "autoencoder-*"))
    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    assert manifest["config"]["precision"] == "mixed_float16"
    assert manifest["config"]["clip_norm"] == 1.0
    assert manifest["jit_compile"] is True
    assert manifest["xla"].startswith("on: asked for")
    assert manifest["devices"]["strategy"] == "OneDeviceStrategy"
    assert manifest["status"] == "finished"
    assert "PCA" in proc.stdout


@pytest.mark.parametrize("command", ["evaluate", "predict", "generate", "sample"])
def test_commands_that_open_models_offer_unsafe_load(command):
    proc = cli(command, "--help")
    assert "--unsafe-load" in proc.stdout
