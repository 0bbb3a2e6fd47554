"""keras-bigmodels: the article "如何训练自己的AI模型", working.

Every architecture and formula of the article as a tested Keras component,
a fast and safe image-folder pipeline, bundled real data and a CLI.

Public names load on first use (PEP 562), so `import keras_bigmodels` and the
command line's `--help` do not pay for importing TensorFlow.
"""

import importlib

from keras_bigmodels._version import __version__

# public name -> module that defines it
_EXPORTS = {
    "build_autoencoder": "keras_bigmodels.models.autoencoder",
    "reconstruction_error": "keras_bigmodels.models.autoencoder",
    "build_cnn": "keras_bigmodels.models.cnn",
    "build_gan": "keras_bigmodels.models.gan",
    "build_gpt": "keras_bigmodels.models.gpt",
    "build_image_classifier": "keras_bigmodels.models.transfer",
    "build_mlp": "keras_bigmodels.models.mlp",
    "unfreeze": "keras_bigmodels.models.transfer",
    "build_rnn": "keras_bigmodels.models.rnn",
    "build_seq2seq": "keras_bigmodels.models.seq2seq",
    "build_transformer": "keras_bigmodels.models.transformer",
    "decode": "keras_bigmodels.models.seq2seq",
    "generate": "keras_bigmodels.models.gpt",
    "load_model": "keras_bigmodels.saving",
    "recommend_architecture": "keras_bigmodels.insight.advisor",
    "set_seed": "keras_bigmodels.training.seed",
}
_SUBMODULES = (
    "data",
    "datasets",
    "deploy",
    "distribute",
    "insight",
    "losses",
    "layers",
    "models",
    "training",
    "workflows",
)

__all__ = ["__version__", *_EXPORTS, *_SUBMODULES]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name == "distribute":
        value = importlib.import_module("keras_bigmodels.training.distribute")
    elif name in _SUBMODULES:
        value = importlib.import_module(f"keras_bigmodels.{name}")
    else:
        raise AttributeError(f"module 'keras_bigmodels' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
