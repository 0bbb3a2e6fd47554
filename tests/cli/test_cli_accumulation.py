"""`--gradient-accumulation-steps N` on every `train` command."""

import json
import os

import numpy as np
import pytest

from keras_bigmodels import load_model
from keras_bigmodels.cli.train import WORKFLOWS
from tests.helpers import assert_one_line_error, cli, run_dir_of


def test_every_train_command_takes_accumulation_steps():
    for arch in WORKFLOWS:
        proc = cli("train", arch, "--help")
        assert "--gradient-accumulation-steps" in proc.stdout, arch
    line = assert_one_line_error(
        cli("train", "mlp", "--gradient-accumulation-steps", 0)
    )
    assert "--gradient-accumulation-steps" in line and "0" in line


def test_four_micro_batches_of_8_give_the_weights_of_one_batch_of_32(tmp_path):
    # The bundled table's training rows are not a multiple of 32: the last
    # window of every epoch is partial and must weigh as one batch would.
    common = ["train", "mlp", "--no-compare", "--dropout", 0, "--epochs", 3]
    common += ["--deterministic", "--out", tmp_path]
    big = cli(*common, "--batch-size", 32)
    small = cli(*common, "--batch-size", 8, "--gradient-accumulation-steps", 4)
    assert big.returncode == 0 and small.returncode == 0, small.stderr
    assert "Batch per update: 32 (8 x 4 accumulated steps)" in small.stdout
    runs = {name: run_dir_of(proc) for name, proc in (("big", big), ("small", small))}
    manifest = json.load(open(os.path.join(runs["small"], "manifest.json")))
    assert manifest["batch"] == {
        "micro_batch_size": 8,
        "gradient_accumulation_steps": 4,
        "global_batch_size": 32,
    }
    a, b = (load_model(runs[k]) for k in ("big", "small"))
    differences = [
        float(np.max(np.abs(x - y)))
        for x, y in zip(a.get_weights(), b.get_weights(), strict=True)
    ]
    assert max(differences) < 1e-5
    # The same number of updates: iterations count windows, not micro-batches.
    assert int(a.optimizer.iterations) == int(b.optimizer.iterations)
    # ... and not the same as 8 without accumulation, so the test can fail.
    plain = load_model(run_dir_of(cli(*common, "--batch-size", 8)))
    assert (
        max(
            float(np.max(np.abs(x - y)))
            for x, y in zip(a.get_weights(), plain.get_weights(), strict=True)
        )
        > 1e-3
    )


@pytest.mark.large
@pytest.mark.parametrize(
    "arch, flags",
    [
        ("gpt", ["--embed-dim", 16, "--num-layers", 1, "--num-heads", 2]),
        (
            "seq2seq",
            ["--num-train", 2000, "--num-test", 100, "--num-uniform-test", 0]
            + ["--embed-dim", 16, "--num-layers", 1],
        ),
        ("autoencoder", ["--kind", "variational"]),
        ("gan", ["--filters", 8, "--samples", 100, "--judge-epochs", 1]),
    ],
)
def test_sequence_and_generative_runs_accumulate(tmp_path, arch, flags):
    if arch == "gpt":  # a short text: the bundled corpus takes a minute
        (tmp_path / "text.txt").write_text("the cat sat on the mat. " * 400)
        flags = [*flags, "--data", tmp_path / "text.txt", "--sequence-length", 16]
    proc = cli(
        "train",
        arch,
        *flags,
        "--epochs",
        1,
        "--gradient-accumulation-steps",
        3,
        "--out",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    model = load_model(run_dir_of(proc))
    for opt in [
        getattr(model, n, None) for n in ("optimizer", "d_optimizer", "g_optimizer")
    ]:
        if opt is not None:
            assert opt.gradient_accumulation_steps == 3
            # Each epoch's last window was applied at its end.
            assert int(opt._iterations) % 3 == 0
