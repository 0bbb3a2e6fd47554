"""Full training state on disk: save it every N steps, restore it exactly.

What a resumed run needs to continue as if it had never stopped:

- every variable of the model (weights, batch-norm statistics and the state
  of its `SeedGenerator`s: dropout and augmentation draw from them),
- every optimizer variable (slots, iteration count, learning rate),
- the running metric totals of the epoch in progress,
- Python's and NumPy's global random states,
- where training stands (phase, epoch, step) and its history so far.

Layout, inside a run folder:

```
checkpoints/
  state.json            the commit point: position, history, names the file below
  state-000123.npz      all variables at that position
```

`state.json` is replaced atomically after its `.npz` is complete, so a crash
at any moment leaves the previous consistent checkpoint in place.
"""

from __future__ import annotations

import glob
import os
import pickle
import random

import numpy as np

from keras_bigmodels.training.runs import read_json, write_json

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"


def optimizers_of(model) -> list:
    """The model's optimizers: Keras's `optimizer`, and a GAN's two."""
    found = []
    for name in ("optimizer", "d_optimizer", "g_optimizer"):
        opt = getattr(model, name, None)
        if opt is not None and all(opt is not o for o in found):
            found.append(opt)
    return found


def state_variables(model) -> list:
    """Every variable a resume must restore, in a fixed order, each once."""
    seen, out = set(), []
    groups = [model.variables]
    groups += [opt.variables for opt in optimizers_of(model)]
    groups += [m.variables for m in model.metrics]
    for group in groups:
        for v in group:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out


def _rng_state() -> bytes:
    # Keras layers draw from their SeedGenerators (saved with the model's
    # variables); these are the global generators user code may use.
    return pickle.dumps({"python": random.getstate(), "numpy": np.random.get_state()})


def _set_rng_state(blob: bytes) -> None:
    s = pickle.loads(blob)  # written by this module into the run's own folder
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])


def directory(run_dir) -> str:
    return os.path.join(os.fspath(run_dir), CHECKPOINT_DIR)


def read_state(run_dir) -> dict | None:
    """The last committed position of a run, or None if it has none."""
    path = os.path.join(directory(run_dir), STATE_FILE)
    return read_json(path) if os.path.isfile(path) else None


def values_finite(arrays) -> bool:
    """Whether every floating-point array holds finite values only."""
    for a in arrays:
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            return False
    return True


def save(run_dir, model, position: dict) -> str:
    """Write the model's full state at `position`; returns the `.npz` path.

    Args:
        run_dir: str. The run folder.
        model: keras.Model. Built and compiled (its optimizers built).
        position: dict. JSON-able: phase, epoch, step, history, ...
    """
    folder = directory(run_dir)
    os.makedirs(folder, exist_ok=True)
    variables = state_variables(model)
    arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
    if not values_finite(arrays.values()):
        raise FloatingPointError(
            "refusing to checkpoint non-finite weights; the last checkpoint in "
            f"{folder!r} is kept"
        )
    arrays["rng"] = np.frombuffer(_rng_state(), np.uint8)
    count = position.get("batches_trained", 0)
    name = f"state-{count:09d}.npz"
    tmp = os.path.join(folder, f".{name}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, os.path.join(folder, name))
    write_json(
        os.path.join(folder, STATE_FILE),
        {
            **position,
            "variables_file": name,
            "num_variables": len(variables),
            "variable_paths": [getattr(v, "path", v.name) for v in variables],
        },
    )
    for old in glob.glob(os.path.join(folder, "state-*.npz")):
        if os.path.basename(old) != name:
            os.remove(old)
    return os.path.join(folder, name)


def restore(run_dir, model) -> dict | None:
    """Load the last checkpoint of `run_dir` into `model`; returns its position.

    Returns None when the run has no checkpoint yet. Raises a `ValueError`
    when the checkpoint was written by a different network.
    """
    state = read_state(run_dir)
    if state is None:
        return None
    variables = state_variables(model)
    if len(variables) != state["num_variables"]:
        raise ValueError(
            f"The checkpoint in {directory(run_dir)!r} holds "
            f"{state['num_variables']} variables; this model has {len(variables)}. "
            "It was written by a different network: resume with the run's own "
            "settings (they are in its manifest.json)."
        )
    with np.load(os.path.join(directory(run_dir), state["variables_file"])) as data:
        for i, v in enumerate(variables):
            value = data[f"v{i:05d}"]
            if tuple(value.shape) != tuple(v.shape):
                raise ValueError(
                    f"Checkpoint variable {i} ({state['variable_paths'][i]}) has "
                    f"shape {value.shape}; the model's has {tuple(v.shape)}."
                )
            v.assign(value)
        _set_rng_state(data["rng"].tobytes())
    return state
