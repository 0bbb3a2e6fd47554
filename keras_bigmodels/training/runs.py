"""The run folder: everything a training run leaves behind, in one place.

```
runs/cnn-20261129-101500/
  model.keras        the trained model (best validation loss)
  metrics.json       final train / validation / test metrics
  history.csv        per-epoch metrics
  class_names.json   index -> class name
  manifest.json      status, config, versions, seed, devices, data description
  checkpoints/       the latest full training state (see training/resume.py)
  logs/              TensorBoard event files (train/, validation/)
  *.png              learning curves, confusion matrix
```

The manifest's `status` says how far a run got: `running` (still going, or
killed without a chance to say so), `finished`, `failed` (with the error) or
`interrupted` (Ctrl-C). `--resume` continues any run that is not finished.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import glob
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings

import numpy as np

from keras_bigmodels._paths import run_folder_problem

MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CLASS_NAMES_FILE = "class_names.json"
MANIFEST_FILE = "manifest.json"
# Inputs the model never trained on, kept so that an export can be checked
# against the model on the run's own held-out data.
HELD_OUT_FILE = "held_out.npz"
HELD_OUT_LIMIT = 256
LOGS_DIR = "logs"
STATUSES = ("running", "finished", "failed", "interrupted")


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
        f.write(json_text(_jsonable(obj)) + "\n")
    os.replace(tmp, path)


def json_text(obj, indent: int | None = 2) -> str:
    """`obj` as JSON text that UTF-8 can always hold; Chinese stays readable.

    A file or folder name that is not valid UTF-8 (a GBK name unpacked on
    Linux, say) reaches us with surrogate escapes, which UTF-8 cannot hold;
    then the text is all-ASCII, and its `\\u` escapes read back with `json`
    as the very same name.
    """
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, indent=indent)
    return text


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

    from keras_bigmodels._version import __version__

    return {
        "keras_bigmodels": __version__,
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


def load_run(run_dir, safe_mode: bool = True) -> tuple:
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
    return load_model(run_dir, safe_mode=safe_mode), manifest, class_names


def fit_verbosity(verbose):
    """Progress bars on a terminal; one line per epoch in a log file."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return verbose


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def find_resumable(out, workflow: str) -> str | None:
    """The most recently started unfinished run of `workflow` under `out`."""
    best, best_started = None, ""
    for manifest_path in glob.glob(os.path.join(os.fspath(out), "*", MANIFEST_FILE)):
        try:
            m = read_json(manifest_path)
        except (OSError, ValueError):
            continue
        if m.get("workflow") != workflow or m.get("status") == "finished":
            continue
        started = m.get("started", "")
        if started >= best_started:
            best, best_started = os.path.dirname(manifest_path), started
    return best


@dataclasses.dataclass
class TrainResult:
    """What every training workflow returns.

    Attributes:
        run_dir: str. The run folder.
        status: str. `"finished"`.
        seconds: float. Wall time of this process's part of the run.
        epochs_run: int. Epochs in the history (all phases, all sessions).
        batches_trained: int. Training steps taken (all sessions): a resumed
            run that replayed no batch has exactly as many as an
            uninterrupted one.
        history: dict. Per-epoch metric lists, as `keras.callbacks.History`.
        metrics: dict. Everything written to `metrics.json`.
        config: the workflow's config dataclass.
        model: keras.Model. The trained model (best epoch), ready to use.
        diagnosis: dict or None. `insight.diagnose_history` of the learning
            curve (verdict, turning epoch, reasons, remedies), also in
            `metrics.json`; None for a GAN.
    """

    run_dir: str
    status: str
    seconds: float
    epochs_run: int
    batches_trained: int
    history: dict
    metrics: dict
    config: object
    model: object = dataclasses.field(default=None, repr=False)
    diagnosis: dict | None = None


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the run folder is kept and can be resumed."""

    def __init__(self, run_dir: str, where: str):
        super().__init__(f"interrupted at {where}")
        self.run_dir = run_dir
        self.where = where


class Run:
    """One run folder and its lifecycle: manifest, checkpoints, status, results.

    Create it with `Run.open(cfg, workflow, prefix)` before TensorFlow does
    any work, so that `--resume` can swap in the resumed run's own settings;
    then `start(...)` writes the manifest, `training.loop.fit` trains and
    checkpoints into it, and `finish(...)` saves the results. Used as a
    context manager, it marks the manifest `failed` or `interrupted` when
    the block ends with an exception.

    Under a multi-worker strategy only the chief writes the run folder; the
    other workers write into a temporary folder that is removed at the end
    (and read checkpoints from the chief's folder when resuming).
    """

    def __init__(
        self, run_dir: str, config, workflow: str, *, resumed: bool, chief: bool = True
    ):
        self.started = time.time()
        self.config = config
        self.workflow = workflow
        self.resumed = resumed
        self.chief = chief
        self.source_dir = run_dir  # where checkpoints are read from
        self.dir = run_dir if chief else tempfile.mkdtemp(prefix="kb-worker-")
        self.manifest: dict = {}
        self.position: dict | None = None  # set by the training loop
        self.strategy = None  # set by `session`: the manifest names its devices

    @property
    def jit_compile(self) -> bool:
        """The `jit_compile` of this run's models (`config.jit` resolved)."""
        from keras_bigmodels.training.precision import resolve_jit

        return resolve_jit(getattr(self.config, "jit", None))

    @classmethod
    def open(
        cls, cfg, workflow: str, prefix: str | None = None, *, chief: bool = True
    ) -> Run:
        """A new run folder, or the one `cfg.resume` asks to continue.

        With `cfg.resume == "latest"` the most recent unfinished run of
        `workflow` under `cfg.out` is continued (a new run starts when there
        is none); with a path, that run. A resumed run trains with the
        settings in its manifest; only `out`, `resume` and `verbose` come
        from `cfg`.
        """
        from keras_bigmodels.training.run_config import RESUME_LATEST

        run_dir = None
        if cfg.resume == RESUME_LATEST:
            run_dir = find_resumable(cfg.out, workflow)
            if run_dir is None and chief:
                warnings.warn(
                    f"--resume: no unfinished {workflow} run under "
                    f"{os.fspath(cfg.out)!r} to continue; starting a new run",
                    stacklevel=2,
                )
        elif cfg.resume is not None:
            run_dir = os.fspath(cfg.resume)
            problem = run_folder_problem(run_dir, (MANIFEST_FILE,))
            if problem:
                raise FileNotFoundError(f"--resume: {problem}")
        if run_dir is None:
            path = new_run_dir(cfg.out, prefix or workflow) if chief else ""
            return cls(path, cfg, workflow, resumed=False, chief=chief)
        manifest = read_json(os.path.join(run_dir, MANIFEST_FILE))
        if manifest.get("workflow") != workflow:
            raise ValueError(
                f"--resume: {run_dir!r} is a {manifest.get('workflow')!r} run, "
                f"not {workflow!r}"
            )
        if manifest.get("status") == "finished":
            raise ValueError(f"--resume: {run_dir!r} has already finished")
        saved = dict(manifest["config"])
        saved.update(out=cfg.out, resume=cfg.resume, verbose=cfg.verbose)
        config = type(cfg)(**saved).check()
        run = cls(run_dir, config, workflow, resumed=True, chief=chief)
        run.manifest = manifest
        return run

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def write_json(self, name: str, obj) -> None:
        write_json(self.path(name), obj)

    # --- manifest and status ----------------------------------------------

    def start(self, **fields) -> None:
        """Write the manifest (status `running`) with the config, versions,
        the devices and XLA setting of the run, and `fields` (task, data, ...)."""
        from keras_bigmodels.training.distribute import describe_devices
        from keras_bigmodels.training.precision import xla_setting

        fields = {k: v for k, v in fields.items() if v is not None}
        if self.strategy is not None:
            fields.setdefault("devices", describe_devices(self.strategy))
        # The setting, and in words: asked for, or the default and why.
        jit, why = xla_setting(getattr(self.config, "jit", None))
        if hasattr(self.config, "batch_sizes"):
            fields.setdefault("batch", self.config.batch_sizes())
        fields.setdefault("jit_compile", jit)
        fields.setdefault("xla", why)
        if self.resumed:
            self.manifest.update(fields)
            self.manifest.setdefault("resumed", []).append(_now())
        else:
            self.manifest = {
                "workflow": self.workflow,
                **fields,
                "config": self.config.settings(),
                "seed": self.config.seed,
                "deterministic": self.config.deterministic,
                "versions": library_versions(),
                "started": _now(),
            }
        self.mark("running")

    def mark(self, status: str, **extra) -> None:
        """Set the manifest's status (and e.g. `error`), on disk at once."""
        self.manifest["status"] = status
        self.manifest.update(extra)
        if status in ("finished", "failed", "interrupted"):
            # Every part of a run counts: one stopped and resumed adds the
            # time of each part.
            now = time.time()
            spent = self.manifest.get("seconds", 0) + now - self.started
            self.manifest["seconds"] = round(spent, 1)
            self.started = now
        if status == "running":
            self.manifest.pop("error", None)
        if self.manifest.get("workflow"):
            write_json(self.path(MANIFEST_FILE), self.manifest)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.chief:
            shutil.rmtree(self.dir, ignore_errors=True)
        if exc_type is None:
            return
        if not self.manifest.get("workflow"):
            # Stopped before `start` (bad data, a model that cannot be built,
            # Ctrl-C while loading): a new folder holds nothing yet.
            if self.chief and not self.resumed:
                shutil.rmtree(self.dir, ignore_errors=True)
            return
        if self.manifest.get("status") != "running":
            return
        if issubclass(exc_type, KeyboardInterrupt):
            self.mark("interrupted", ended=_now())
            if not isinstance(exc, RunInterrupted) and self.chief:
                where = "the start" if self.position is None else "the end"
                raise RunInterrupted(self.dir, f"{where} of training") from None
        else:
            self.mark("failed", error=f"{exc_type.__name__}: {exc}", ended=_now())

    # --- results ----------------------------------------------------------

    def finish(
        self,
        model,
        metrics: dict,
        result_cls=TrainResult,
        *,
        held_out_inputs=None,
        **fields,
    ):
        """Save the model, metrics, learning curves; mark the run `finished`.

        `held_out_inputs`: the model's inputs for held-out examples (an array, a
        tuple of arrays for a model of several inputs, or batches of
        `(inputs, targets)`); the first `HELD_OUT_LIMIT` are kept in
        `held_out.npz`, where `export` checks its artifacts.

        Returns:
            A `result_cls` (a `TrainResult`) with `fields` added.
        """
        from keras_bigmodels.insight.diagnose import diagnose_history
        from keras_bigmodels.insight.plots import plot_history

        position = self.position or {"history": [], "batches_trained": 0}
        history = history_dict(position["history"])
        # FAQ 6.3's verdict on the learning curve (not for a GAN's two
        # adversarial losses, which have no "loss" to fit).
        diagnosis = (
            diagnose_history(
                history, initial_loss=position.get("initial_loss")
            ).to_dict()
            if "loss" in history
            else None
        )
        if diagnosis is not None:
            metrics = {**metrics, "diagnosis": diagnosis}
        tmp = self.path(".model.tmp.keras")
        model.save(tmp)
        os.replace(tmp, self.path(MODEL_FILE))
        if held_out_inputs is not None:
            write_held_out(self.path(HELD_OUT_FILE), held_out_inputs)
        write_json(
            self.path(METRICS_FILE),
            {
                **metrics,
                "epochs_run": len(position["history"]),
                "batches_trained": position["batches_trained"],
            },
        )
        if history:
            plot_history(history, self.path("learning_curves.png"))
        seconds = round(time.time() - self.started, 1)  # this part of the run
        self.mark(
            "finished", finished=_now(), batches_trained=position["batches_trained"]
        )
        return result_cls(
            run_dir=self.source_dir,
            status="finished",
            seconds=seconds,
            epochs_run=len(position["history"]),
            batches_trained=position["batches_trained"],
            history=history,
            metrics=metrics,
            config=self.config,
            model=model,
            diagnosis=diagnosis,
            **fields,
        )


def write_held_out(path, data, limit: int = HELD_OUT_LIMIT) -> None:
    """Keep the first `limit` model inputs of `data` in an `.npz` file.

    `data` is an array, a tuple of arrays (one per model input), a dict of
    named arrays (one dict input), or an iterable of `(inputs, targets)`
    batches (a `tf.data.Dataset` included).
    Arrays are saved as `x0`, `x1`, ... in the order of the model's inputs.
    """
    if isinstance(data, np.ndarray):
        parts = [data[:limit]]
    elif isinstance(data, dict):  # one input of named arrays
        parts = {k: np.asarray(v)[:limit] for k, v in data.items()}
    elif isinstance(data, (tuple, list)):
        parts = [np.asarray(a)[:limit] for a in data]
    else:
        batches, count, names = [], 0, None
        for inputs, *_ in data:
            if isinstance(inputs, dict):
                names = sorted(inputs)
                inputs = [inputs[k] for k in names]
            inputs = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
            batches.append([np.asarray(a) for a in inputs])
            count += len(batches[-1][0])
            if count >= limit:
                break
        parts = [
            np.concatenate(column)[:limit] for column in zip(*batches, strict=True)
        ]
        if names:
            parts = dict(zip(names, parts, strict=True))
    if isinstance(parts, dict):
        arrays = {f"x_{k}": a for k, a in parts.items()}
    else:
        arrays = {f"x{i}": a for i, a in enumerate(parts)}
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def read_held_out(path) -> list:
    """The arrays `write_held_out` kept, in the order of the model's inputs
    (a model of one dict input: a list of one dict of named arrays)."""
    with np.load(path) as archive:
        if any(name.startswith("x_") for name in archive.files):
            return [{name[2:]: archive[name] for name in archive.files}]
        return [archive[f"x{i}"] for i in range(len(archive.files))]


def history_dict(rows: list[dict]) -> dict:
    """Per-epoch rows -> {metric: [values]} (Keras History's shape)."""
    keys = [k for k in (rows[0] if rows else {}) if k not in ("epoch", "phase")]
    for row in rows:
        keys += [k for k in row if k not in keys and k not in ("epoch", "phase")]
    return {k: [row.get(k, float("nan")) for row in rows] for k in keys}


def write_history_csv(path, rows: list[dict]) -> None:
    """`history.csv` from all epochs so far (every phase), atomically."""
    keys = ["epoch", "phase"]
    for row in rows:
        keys += [k for k in row if k not in keys]
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
