"""LoRA through `unfreeze(model, lora_rank=R)`: which weights train, the
low-rank update's formula, and a `.keras` round trip."""

import os

import keras
import numpy as np
import pytest

import keras_bigmodels as kb
from keras_bigmodels.models.transfer import LORA_LEARNING_RATE


def tiny_classifier():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(16, name="hidden")(x)
    body = keras.Model(inputs, x, name="body")
    model = kb.build_image_classifier(body, 3)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_lora_trains_the_updates_and_the_head_only():
    model = tiny_classifier()
    kb.unfreeze(model, lora_rank=2)
    trainable = {w.path for w in model.trainable_weights}
    assert {
        "conv/lora_kernel_a",
        "conv/lora_kernel_b",
        "hidden/lora_kernel_a",
        "hidden/lora_kernel_b",
    } <= trainable
    assert "conv/kernel" not in trainable and "hidden/kernel" not in trainable
    assert not [p for p in trainable if p.startswith("norm/")]
    assert {"predictions/kernel", "predictions/bias"} <= trainable
    # conv: A (3, 3, 1, 2), B (2, 4), bias 4; hidden (input 6*6*4 = 144):
    # A (144, 2), B (2, 16), bias 16; the head: kernel (16, 3), bias 3.
    expected = (3 * 3 * 1 * 2 + 2 * 4 + 4) + (144 * 2 + 2 * 16 + 16) + (16 * 3 + 3)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == expected
    assert float(model.optimizer.learning_rate) == pytest.approx(LORA_LEARNING_RATE)


def test_the_update_is_w_plus_alpha_over_r_times_a_b():
    layer = keras.layers.Dense(5)
    layer.build((None, 6))
    layer.enable_lora(3, lora_alpha=6)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 3)), rng.normal(size=(3, 5))
    layer.lora_kernel_a.assign(a)
    layer.lora_kernel_b.assign(b)
    w = layer._kernel.numpy()
    x = rng.normal(size=(2, 6)).astype("float32")
    expected = x @ (w + (6 / 3) * a @ b) + layer.bias.numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_a_lora_model_survives_a_keras_round_trip(tmp_path):
    model = tiny_classifier()
    kb.unfreeze(model, lora_rank=2)
    x = np.random.default_rng(1).uniform(0, 255, (16, 8, 8, 1)).astype("float32")
    y = np.arange(16) % 3
    model.fit(x, y, epochs=2, verbose=0)
    path = os.path.join(tmp_path, "lora.keras")
    model.save(path)
    loaded = kb.load_model(path)
    # Keras saves the update merged into the kernel; the layer comes back with
    # LoRA on and a zero update (A reset to zeros), ready to train on.
    hidden = loaded.get_layer("backbone").get_layer("hidden")
    assert hidden.lora_enabled and not np.any(np.asarray(hidden.lora_kernel_a))
    trained = model.get_layer("backbone").get_layer("hidden")
    np.testing.assert_allclose(hidden._kernel, trained.kernel, atol=1e-6)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize("rank", [0, -1, 1.5, True])
def test_a_bad_rank_is_named(rank):
    with pytest.raises(ValueError, match="lora_rank"):
        kb.unfreeze(tiny_classifier(), lora_rank=rank)


@pytest.mark.large
def test_train_classifier_fine_tunes_with_lora_and_reports_it(tmp_path):
    import json

    from tests.helpers import cli  # noqa: PLC0415

    proc = cli(
        *("train", "classifier", "--backbone", "cnn", "--data", "digits"),
        *("--image-size", 24, "--epochs", 1, "--fine-tune-epochs", 1),
        *("--lora-rank", 4, "--out", tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = proc.stdout.strip().splitlines()[-1].removeprefix("Run saved to ")
    tuned = json.load(open(os.path.join(run_dir, "metrics.json")))[
        "fine_tune_parameters"
    ]
    assert tuned["lora_rank"] == 4 and tuned["learning_rate"] == LORA_LEARNING_RATE
    model = kb.load_model(run_dir)
    assert tuned["total"] == model.count_params()
    assert 0 < tuned["trainable"] < 0.1 * tuned["total"]
    assert f"{tuned['trainable']:,} of {tuned['total']:,}" in proc.stdout
    # A LoRA run exports as any other run does, checked against the model.
    from keras_bigmodels.deploy import export_run

    for fmt in ("saved_model", "onnx"):
        report = export_run(run_dir, fmt)
        assert report.passed and report.top1_agreement == 1.0, report
        assert report.max_abs_difference < 1e-4, report
