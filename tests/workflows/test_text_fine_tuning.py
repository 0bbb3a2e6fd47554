"""`train text-classifier --backbone PRESET|RUN` and `generate PRESET`, offline,
on tiny presets built from a config and saved with save_to_preset."""

import csv
import json
import os

import numpy as np
import pytest

from keras_bigmodels import load_model
from keras_bigmodels.training.runs import RunInterrupted, read_held_out
from keras_bigmodels.workflows import text_fine_tuning
from keras_bigmodels.workflows.text_fine_tuning import train_text_classifier
from tests.helpers import (
    InterruptAt,
    assert_one_line_error,
    cli,
    make_bert_preset,
    make_gpt2_preset,
    make_text_folder,
    run_dir_of,
)

pytest.importorskip("keras_hub")
pytestmark = pytest.mark.large


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    return {
        "bert": make_bert_preset(root / "bert"),
        "gpt2": make_gpt2_preset(root / "gpt2"),
        "data": make_text_folder(root / "data", per_class=20),
        "long": make_text_folder(root / "long", per_class=8, long_every=4),
    }


def test_a_bert_preset_fine_tuned_with_lora_learns_and_reloads(files, tmp_path):
    result = train_text_classifier(
        backbone=files["bert"],
        data=files["data"],
        epochs=2,
        learning_rate=1e-2,
        fine_tune_epochs=2,
        fine_tune_learning_rate=1e-2,
        lora_rank=2,
        out=str(tmp_path),
        verbose=0,
    )
    run = result.run_dir
    # A body of random weights carries little (a real preset is pretrained):
    # what is checked is that every part trained and the run is whole.
    assert np.isfinite(result.metrics["test"]["loss"])
    # LoRA moved the attention and feed-forward kernels (its update is merged
    # into them when the best epoch is restored) and nothing else of the body.
    from keras_bigmodels.models.hub import open_text_body

    before = {
        w.path: np.asarray(w) for w in open_text_body(files["bert"]).backbone.weights
    }
    after = {w.path: np.asarray(w) for w in result.model.get_layer("backbone").weights}
    moved = {p for p in before if not np.allclose(before[p], after[p], atol=1e-7)}
    assert any("query/kernel" in p for p in moved), sorted(moved)
    assert not any("layer_norm" in p or "position_embedding" in p for p in moved)
    for name in ("model.keras", "metrics.json", "manifest.json", "history.csv"):
        assert os.path.isfile(os.path.join(run, name)), name
    for name in ("learning_curves.png", "confusion_matrix.png"):
        assert os.path.getsize(os.path.join(run, name)) > 1000
    tuned = result.metrics["fine_tune_parameters"]
    assert tuned["lora_rank"] == 2 and 0 < tuned["trainable"] < tuned["total"] / 2
    with open(os.path.join(run, "history.csv")) as f:
        phases = [row["phase"] for row in csv.DictReader(f)]
    assert "head" in phases and phases[-1] == "fine_tune"
    manifest = json.load(open(os.path.join(run, "manifest.json")))
    assert manifest["backbone"]["kind"] == "encoder"
    assert manifest["backbone"]["class"] == "BertBackbone"
    assert result.diagnosis is not None
    # The preset's own preprocessor travels with the run.
    import keras_hub

    pre = keras_hub.models.TextClassifierPreprocessor.from_preset(
        os.path.join(run, "preprocessor")
    )
    assert pre.sequence_length == manifest["backbone"]["sequence_length"]
    # Reloaded (LoRA merged into the kernels), the same predictions.
    x = read_held_out(os.path.join(run, "held_out.npz"))[0]
    loaded = load_model(run)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), result.model.predict(x, verbose=0), atol=1e-5
    )


def test_a_gpt2_preset_through_the_cli_names_the_texts_it_cuts(files, tmp_path):
    args = ["train", "text-classifier", "--backbone", files["gpt2"]]
    args += ["--data", files["long"], "--epochs", 2, "--fine-tune-epochs", 1]
    proc = cli(*args, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Kept the first 64 tokens of" in proc.stderr
    assert "000.txt" in proc.stderr and "--sequence-length" in proc.stderr
    assert "Held-out test accuracy" in proc.stdout
    manifest = json.load(open(os.path.join(run_dir_of(proc), "manifest.json")))
    assert manifest["backbone"]["kind"] == "causal_lm"
    proc = cli(*args, "--too-long", "skip", "--out", tmp_path)
    assert proc.returncode == 0 and "Skipped" in proc.stderr, proc.stderr
    line = assert_one_line_error(cli(*args, "--too-long", "error", "--out", tmp_path))
    assert "--sequence-length 64" in line and "000.txt" in line


def test_bad_backbones_get_one_line(files, tmp_path):
    base = ["train", "text-classifier", "--data", files["data"], "--out", tmp_path]
    line = assert_one_line_error(cli(*base))
    assert "--backbone is required" in line
    line = assert_one_line_error(cli(*base, "--backbone", files["data"]))
    assert "neither a KerasHub preset" in line and "train gpt" in line
    line = assert_one_line_error(
        cli(*base, "--backbone", files["bert"], "--sequence-length", 100)
    )
    assert "max_sequence_length of 32" in line


def test_generate_continues_a_causal_lm_preset(files):
    args = ["generate", files["gpt2"], "--prompt", "the cat", "--max-new-tokens", 5]
    a, b = cli(*args, "--seed", 1), cli(*args, "--seed", 1)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and a.stdout.startswith("the cat")
    line = assert_one_line_error(cli("generate", files["bert"], "--prompt", "x"))
    assert "does not generate text" in line


def test_a_gpt_run_is_a_body_too(files, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        " ".join(
            open(os.path.join(root, f)).read()
            for root, _, names in os.walk(files["data"])
            for f in names
        )
    )
    small = ["--embed-dim", 16, "--num-layers", 1, "--num-heads", 2]
    gpt = cli(
        "train",
        "gpt",
        "--data",
        corpus,
        "--epochs",
        1,
        *small,
        "--sequence-length",
        64,
        "--out",
        tmp_path,
    )
    assert gpt.returncode == 0, gpt.stderr
    proc = cli(
        "train",
        "text-classifier",
        "--backbone",
        run_dir_of(gpt),
        "--data",
        files["data"],
        "--epochs",
        2,
        "--fine-tune-epochs",
        1,
        "--lora-rank",
        2,
        "--out",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Fine-tuning (LoRA rank 2)" in proc.stdout
    run = run_dir_of(proc)
    manifest = json.load(open(os.path.join(run, "manifest.json")))
    assert manifest["backbone"]["kind"] == "own_gpt"
    assert os.path.isfile(os.path.join(run, "tokenizer.json"))


def test_an_interrupted_run_resumes_to_the_same_weights(files, tmp_path, monkeypatch):
    settings = dict(
        backbone=files["bert"],
        data=files["data"],
        epochs=2,
        fine_tune_epochs=1,
        deterministic=True,
        verbose=0,
    )
    whole = train_text_classifier(out=str(tmp_path / "whole"), **settings)
    fit = text_fine_tuning.fit
    monkeypatch.setattr(
        text_fine_tuning,
        "fit",
        lambda run, model, **kw: fit(run, model, callbacks=[InterruptAt(4)], **kw),
    )
    with pytest.raises(RunInterrupted) as info:
        train_text_classifier(out=str(tmp_path / "cut"), **settings)
    monkeypatch.setattr(text_fine_tuning, "fit", fit)
    resumed = train_text_classifier(
        out=str(tmp_path / "cut"), resume=info.value.run_dir, **settings
    )
    assert resumed.run_dir == info.value.run_dir
    for a, b in zip(
        resumed.model.get_weights(), whole.model.get_weights(), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_causal_lm_preset_fine_tuned_on_a_text_file_then_generates(files, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 200)
    args = ["train", "gpt", "--backbone", files["gpt2"], "--data", corpus]
    proc = cli(
        *args,
        "--epochs",
        5,
        "--learning-rate",
        1e-2,
        "--sequence-length",
        32,
        "--out",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    run = run_dir_of(proc)
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    # A repetitive text: fine-tuning lowers the held-out loss a lot.
    after = metrics["validation"]["cross_entropy"]
    before = metrics["pretrained"]["cross_entropy"]
    assert after < 0.8 * before, metrics
    assert "the preset before fine-tuning" in proc.stdout
    assert os.path.isfile(os.path.join(run, "preset", "config.json"))
    prompt = ["--prompt", "the cat", "--max-new-tokens", 6, "--seed", 3]
    a, b = cli("generate", run, *prompt), cli("generate", run, *prompt)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and a.stdout.startswith("the cat")
    line = assert_one_line_error(
        cli(*args, "--sequence-length", 500, "--out", tmp_path)
    )
    assert "max_sequence_length of 128" in line
