"""train gan|autoencoder and sample, through subprocess."""

import json
import os

import pytest

from tests.helpers import assert_one_line_error, cli, run_dir_of


@pytest.mark.large
def test_train_gan_then_sample(tmp_path):
    proc = cli(
        "train",
        "gan",
        "--epochs",
        1,
        "--filters",
        4,
        "--latent-dim",
        8,
        "--samples",
        50,
        "--judge-epochs",
        3,
        "--unconditional",
        "--out",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Frechet distance to held-out images:" in proc.stdout
    assert "classes present:" in proc.stdout
    assert "the class asked for" not in proc.stdout  # no labels asked for
    run_dir = run_dir_of(proc)
    manifest = json.load(open(os.path.join(run_dir, "manifest.json")))
    assert manifest["architecture"] == "dcgan"  # the article's plain GAN
    assert manifest["config"]["conditional"] is False
    assert os.path.isfile(os.path.join(run_dir, "samples", "epoch_001.png"))
    proc = cli("sample", run_dir, "--n", 9, "--seed", 1)
    assert proc.returncode == 0, proc.stderr
    assert os.path.isfile(os.path.join(run_dir, "sample-9-seed1.png"))
    assert os.path.isfile(os.path.join(run_dir, "sample-9-seed1.npy"))


@pytest.mark.large
def test_train_autoencoder_prints_pca_side_by_side(tmp_path):
    proc = cli(
        "train",
        "autoencoder",
        "--kind",
        "variational",
        "--latent-dim",
        4,
        "--epochs",
        1,
        "--out",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "PCA with 4 components" in x)
    assert "Held-out reconstruction MSE:" in line and "ratio" in line
    run_dir = run_dir_of(proc)
    assert os.path.isfile(os.path.join(run_dir, "reconstructions.png"))
    assert os.path.isfile(os.path.join(run_dir, "samples.png"))  # VAE: from prior


def test_generative_argument_errors_are_one_line(tmp_path):
    err = assert_one_line_error(cli("train", "gan", "--linear", "--epochs", 1))
    assert "--linear" in err
    err = assert_one_line_error(
        cli("train", "autoencoder", "--conditional", "--epochs", 1)
    )
    assert "--conditional" in err
    err = assert_one_line_error(cli("train", "gan", "--data", tmp_path / "nope"))
    assert "no such folder" in err
    err = assert_one_line_error(cli("sample", tmp_path, "--n", 4))
    assert "model.keras" in err
    err = assert_one_line_error(cli("sample", tmp_path, "--n", 0))
    assert "--n" in err
    err = assert_one_line_error(
        cli("train", "autoencoder", "--kind", "sparse", "--epochs", 1)
    )
    assert "kind" in err and "sparse" in err
