"""Defects a demanding newcomer met, each through the command line."""

import csv
import json
import os

import numpy as np
import pytest

from tests.helpers import assert_one_line_error, cli, cli_popen, cli_process


def run_folder(proc) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1].removeprefix("Run saved to ").strip()


@pytest.mark.large
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
    from keras_bigmodels.workflows.configs import BackboneClassifierConfig
    from keras_bigmodels.workflows.image_classifier import _digits_data

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


# A multi-worker strategy sets up TensorFlow's collectives for the whole
# process: these tests start their own.
@pytest.mark.large
def test_multi_worker_without_a_cluster_trains_alone_and_writes_its_run(tmp_path):
    proc = cli_process(
        *("train", "cnn", "--data", "digits", "--epochs", 1, "--image-size", 24),
        *("--strategy", "multi_worker", "--out", tmp_path / "mw"),
        env={"TF_CONFIG": ""},
    )
    run_dir = run_folder(proc)
    warnings = [line for line in proc.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "TF_CONFIG" in warnings[0], proc.stderr
    for name in ("model.keras", "metrics.json", "manifest.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    assert manifest["status"] == "finished"
    assert manifest["devices"]["strategy"] == "MultiWorkerMirroredStrategy"


def _lonely_worker_config():
    from keras_bigmodels.training.distribute import localhost_cluster

    return json.dumps(localhost_cluster(2)[0])


@pytest.mark.large
def test_a_worker_whose_peer_never_starts_says_so_and_times_out(tmp_path):
    proc = cli_process(
        *("train", "cnn", "--data", "digits", "--epochs", 1, "--image-size", 24),
        *("--cluster-timeout", 3, "--out", tmp_path),
        env={"TF_CONFIG": _lonely_worker_config()},
    )
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("Waiting for worker 1 (localhost:")
    assert "worker 1" in lines[1] and "--cluster-timeout" in lines[1]
    assert not os.listdir(tmp_path)


@pytest.mark.large
@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_worker_waiting_for_its_peer_ends_at_ctrl_c_and_sigterm(tmp_path, signum):
    import signal
    import subprocess
    import time

    proc = cli_popen(
        *("train", "cnn", "--out", tmp_path),
        env={"TF_CONFIG": _lonely_worker_config()},
        stderr=subprocess.PIPE,
    )
    # Wait for the line that says what it waits for, then signal.
    first = proc.stderr.readline()
    while first and not first.startswith("Waiting for"):
        first = proc.stderr.readline()
    assert first.startswith("Waiting for worker 1"), first
    time.sleep(0.5)
    started = time.monotonic()
    proc.send_signal(getattr(signal, signum))
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert proc.returncode == 128 + getattr(signal, signum)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0], err


def _table(n=150, junk_line=None, sep=","):
    rows = [sep.join(["x1", "x2", "colour", "label"])]
    for i in range(n):
        x1 = f"{(i * 37) % 101 / 7:.3f}"
        rows.append(
            sep.join(
                [
                    "abc" if i + 2 == junk_line else x1,
                    str(i % 5),
                    "red" if i % 3 else "blue",
                    str(int(float(x1) > 7)),
                ]
            )
        )
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("sep", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_one_stray_cell_keeps_a_csv_column_numeric_and_is_named(tmp_path, sep):
    table = tmp_path / "t.csv"
    table.write_text(_table(junk_line=17, sep=sep))
    proc = cli(
        *("train", "mlp", "--data", table, "--target", "label", "--epochs", 3),
        *("--no-compare", "--out", tmp_path / "runs"),
    )
    run_dir = run_folder(proc)
    warned = [line for line in proc.stderr.splitlines() if "warning:" in line]
    assert len(warned) == 1, proc.stderr
    assert f"{table}:17" in warned[0] and "'x1'" in warned[0] and "'abc'" in warned[0]
    data = json.load(open(os.path.join(run_dir, "manifest.json")))["data"]
    assert data["features"] == 4  # x1, x2, colour=blue, colour=red
    assert data["columns"] == {
        "x1": "numeric",
        "x2": "numeric",
        "colour": "categorical",
    }
    assert data["delimiter"] == sep
    assert data["non_numeric_cells"] == [{"line": 17, "column": "x1", "value": "abc"}]
    with open(os.path.join(run_dir, "history.csv")) as f:
        assert max(float(r["val_loss"]) for r in csv.DictReader(f)) < 10


def test_a_continuous_target_says_it_is_not_a_class_column(tmp_path):
    table = tmp_path / "t.csv"
    rows = ["x,price"] + [f"{i % 7},{i * 1.37:.2f}" for i in range(80)]
    table.write_text("\n".join(rows) + "\n")
    proc = cli("train", "mlp", "--data", table, "--target", "price", "--out", tmp_path)
    line = assert_one_line_error(proc)
    assert "80 distinct values" in line and "classifier" in line
    assert "drop" not in line


def test_more_shots_than_the_classes_hold_is_one_line(tmp_path):
    proc = cli("transfer", "--shots", 1000, "--out", tmp_path)
    line = assert_one_line_error(proc)
    from sklearn.datasets import load_digits

    largest = min((load_digits().target == c).sum() for c in range(5, 10)) - 1
    assert "--shots" in line and f"at most {largest}" in line
    assert not os.listdir(tmp_path)  # no failed run folder left behind


@pytest.mark.parametrize("layer", ["dense1", "predictions", "flatten"])
def test_explain_refuses_a_layer_without_a_spatial_map(digits_run, tmp_path, layer):  # noqa: F811
    from tests.helpers import write_image

    _, run_dir = digits_run
    image = write_image(tmp_path / "d.png", np.zeros((24, 24, 3), "uint8"))
    proc = cli("explain", run_dir, image, "--layer", layer, "--out", tmp_path / "o")
    line = assert_one_line_error(proc)
    assert f"{layer!r}" in line and "spatial" in line
    offered = line.split("[")[1].split("]")[0]
    assert "conv" in offered and "dense" not in offered and "predictions" not in offered


def test_grad_cam_is_drawn_on_the_photo_at_its_own_size(digits_run, tmp_path):  # noqa: F811
    from PIL import Image

    from tests.helpers import pattern_image, write_image

    _, run_dir = digits_run
    photo = write_image(tmp_path / "big.jpg", pattern_image(1, size=(900, 700)))
    proc = cli("explain", run_dir, photo, "--out", tmp_path / "cam")
    assert proc.returncode == 0, proc.stderr
    (written,) = os.listdir(tmp_path / "cam")
    assert Image.open(tmp_path / "cam" / written).size == (700, 900)


def test_a_grayscale_runs_body_on_rgb_images_names_the_flags(digits_run, tmp_path):  # noqa: F811
    from tests.helpers import make_class_folder

    _, source = digits_run
    make_class_folder(tmp_path / "photos", {"a": 6, "b": 6})
    proc = cli(
        *("train", "classifier", "--backbone", source, "--data", tmp_path / "photos"),
        *("--epochs", 1, "--out", tmp_path / "runs"),
    )
    line = assert_one_line_error(proc)
    assert "--color-mode grayscale" in line and "--image-size 24x24" in line
    runs = tmp_path / "runs"
    assert not runs.exists() or not os.listdir(runs)


def test_a_damaged_cached_weights_file_is_named_with_the_remedy(tmp_path):
    from keras_bigmodels.models.transfer import _mobilenet_v2_file

    cache = tmp_path / "keras" / "models"
    cache.mkdir(parents=True)
    damaged = cache / _mobilenet_v2_file(96)
    damaged.write_bytes(b"\x89HDF\r\n" + bytes(1000))  # a download cut short
    proc = cli(
        *("train", "classifier", "--backbone", "mobilenet_v2", "--weights"),
        *("imagenet", "--image-size", 96, "--out", tmp_path / "runs"),
        env={"KERAS_HOME": str(tmp_path / "keras")},
    )
    line = assert_one_line_error(proc)
    assert str(damaged) in line and "damaged" in line and "Delete it" in line
    assert "signature" not in line or "HDF5" in line


def _fake_run(folder, architecture, task):
    os.makedirs(folder)
    for name in ("model.keras", "class_names.json", "tokenizer.json"):
        open(os.path.join(folder, name), "w").close()
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump({"architecture": architecture, "task": task}, f)
    return folder


@pytest.mark.parametrize(
    "command, architecture, says",
    [
        (["explain"], "gpt", "'train gpt'"),
        (["predict"], "gpt", "'train gpt'"),
        (["generate", "--prompt", "a"], "cnn", "'train cnn'"),
        (["evaluate", "--data", "digits"], "mlp", "'train mlp'"),
        (["sample"], "seq2seq-gru", "'train seq2seq'"),
    ],
)
def test_a_run_of_the_wrong_kind_says_which_kind_and_which_commands(
    tmp_path, command, architecture, says
):
    run = _fake_run(str(tmp_path / "run"), architecture, "x")
    args = [command[0], run, *command[1:]]
    if command[0] in ("explain", "predict"):
        args.append(str(tmp_path))
    line = assert_one_line_error(cli(*args))
    assert says in line and f"{command[0]} takes runs of" in line
    assert "missing" not in line
    if architecture == "gpt":
        assert "keras-bigmodels generate" in line


@pytest.mark.parametrize(
    "task, shape",
    [
        ("tabular", "28x28x1"),
        ("image_classification", "50x3"),
        ("image_classification", "32x32x7"),
        ("time_series", "100"),
    ],
)
def test_advise_checks_the_input_shape_against_the_task(task, shape):
    proc = cli("advise", task, "--samples", 500, "--input-shape", shape)
    line = assert_one_line_error(proc)
    assert proc.returncode == 2
    assert "--input-shape" in line and task in line and shape in line
    good = {"tabular": "30", "image_classification": "50x50x3", "time_series": "100x8"}
    proc = cli("advise", task, "--samples", 500, "--input-shape", good[task])
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "args, status",
    [
        (["train", "cnn", "--epochs", "0"], 2),
        (["train", "cnn", "--epochs", "many"], 2),
        (["train", "cnn", "--no-such-flag"], 2),
        (["generate", "RUN", "--prompt", "a", "--top-k", "0"], 1),
        (["evaluate", "no/such/run", "--data", "digits"], 1),
        (["sample", "RUN", "--n", "0"], 2),
        (["train", "classifier", "--backbone", "cnn", "--image-size", "16"], 2),
    ],
)
def test_usage_errors_exit_2_and_failures_1(args, status, tmp_path):
    args = [str(tmp_path / "run") if a == "RUN" else a for a in args]
    proc = cli(*args)
    assert_one_line_error(proc)
    assert proc.returncode == status, proc.stderr


def test_a_finite_blow_up_is_named_divergence_in_the_last_line(tmp_path):
    proc = cli(
        *("train", "mlp", "--epochs", 3, "--learning-rate", "1e6", "--no-compare"),
        *("--out", tmp_path),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "diverged" in last and "--learning-rate" in last and "1e+06" in last
    assert "Diagnosis: diverging" in proc.stdout and "发散" in proc.stdout
    assert "train for more epochs" not in proc.stdout
    (run_dir,) = [os.path.join(tmp_path, d) for d in os.listdir(tmp_path)]
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["diagnosis"]["verdict"] == "diverging"


@pytest.mark.large
def test_the_seq2seq_skip_warning_names_the_memory_a_long_pair_needs(tmp_path):
    from keras_bigmodels.workflows.configs import Seq2SeqConfig
    from keras_bigmodels.workflows.seq2seq import seq2seq_step_bytes

    lines = [f"{i}+{i % 7}\t{i + i % 7}" for i in range(300)]
    lines[16] = "1+1\t" + "2" * 3000
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = cli(
        *("train", "seq2seq", "--data", pairs, "--epochs", 1, "--embed-dim", 16),
        *("--num-layers", 1, "--num-heads", 2, "--out", tmp_path / "r"),
    )
    assert proc.returncode == 0, proc.stderr
    (warning,) = [line for line in proc.stderr.splitlines() if "pairs.tsv:17" in line]
    cfg = Seq2SeqConfig(embed_dim=16, num_layers=1, num_heads=2)
    gb = seq2seq_step_bytes(cfg, 3000) / 2**30
    assert f"needs about {gb:.1f} GB" in warning and "--batch-size 128" in warning


def test_resume_with_nothing_to_resume_says_it_starts_a_new_run(tmp_path):
    proc = cli(
        "train", "mlp", "--epochs", 1, "--no-compare", "--resume", "--out", tmp_path
    )
    run_folder(proc)
    (warned,) = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert "--resume" in warned and "starting a new run" in warned


def test_predict_json_keeps_the_input_order_with_its_errors(digits_run, tmp_path):  # noqa: F811
    from tests.helpers import pattern_image, write_image

    _, run_dir = digits_run
    good = [
        write_image(tmp_path / f"{name}.png", pattern_image(i, (24, 24)))
        for i, name in enumerate("abc")
    ]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    missing = str(tmp_path / "missing.png")
    folder = tmp_path / "folder"
    write_image(folder / "x.png", pattern_image(1, (24, 24)))
    write_image(folder / "y.png", pattern_image(2, (24, 24)))
    inputs = [good[2], str(broken), good[0], missing, str(folder), good[1]]
    proc = cli("predict", run_dir, *inputs, "--json")
    assert proc.returncode == 3, proc.stderr  # some inputs skipped
    records = json.loads(proc.stdout)
    expected = [good[2], str(broken), good[0], missing]
    expected += [str(folder / "x.png"), str(folder / "y.png"), good[1]]
    assert [r["path"] for r in records] == expected
    assert ["error" in r for r in records] == [0, 1, 0, 1, 0, 0, 0]


def test_errors_speak_the_users_words_not_pythons(tmp_path):
    line = assert_one_line_error(
        cli("train", "classifier", "--weights", tmp_path / "none.h5", "--out", tmp_path)
    )
    assert "None" not in line and "--weights must be left out" in line
    config = {
        "cluster": {"worker": ["localhost:1", "localhost:2"]},
        "task": {"type": "worker", "index": 5},
    }
    line = assert_one_line_error(
        cli("train", "cnn", "--out", tmp_path, env={"TF_CONFIG": json.dumps(config)})
    )
    assert "`task_id`" not in line and "task index 5" in line and "0 to 1" in line
    del config["task"]
    line = assert_one_line_error(
        cli("train", "cnn", "--out", tmp_path, env={"TF_CONFIG": json.dumps(config)})
    )
    assert "TF_CONFIG" in line and '"task"' in line
    run = _fake_run(str(tmp_path / "cnn"), "cnn", "image_classification")
    line = assert_one_line_error(cli("sample", run))
    assert "Sequential" not in line and "'train cnn'" in line and "train gan" in line
