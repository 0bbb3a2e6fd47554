"""`train classifier`: a run's trained body with a new head, then fine-tuning."""

import csv
import json
import os

import pytest

from tests.helpers import assert_one_line_error, cli


@pytest.mark.large
def test_a_runs_body_with_a_new_head_then_fine_tuning_in_one_folder(
    digits_run,  # noqa: F811
    tmp_path,
):
    _, source = digits_run
    proc = cli(
        *("train", "classifier", "--backbone", source, "--data", "digits"),
        *("--image-size", 24, "--epochs", 1, "--fine-tune-epochs", 1),
        *("--out", tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = proc.stdout.strip().splitlines()[-1].removeprefix("Run saved to ")
    with open(os.path.join(run_dir, "history.csv")) as f:
        phases = [row["phase"] for row in csv.DictReader(f)]
    assert phases == ["head", "fine_tune"]
    assert os.path.isfile(os.path.join(run_dir, "highest_loss.png"))
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["diagnosis"]["verdict"] in ("overfitting", "underfitting", "fine")
    assert [row["class"] for row in metrics["per_class"]] == [str(d) for d in range(10)]
    assert "Diagnosis:" in proc.stdout and "诊断" in proc.stdout
    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    assert manifest["config"]["fine_tune_epochs"] == 1
    assert manifest["backbone"] == source


def test_imagenet_weights_offline_is_one_line(tmp_path):
    proc = cli(
        *("train", "classifier", "--backbone", "mobilenet_v2", "--weights"),
        *("imagenet", "--image-size", 100, "--color-mode", "rgb"),
        *("--out", tmp_path / "runs"),
        env={"KERAS_HOME": str(tmp_path / "keras")},
    )
    line = assert_one_line_error(proc)
    assert "96, 128, 160, 192, 224" in line and "--image-size" in line
    runs = tmp_path / "runs"
    assert not runs.exists() or not os.listdir(runs)  # nothing half-made is left


@pytest.mark.large
def test_train_mlp_prints_each_strategy_side_by_side(tmp_path):
    proc = cli("train", "mlp", "--epochs", 3, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("mean", "median", "max", "constant", "drop"):
        assert any(line.startswith(name) for line in proc.stdout.splitlines())
    run_dir = proc.stdout.strip().splitlines()[-1].removeprefix("Run saved to ")
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert set(metrics["strategies"]) == {"mean", "median", "max", "constant", "drop"}
    assert 0 <= metrics["test"]["accuracy"] <= 1

    table = tmp_path / "t.csv"
    rows = ["x1,x2,colour,label"]
    for i in range(80):
        x1 = "" if i % 7 == 0 else str(i % 10)
        rows.append(f"{x1},{(i * 3) % 5},{'red' if i % 2 else 'blue'},{i % 2}")
    table.write_text("\n".join(rows) + "\n")
    args = ("train", "mlp", "--data", table, "--target", "label", "--epochs", 2)
    proc = cli(*args, "--no-compare", "--impute", "mean", "--out", tmp_path / "r")
    assert proc.returncode == 0, proc.stderr
    line = assert_one_line_error(cli("train", "mlp", "--data", table))
    assert "--target" in line


def test_explain_writes_grad_cam_overlays(digits_run, tmp_path):  # noqa: F811
    _, run_dir = digits_run
    exported = cli("datasets", "export", "digits", tmp_path / "png", "--image-size", 24)
    assert exported.returncode == 0, exported.stderr
    folder = tmp_path / "png" / "test" / "7"
    first = sorted(os.listdir(folder))[0]
    proc = cli("explain", run_dir, folder / first, "--out", tmp_path / "cam")
    assert proc.returncode == 0, proc.stderr
    (written,) = os.listdir(tmp_path / "cam")
    assert written.endswith("_gradcam.png") and "->" in proc.stdout
    from PIL import Image

    assert Image.open(tmp_path / "cam" / written).size == (24, 24)
    line = assert_one_line_error(
        cli("explain", run_dir, folder / first, "--class", "x")
    )
    assert line.endswith("Received: --class x") and "class_name" not in line


@pytest.mark.large
def test_train_transfer_prints_both_accuracies(tmp_path):
    proc = cli(
        *("transfer", "--shots", 5, "--pretrain-epochs", 1, "--epochs", 1),
        *("--fine-tune-epochs", 1, "--lora-epochs", 2, "--out", tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    for line in (
        "the article's network from scratch:",
        "from scratch with augmentation and dropout:",
        "pretrained on 0-4, fine-tuned (the same augmentation):",
        "error ratio, reused / article's network from scratch:",
    ):
        assert line in proc.stdout
    run_dir = proc.stdout.strip().splitlines()[-1].removeprefix("Run saved to ")
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    pairs = (("scratch", "error_ratio"), ("article_scratch", "article_error_ratio"))
    for baseline, key in pairs:
        ratio = metrics["transfer"]["error"] / metrics[baseline]["error"]
        assert abs(metrics[key] - ratio) < 1e-9
        assert f"{ratio:.2f}x" in proc.stdout
    lora = metrics["lora"]
    assert lora["rank"] == 4 and 0 < lora["lora_trainable_fraction"] <= 0.05
    assert lora["epochs"] == 2 and "2 epochs" in proc.stdout
    ratio = (1 - lora["lora_accuracy"]) / metrics["transfer"]["error"]
    assert abs(lora["lora_error_ratio"] - ratio) < 1e-9
    assert "LoRA rank 4" in proc.stdout and f"{ratio:.2f}x" in proc.stdout
    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    assert manifest["data"]["counts"]["target_train"] == 25
    assert os.path.isfile(os.path.join(run_dir, "pretrained_0-4.keras"))
    line = assert_one_line_error(cli("transfer", "--resume"))
    assert "not an argument" in line  # this workflow has no resume
