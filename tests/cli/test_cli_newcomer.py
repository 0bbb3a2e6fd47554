"""Defects a demanding newcomer met, each through the command line."""

import csv
import json
import os

import numpy as np
import pytest

from tests.cli.test_cli import assert_one_line_error, cli, digits_run  # noqa: F401


def run_folder(proc) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1].removeprefix("Run saved to ").strip()


def test_fine_tuning_reports_the_recompiled_models_metrics(tmp_path):
    proc = cli(
        *("train", "classifier", "--backbone", "cnn", "--data", "digits"),
        *("--image-size", 24, "--epochs", 1, "--fine-tune-epochs", 1),
        *("--out", tmp_path),
    )
    run_dir = run_folder(proc)
    with open(os.path.join(run_dir, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["phase"] for r in rows] == ["head", "fine_tune"]
    fine = rows[-1]
    assert float(fine["val_loss"]) > 0 and float(fine["val_accuracy"]) > 0.1

    import keras_bigmodels
    from keras_bigmodels.training.configs import BackboneClassifierConfig
    from keras_bigmodels.training.image_classifier import _digits_data

    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    cfg = BackboneClassifierConfig(**manifest["config"])
    splits, _, _ = _digits_data(cfg)
    model = keras_bigmodels.load_model(os.path.join(run_dir, "model.keras"))
    val = model.evaluate(splits["validation"], verbose=0, return_dict=True)
    # The one fine-tuning epoch is the saved model: its logged validation
    # loss is what `model.evaluate` gives on the validation split.
    np.testing.assert_allclose(float(fine["val_loss"]), val["loss"], rtol=1e-4)
    np.testing.assert_allclose(float(fine["val_accuracy"]), val["accuracy"], atol=1e-6)
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    test = model.evaluate(splits["test"], verbose=0, return_dict=True)
    np.testing.assert_allclose(metrics["test"]["accuracy"], test["accuracy"], atol=1e-6)
    printed = float(proc.stdout.split("test accuracy: ")[1].split("%")[0])
    assert abs(printed - 100 * test["accuracy"]) < 0.01
