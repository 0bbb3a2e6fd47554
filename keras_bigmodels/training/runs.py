"""The run folder: everything a training run leaves behind, in one place.

```
runs/cnn-20261129-101500/
  model.keras        the trained model (best validation loss)
  metrics.json       final train / validation / test metrics
  history.csv        per-epoch metrics
  class_names.json   index -> class name
  manifest.json      versions, seed, devices, arguments, data description
  *.png              learning curves, confusion matrix
```
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys

import numpy as np

from keras_bigmodels._paths import run_folder_problem

MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CLASS_NAMES_FILE = "class_names.json"
MANIFEST_FILE = "manifest.json"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_json(path, obj) -> None:
    """Write `obj` as indented JSON (numpy values converted), atomically."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(_jsonable(obj), f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def new_run_dir(out: str, prefix: str) -> str:
    """Create `out/prefix-YYYYmmdd-HHMMSS` (with a suffix if taken) and return it."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(os.fspath(out), f"{prefix}-{stamp}")
    path, n = base, 1
    while True:
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            n += 1
            path = f"{base}-{n}"


def library_versions() -> dict:
    import keras
    import tensorflow as tf

    import keras_bigmodels

    return {
        "keras_bigmodels": keras_bigmodels.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def check_run_dir(run_dir, needs=(MODEL_FILE, MANIFEST_FILE, CLASS_NAMES_FILE)) -> str:
    """Return `run_dir` if it is a run folder holding `needs`, else raise."""
    run_dir = os.fspath(run_dir)
    problem = run_folder_problem(run_dir, needs)
    if problem:
        raise (ValueError if os.path.isdir(run_dir) else FileNotFoundError)(problem)
    return run_dir


def load_run(run_dir) -> tuple:
    """`(model, manifest, class_names)` of a run folder."""
    from keras_bigmodels.saving import load_model

    run_dir = check_run_dir(run_dir)
    try:
        manifest = read_json(os.path.join(run_dir, MANIFEST_FILE))
        class_names = read_json(os.path.join(run_dir, CLASS_NAMES_FILE))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(
            f"{run_dir!r} has an unreadable manifest or class list: {e}"
        ) from None
    return load_model(run_dir), manifest, class_names


def fit_verbosity(verbose):
    """Progress bars on a terminal; one line per epoch in a log file."""
    import sys

    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return verbose


class Run:
    """One run folder being written: manifest first, then model, metrics, plots.

    The manifest is written before training starts and the best model is
    checkpointed during `fit`, so an interrupted run still leaves a usable
    folder.

    Args:
        out: str. Parent folder.
        prefix: str. Run folder name prefix, e.g. "cnn".
        manifest: dict. Task, arguments, seed, data and devices; library
            versions and timestamps are added here.
    """

    def __init__(self, out: str, prefix: str, manifest: dict):
        import time

        self.started = time.time()
        self.dir = new_run_dir(out, prefix)
        self.manifest = {
            **manifest,
            "versions": library_versions(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started)),
        }
        write_json(self.path(MANIFEST_FILE), self.manifest)

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def fit(
        self,
        model,
        train,
        validation,
        epochs: int,
        patience: int,
        verbose="auto",
        monitor: str = "val_loss",
        reduce_lr: bool = True,
        mode: str = "min",
    ):
        """`model.fit` with checkpointing, early stopping, LR decay and a CSV log."""
        import keras

        callbacks = [
            keras.callbacks.ModelCheckpoint(
                self.path(MODEL_FILE), monitor=monitor, mode=mode, save_best_only=True
            ),
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                mode=mode,
                patience=patience,
                restore_best_weights=True,
            ),
            keras.callbacks.CSVLogger(self.path(HISTORY_FILE)),
        ]
        if reduce_lr:  # not with a learning-rate schedule, which it cannot set
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(
                    monitor=monitor,
                    mode=mode,
                    factor=0.3,
                    patience=max(1, patience // 2 - 1),
                )
            )
        # shuffle=False: the datasets reshuffle themselves every epoch, and
        # Keras warns that it cannot shuffle a tf.data.Dataset.
        return model.fit(
            train,
            validation_data=validation,
            epochs=epochs,
            callbacks=callbacks,
            shuffle=False,
            verbose=fit_verbosity(verbose),
        )

    def finish(self, model, history, metrics: dict) -> dict:
        """Save the model, metrics, learning curves and the completed manifest."""
        import time

        from keras_bigmodels.insight.plots import plot_history

        model.save(self.path(MODEL_FILE))  # restored best weights, optimizer state
        write_json(
            self.path(METRICS_FILE),
            {**metrics, "epochs_run": len(history.epoch)},
        )
        plot_history(history.history, self.path("learning_curves.png"))
        self.manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.manifest["seconds"] = round(time.time() - self.started, 1)
        write_json(self.path(MANIFEST_FILE), self.manifest)
        return {
            "run_dir": self.dir,
            "metrics": metrics,
            "seconds": self.manifest["seconds"],
        }
