"""Loading saved models: one function, Keras's safe mode always on."""

from __future__ import annotations

import os
import zipfile

import keras


def load_model(path, compile: bool = True):
    """Load a `.keras` model file, or the model of a run folder, safely.

    Keras's `safe_mode` stays on: a file cannot run arbitrary code (such as a
    pickled `Lambda`) when it is loaded. Every layer, loss and model of this
    package is registered, so no `custom_objects` are needed.

    Args:
        path: str or path. A `.keras` file, or a run folder holding `model.keras`.
        compile: bool. Restore the training configuration too.

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
    return keras.saving.load_model(path, compile=compile, safe_mode=True)
