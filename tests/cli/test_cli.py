"""The command line, as a user runs it (in-process through `main`, or in a
new process where only a fresh one shows the behaviour)."""

import json
import os

import pytest

from tests.helpers import (
    assert_one_line_error,
    cli,
    cli_process,
    make_class_folder,
    pattern_image,
    write_image,
)


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["train"],
        ["evaluate"],
        ["predict"],
        ["datasets"],
        ["datasets", "export"],
        ["info"],
    ],
)
def test_help(command):
    proc = cli(*command, "--help")
    assert proc.returncode == 0 and "usage:" in proc.stdout


@pytest.mark.large
def test_info_is_quiet_and_says_why_no_gpu():
    # A new process: TensorFlow's C++ start-up noise is what must be hidden.
    proc = cli_process("info")
    assert proc.returncode == 0
    assert "tensorflow" in proc.stdout and "GPU:" in proc.stdout
    gpu_line = next(line for line in proc.stdout.splitlines() if "GPU:" in line)
    assert "yes" in gpu_line or "(" in gpu_line  # a reason when there is no GPU
    assert proc.stderr.strip() == ""  # TensorFlow's C++ start-up noise is hidden
    # The XLA setting `train` resolves to here: on with a GPU, off without.
    xla = next(line for line in proc.stdout.splitlines() if "XLA in train:" in line)
    assert ("on: the default" in xla) == ("GPU: yes" in proc.stdout), xla


def test_train_writes_a_complete_run_folder(digits_run):
    proc, run_dir = digits_run
    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    assert manifest["jit_compile"] == manifest["xla"].startswith("on:")
    assert "Held-out test accuracy" in proc.stdout
    for name in (
        "model.keras",
        "metrics.json",
        "history.csv",
        "class_names.json",
        "manifest.json",
        "learning_curves.png",
        "confusion_matrix.png",
    ):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert {"train", "validation", "test"} <= set(metrics)
    assert metrics["test"]["accuracy"] > 0.3  # two tiny epochs, far above 0.1 chance
    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    assert manifest["seed"] == 0 and manifest["versions"]["tensorflow"]
    assert manifest["devices"]["device"] in ("CPU", "GPU")
    assert manifest["data"]["image_size"] == [24, 24]
    with open(os.path.join(run_dir, "history.csv")) as f:
        assert len(f.read().strip().splitlines()) == 3  # header + 2 epochs
    printed = float(proc.stdout.split("Held-out test accuracy: ")[1].split("%")[0])
    assert abs(printed - 100 * metrics["test"]["accuracy"]) < 0.01


def test_evaluate_and_predict(digits_run, tmp_path):
    _, run_dir = digits_run
    proc = cli("evaluate", run_dir, "--data", "digits", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert result["count"] == 360
    assert abs(result["accuracy"] - metrics["test"]["accuracy"]) < 1e-6

    exported = cli("datasets", "export", "digits", tmp_path / "png", "--image-size", 24)
    assert exported.returncode == 0, exported.stderr
    proc = cli("evaluate", run_dir, "--data", tmp_path / "png" / "test")
    assert proc.returncode == 0, proc.stderr
    assert "(360 images)" in proc.stdout

    good = [
        tmp_path / "png" / "test" / "3" / f
        for f in sorted(os.listdir(tmp_path / "png" / "test" / "3"))[:2]
    ]
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    proc = cli("predict", run_dir, *good, bad, "--top-k", 2, "--json")
    assert proc.returncode == 3, proc.stderr  # some input was skipped
    records = json.loads(proc.stdout)
    preds = [r for r in records if "top_k" in r]
    assert [p["path"] for p in preds] == [str(g) for g in good]
    assert records[-1] == {"path": str(bad), "error": records[-1]["error"]}
    assert "not an image" in records[-1]["error"]
    for p in preds:
        probs = [t["probability"] for t in p["top_k"]]
        assert len(probs) == 2 and probs[0] >= probs[1] and 0 <= sum(probs) <= 1.0001
    assert "bad.png" in proc.stderr and "not an image" in proc.stderr
    text = cli("predict", run_dir, good[0])
    assert text.returncode == 0 and "%" in text.stdout


def test_train_on_a_flat_folder_with_filename_labels(tmp_path):
    for label in range(2):
        for i in range(12):
            write_image(
                str(tmp_path / "imgs" / f"{label}.{i:04d}.png"),
                pattern_image(label, (24, 24), seed=i),
            )
    proc = cli(
        "train",
        "cnn",
        "--data",
        tmp_path / "imgs",
        "--labels",
        "filename",
        "--image-size",
        24,
        "--epochs",
        1,
        "--out",
        tmp_path / "runs",
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = proc.stdout.strip().splitlines()[-1].removeprefix("Run saved to ")
    assert json.load(open(os.path.join(run_dir, "class_names.json"))) == ["0", "1"]
    counts = json.load(open(os.path.join(run_dir, "manifest.json")))["data"]["counts"]
    assert counts == {"train": 18, "validation": 4, "test": 2}  # 12 a class: 2 + 1 out


def test_error_exits(tmp_path):
    line = assert_one_line_error(cli("train", "cnn", "--data", tmp_path / "missing"))
    assert "missing" in line

    (tmp_path / "empty" / "a").mkdir(parents=True)
    line = assert_one_line_error(cli("train", "cnn", "--data", tmp_path / "empty"))
    assert "No image files found" in line and "must end in" in line

    make_class_folder(tmp_path / "one", {"cats": 3})
    line = assert_one_line_error(cli("train", "cnn", "--data", tmp_path / "one"))
    assert "single class" in line

    line = assert_one_line_error(cli("train", "resnet9000"))
    assert "unknown architecture" in line

    (tmp_path / "run").mkdir()
    line = assert_one_line_error(cli("evaluate", tmp_path / "run", "--data", "digits"))
    assert "not a readable run folder" in line
    line = assert_one_line_error(cli("predict", tmp_path / "nope", "x.png"))
    assert "not found" in line

    line = assert_one_line_error(cli("train", "cnn", "--epochs", "many"))
    assert "--epochs" in line
    line = assert_one_line_error(
        cli("train", "cnn", "--validation-split", "1.5", "--epochs", 1)
    )
    assert line.endswith(
        "--validation-split must be a number in [0, 1). "
        "Received: --validation-split 1.5"
    )


def test_unreadable_model_file(tmp_path, digits_run):
    _, run_dir = digits_run
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("manifest.json", "class_names.json"):
        (broken / name).write_text(open(os.path.join(run_dir, name)).read())
    (broken / "model.keras").write_text("garbage")
    line = assert_one_line_error(cli("predict", broken, "x.png"))
    assert "not a Keras model file" in line


def test_a_cli_run_has_tensorboard_events_and_a_finished_manifest(digits_run):
    import glob

    import tensorflow as tf

    _, run_dir = digits_run
    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    assert manifest["status"] == "finished"
    assert manifest["config"]["epochs"] == 2 and manifest["seed"] == 0
    assert {"tensorflow", "keras", "numpy"} <= set(manifest["versions"])
    assert manifest["devices"]["device"] in ("CPU", "GPU")
    import csv

    with open(os.path.join(run_dir, "history.csv")) as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    events = {}
    for path in glob.glob(os.path.join(run_dir, "logs", "train", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for v in event.summary.value:
                if v.tag == "epoch_loss":
                    events[event.step] = float(tf.make_ndarray(v.tensor))
    assert [events[i] for i in sorted(events)] == pytest.approx(losses)
