"""Kill a CLI run mid-epoch (SIGKILL), resume it, and get the same weights.

The reference is one uninterrupted run; every run is deterministic
(`--deterministic`), so a resumed run that continues at the next unseen
batch ends with the reference's weights, and one that replayed or skipped a
batch does not (and its batch count differs).
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ARGS = [
    "train",
    "cnn",
    "--data",
    "digits",
    "--epochs",
    "2",
    "--image-size",
    "24",
    "--deterministic",
    "--checkpoint-every",
    "4",
    "--seed",
    "3",
    "--batch-size",
    "64",
]
STEPS_PER_EPOCH = 18  # 1,150 training digits in batches of 64


def _cli(args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "keras_bigmodels", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def _run_dirs(out):
    return (
        sorted(os.path.join(out, d) for d in os.listdir(out) if d.startswith("cnn-"))
        if os.path.isdir(out)
        else []
    )


def _kill_after(out, batches, timeout=240):
    """Start a run and SIGKILL it once a checkpoint holds >= `batches` batches."""
    proc = _cli([*ARGS, "--out", out, "--resume"])
    deadline = time.time() + timeout
    while time.time() < deadline:
        for d in _run_dirs(out):
            state = os.path.join(d, "checkpoints", "state.json")
            try:
                with open(state) as f:
                    done = json.load(f)["batches_trained"]
            except (OSError, ValueError, KeyError):
                continue
            if done >= batches:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return d, done
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be killed:\n{proc.stdout.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no checkpoint appeared in time")


def _weights(run_dir):
    from keras_bigmodels import load_model

    return load_model(run_dir).get_weights()


def _finish(out):
    proc = _cli([*ARGS, "--out", out, "--resume"])
    text = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, text
    return text


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("reference"))
    _finish(out)
    (run_dir,) = _run_dirs(out)
    return run_dir


def _check_same_as_reference(run_dir, reference):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    # Exactly the batches of two epochs: none replayed, none skipped.
    assert metrics["batches_trained"] == 2 * STEPS_PER_EPOCH
    with open(os.path.join(run_dir, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["status"] == "finished"
    for a, b in zip(_weights(run_dir), _weights(reference), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    with open(os.path.join(run_dir, "history.csv")) as f:
        rows = f.read().splitlines()
    with open(os.path.join(reference, "history.csv")) as f:
        assert rows == f.read().splitlines()


@pytest.mark.large
def test_killed_twice_mid_epoch_resumes_exactly_each_time(tmp_path, reference):
    out = str(tmp_path)
    run_dir, first = _kill_after(out, 4)
    assert first < STEPS_PER_EPOCH  # killed inside the first epoch
    with open(os.path.join(run_dir, "manifest.json")) as f:
        assert json.load(f)["status"] == "running"  # killed: no chance to say
    # Resume, then kill again in the second epoch, past a checkpoint taken
    # after the first resume.
    _, second = _kill_after(out, STEPS_PER_EPOCH + 4)
    assert first < second
    text = _finish(out)
    assert _run_dirs(out) == [run_dir]  # continued in the same folder
    assert run_dir in text
    _check_same_as_reference(run_dir, reference)


# SIGTERM is how a scheduler preempts a job; it ends a run like Ctrl-C.
@pytest.mark.large
@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_ctrl_c_ends_with_one_line_and_a_resumable_folder(tmp_path, reference, signum):
    out = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keras_bigmodels", *ARGS, "--out", out],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline and not any(
        os.path.isfile(os.path.join(d, "checkpoints", "state.json"))
        for d in _run_dirs(out)
    ):
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum  # 130 for Ctrl-C, 143 for SIGTERM
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    (run_dir,) = _run_dirs(out)
    assert run_dir in lines[0] and "--resume" in lines[0]
    with open(os.path.join(run_dir, "manifest.json")) as f:
        first = json.load(f)
    assert first["status"] == "interrupted" and first["seconds"] > 0
    if signum == signal.SIGTERM:
        return  # the same handler as Ctrl-C: resuming is checked once, below
    started = time.time()
    _finish(out)
    with open(os.path.join(run_dir, "manifest.json")) as f:
        total = json.load(f)["seconds"]
    # The manifest's time counts both parts: the first, then the resumed one.
    assert first["seconds"] < total <= first["seconds"] + time.time() - started
    _check_same_as_reference(run_dir, reference)
