"""The GAN and autoencoder workflows at reduced size."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from keras_bigmodels import workflows
from keras_bigmodels.workflows._common import load_image_split
from keras_bigmodels.workflows.autoencoder import pca_reconstruction_mse
from tests.helpers import make_class_folder, pattern_image, write_image


@pytest.mark.large
def test_autoencoder_beats_pca_and_linear_matches_it(tmp_path):
    # The CLI's quality claim at reduced size: a nonlinear autoencoder with
    # an 8-number code reconstructs held-out digits better than 8-component
    # PCA; a linear one can at best equal PCA and comes close.
    r = workflows.train_autoencoder(
        latent_dim=8, epochs=60, learning_rate=3e-3, out=str(tmp_path), verbose=0
    )
    assert r.metrics["ratio_to_pca"] < 0.85
    lin = workflows.train_autoencoder(
        latent_dim=8,
        linear=True,
        epochs=60,
        learning_rate=1e-2,
        out=str(tmp_path),
        verbose=0,
    )
    assert 0.97 < lin.metrics["ratio_to_pca"] < 1.1
    saved = json.load(open(os.path.join(r.run_dir, "metrics.json")))
    assert saved["pca"]["reconstruction_mse"] == pytest.approx(
        r.metrics["pca"]["reconstruction_mse"]
    )
    png = Image.open(os.path.join(r.run_dir, "reconstructions.png"))
    assert png.size[0] > png.size[1]  # two rows of ten


def test_pca_baseline_is_exact_for_a_low_rank_set():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 12))
    x = rng.normal(size=(200, 3)) @ basis
    assert pca_reconstruction_mse(x[:150], x[150:], 3) < 1e-20
    assert pca_reconstruction_mse(x[:150], x[150:], 2) > 1e-3


@pytest.mark.large
def test_gan_workflow_writes_samples_and_judges_them(tmp_path):
    r = workflows.train_gan(
        epochs=2,
        filters=8,
        latent_dim=8,
        samples=100,
        judge_epochs=8,
        out=str(tmp_path),
        verbose=0,
    )
    m, run_dir = r.metrics, r.run_dir
    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    # Labelled data: class-conditional unless asked otherwise.
    assert manifest["architecture"] == "dcgan-conditional"
    assert manifest["config"]["conditional"] is None
    assert "label_agreement" in m["samples"]
    assert m["judge_test_accuracy"] > 0.8  # the judge itself is trustworthy
    assert sum(m["samples"]["class_counts"]) == 100
    assert 0 <= m["samples"]["confident_fraction"] <= 1
    fd = m["frechet_distance"]
    assert fd["real_train_vs_test"] < fd["final"]  # 2 epochs: far from real
    history = open(os.path.join(run_dir, "history.csv")).read().splitlines()
    assert "frechet_distance" in history[0] and len(history) == 3
    for name in ("samples.png", "samples/epoch_002.png", "judge.keras"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    out = workflows.sample_from_run(run_dir, n=5, seed=0)
    first = np.load(out["npy"])
    assert first.shape == (5, 8, 8, 1) and first.dtype == np.uint8
    np.testing.assert_array_equal(
        first, np.load(workflows.sample_from_run(run_dir, n=5, seed=0)["npy"])
    )


def test_image_split_of_a_folder_with_and_without_classes(tmp_path):
    make_class_folder(tmp_path / "classes", {"a": 15, "b": 15}, size=(12, 12))
    split = load_image_split(str(tmp_path / "classes"), image_size=8)
    assert split["class_names"] == ["a", "b"]
    assert len(split["x_train"]) + len(split["x_test"]) == 30
    assert set(split["y_test"]) == {0, 1}  # stratified
    assert split["x_train"].shape[1:] == (8, 8, 3)
    flat = tmp_path / "flat"
    for i in range(25):
        write_image(flat / f"img{i}.png", pattern_image(0, (12, 12), seed=i))
    split = load_image_split(str(flat), image_size=8, color_mode="grayscale")
    assert split["class_names"] == ["images"] and split["x_test"].shape[-1] == 1
    with pytest.raises(ValueError, match="at least 20"):
        make_class_folder(tmp_path / "few", {"a": 3}, size=(12, 12))
        load_image_split(str(tmp_path / "few"), image_size=8)


def test_conditional_needs_classes(tmp_path):
    flat = tmp_path / "flat"
    for i in range(25):
        write_image(flat / f"img{i}.png", pattern_image(0, (12, 12), seed=i))
    with pytest.raises(ValueError, match="conditional"):
        workflows.train_gan(
            data=str(flat), image_size=8, conditional=True, out=str(tmp_path), verbose=0
        )


def test_sampling_a_plain_autoencoder_run_is_refused(tmp_path):
    r = workflows.train_autoencoder(
        latent_dim=4, epochs=1, out=str(tmp_path), verbose=0
    )
    with pytest.raises(ValueError, match="no prior"):
        workflows.sample_from_run(r.run_dir, n=4)
