"""Loading saved models: one function, Keras's safe mode always on."""

from __future__ import annotations

import importlib
import json
import os
import sys
import zipfile

import keras

# The modules whose import registers this package's layers, losses and
# models with Keras; a fresh process that imported none of them could not
# rebuild a Transformer or a GAN from its file.
_REGISTERING = (
    "keras_bigmodels.layers",
    "keras_bigmodels.losses",
    "keras_bigmodels.models",
    "keras_bigmodels.training.metrics",
)


def _model_config(path) -> bytes:
    """The model config (`config.json`) inside a `.keras` file, as stored."""
    with zipfile.ZipFile(path) as archive:
        return archive.read("config.json")


def load_model(path, compile: bool = True, safe_mode: bool = True):
    """Load a `.keras` model file, or the model of a run folder, safely.

    Keras's `safe_mode` stays on: a file cannot run arbitrary code (such as a
    pickled `Lambda`) when it is loaded. Every layer, loss and model of this
    package is registered, so no `custom_objects` are needed.
    `safe_mode=False` (the CLI's `--unsafe-load`) is the one way to open a
    file that holds a `Lambda` layer; do it only for files you trust. It
    says so on stderr when used.

    Args:
        path: str or path. A `.keras` file, or a run folder holding `model.keras`.
        compile: bool. Restore the training configuration too.
        safe_mode: bool. Keep Keras's safe mode on (default).

    Returns:
        The `keras.Model`.

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: `path` is not a Keras model file.

    Example:

    >>> model = load_model("runs/cnn-20261129-101500")  # doctest: +SKIP
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No saved model at {path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path!r} is not a Keras model file (.keras zip archive)")
    for module in _REGISTERING:
        importlib.import_module(module)
    config = _model_config(path)
    # KerasHub layers are registered when keras_hub is imported.
    hub = b'"keras_hub' in config
    if hub:  # a text-classifier run on a KerasHub preset
        from keras_bigmodels.models.hub import keras_hub

        keras_hub()
    if not safe_mode:
        print(
            f"keras-bigmodels: loading {path} with Keras's safe mode off: the "
            "file may run code of its own (use only files you trust)",
            file=sys.stderr,
        )
    if hub and compile:
        # A KerasHub backbone rebuilds its layers from its own arguments, so
        # LoRA updates come back merged into the kernels, with no LoRA
        # layers: the saved optimizer's slots no longer match. The model is
        # compiled as it was, with a fresh optimizer.
        model = keras.saving.load_model(path, compile=False, safe_mode=bool(safe_mode))
        compile_config = json.loads(config).get("compile_config")
        if compile_config:
            model.compile_from_config(compile_config)
        return model
    return keras.saving.load_model(path, compile=compile, safe_mode=bool(safe_mode))
