"""Tiny trained runs of every exportable kind, shared by the deploy tests."""

import os

import pytest

from keras_bigmodels import workflows as W
from keras_bigmodels.datasets import load_corpus


def _short_text(out):
    """The bundled corpus's first 20k characters: an epoch of all of it takes
    minutes, and the exports need only some trained model."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "text.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(load_corpus()[:20000])
    return path


# One epoch or two each: the exports must agree with whatever was trained.
_RUNS = {
    "cnn": lambda out: W.train_image_classifier(
        W.ImageClassifierConfig(
            data="digits", epochs=2, image_size=(24, 24), out=out, verbose=0
        )
    ),
    "transformer": lambda out: W.train_sequence_classifier(
        W.TransformerClassifierConfig(
            epochs=1, num_train=400, num_test=64, out=out, verbose=0
        )
    ),
    "lstm": lambda out: W.train_sequence_classifier(
        W.RNNClassifierConfig(
            epochs=1, num_train=400, num_test=64, units=64, num_layers=1, out=out
        )
    ),
    "gpt": lambda out: W.train_gpt(
        W.GPTConfig(
            data=_short_text(out),
            epochs=1,
            embed_dim=64,
            num_layers=2,
            sequence_length=32,
            out=out,
            verbose=0,
        )
    ),
    "mlp": lambda out: W.train_mlp(
        W.MLPConfig(epochs=2, compare=False, out=out, verbose=0)
    ),
    "autoencoder": lambda out: W.train_autoencoder(
        W.AutoencoderConfig(epochs=2, out=out, verbose=0)
    ),
    "gan": lambda out: W.train_gan(
        W.GANConfig(
            epochs=1, judge_epochs=1, samples=64, filters=16, out=out, verbose=0
        )
    ),
    "seq2seq": lambda out: W.train_seq2seq(
        W.Seq2SeqConfig(
            kind="gru",
            epochs=1,
            num_train=400,
            num_test=32,
            num_uniform_test=0,
            units=128,
            embed_dim=64,
            out=out,
            verbose=0,
        )
    ),
}


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory):
    """`{kind: run_dir}`, trained on first use, one folder per kind."""
    out = tmp_path_factory.mktemp("deploy-runs")
    made = {}

    def get(kind):
        if kind not in made:
            made[kind] = _RUNS[kind](str(out / kind)).run_dir
        return made[kind]

    return get
