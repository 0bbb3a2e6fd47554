import subprocess
import sys

import pytest

from keras_bigmodels.insight.advisor import TASKS, recommend_architecture


@pytest.mark.parametrize(
    "task, n, shape, compute, builder",
    [
        ("image_classification", 300, (224, 224, 3), "cpu", "build_image_classifier"),
        ("image_classification", 1797, (8, 8, 1), "cpu", "build_cnn"),
        ("text_classification", 500, None, "cpu", "build_rnn"),
        ("text_classification", 100_000, None, "gpu", "build_transformer"),
        ("time_series", 800, (100, 3), "cpu", "build_rnn"),
        ("translation", 200_000, None, "gpu", "build_seq2seq"),
        ("generation", 5000, (28, 28, 1), "gpu", "build_gan"),
        ("generation", 5000, None, "cpu", "build_gpt"),
        ("anomaly_detection", 1000, (30,), "cpu", "build_autoencoder"),
        ("tabular", 569, (30,), "cpu", "build_mlp"),
    ],
)
def test_each_task_gets_a_builder_of_this_package_with_reasons(
    task, n, shape, compute, builder
):
    r = recommend_architecture(task, n, input_shape=shape, compute=compute)
    assert r.builder == builder
    assert len(r.reasons_en) == len(r.reasons_zh) >= 3
    assert any(str(n) in reason for reason in r.reasons_en)  # data size
    assert any("CPU" in z or "GPU" in z for z in r.reasons_zh)  # compute


def test_data_size_and_compute_change_the_answer():
    small = recommend_architecture("translation", 500, compute="cpu")
    large = recommend_architecture("translation", 500_000, compute="gpu")
    assert (
        small.arguments["kind"] == "lstm" and large.arguments["kind"] == "transformer"
    )
    img = recommend_architecture(
        "image_classification", 100_000, input_shape=(224, 224, 3), compute="gpu"
    )
    assert img.arguments["backbone"] == "efficientnet_b0"


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: task='images'"):
        recommend_architecture("images", 10)
    with pytest.raises(ValueError, match="num_samples"):
        recommend_architecture("tabular", 0)
    with pytest.raises(ValueError, match="compute"):
        recommend_architecture("tabular", 10, compute="tpu")
    assert set(TASKS) >= {"image_classification", "tabular", "translation"}


def test_advise_command_is_fast_and_bilingual():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_bigmodels",
            "advise",
            "image_classification",
            "--samples",
            "300",
            "--input-shape",
            "160x160x3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "build_image_classifier" in proc.stdout and "迁移学习" in proc.stdout
    assert "train classifier" in proc.stdout
