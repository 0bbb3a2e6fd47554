"""`RunConfig`: the settings every training run shares, and config helpers.

The engine's half of the one-config-per-workflow rule: schedule, seed,
strategy, precision, checkpoints and the run folder. Each workflow's config
(`workflows.configs`) subclasses `RunConfig` and adds its own fields; the
command line builds `train <arch>` flags from the fields (`option` carries
their help).

This module imports no TensorFlow: `--help` and flag errors stay instant.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from keras_bigmodels import _validation as V

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
RESUME_LATEST = "latest"


def option(default: Any, help: str, *, choices=None, cli: bool = True, negative=None):
    """A config field with its command-line help (and choices).

    `negative`: for a bool field, the name of a second flag that sets it False
    (`--unconditional` beside `--no-conditional`).
    """
    return dataclasses.field(
        default=default,
        metadata={"help": help, "choices": choices, "cli": cli, "negative": negative},
    )


@dataclasses.dataclass(kw_only=True)
class RunConfig:
    """What every training workflow shares: schedule, seed, engine, run folder.

    Attributes are keyword-only; subclasses redeclare `epochs`,
    `batch_size` and `learning_rate` with their own defaults.
    """

    epochs: int = option(10, "most training epochs")
    batch_size: int = option(
        32,
        "examples per step, split across replicas by --strategy (with "
        "--gradient-accumulation-steps N an update takes N steps)",
    )
    gradient_accumulation_steps: int = option(
        1,
        "update once every N batches with their mean gradient: a global batch "
        "of N x --batch-size in the memory of one --batch-size",
    )
    learning_rate: float | None = option(1e-3, "peak learning rate")
    seed: int = option(0, "seed of weights, data order and splits")
    out: str = option("runs", "parent folder of run folders")
    strategy: str = option(
        "auto",
        "tf.distribute strategy: auto picks multi_worker when TF_CONFIG names "
        "several workers, mirrored on 2+ GPUs, one_device on one GPU",
        choices=STRATEGIES,
    )
    cluster_timeout: float = option(
        300.0, "seconds a multi-worker process waits for its peers to start"
    )
    precision: str = option(
        "float32",
        "dtype policy of layers (mixed_* keep float32 weights)",
        choices=PRECISIONS,
    )
    jit: bool | None = option(
        None, "XLA-compile the training step (default: only when a GPU is used)"
    )
    clip_norm: float | None = option(
        None, "clip the global gradient norm to this value (default: no clipping)"
    )
    checkpoint_every: int = option(
        100, "steps between full-state checkpoints (also at every epoch end)"
    )
    deterministic: bool = option(
        False, "deterministic TensorFlow ops: bit-identical reruns and resumes"
    )
    resume: str | None = option(
        None,
        "continue RUN, or with no RUN the latest unfinished run of this "
        "architecture under --out (a new run if there is none)",
    )
    verbose: int | str = option("auto", "Keras progress output", cli=False)

    # --- checks ----------------------------------------------------------

    def check(self) -> RunConfig:
        """Validate every field; fill derived defaults. Returns `self`."""
        V.check_positive_int("epochs", self.epochs)
        V.check_positive_int("batch_size", self.batch_size)
        V.check_positive_int(
            "gradient_accumulation_steps", self.gradient_accumulation_steps
        )
        V.check_positive("learning_rate", self.learning_rate, allow_none=True)
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int)
            or self.seed < 0
        ):
            raise ValueError(
                f"`seed` must be an integer >= 0. Received: seed={self.seed!r}"
            )
        V.check_choice("strategy", self.strategy, STRATEGIES)
        V.check_positive("cluster_timeout", self.cluster_timeout)
        V.check_choice("precision", self.precision, PRECISIONS)
        if self.jit not in (None, True, False):
            raise ValueError(
                f"`jit` must be True, False or None. Received: jit={self.jit!r}"
            )
        V.check_positive("clip_norm", self.clip_norm, allow_none=True)
        V.check_positive_int("checkpoint_every", self.checkpoint_every)
        if self.resume is not None and not isinstance(self.resume, str):
            raise ValueError(
                "`resume` must be None, 'latest' or a run folder. "
                f"Received: resume={self.resume!r}"
            )
        return self

    def batch_sizes(self) -> dict:
        """Micro-batch, accumulation steps and global batch, for the manifest."""
        steps = self.gradient_accumulation_steps
        return {
            "micro_batch_size": self.batch_size,
            "gradient_accumulation_steps": steps,
            "global_batch_size": self.batch_size * steps,
        }

    def settings(self) -> dict:
        """The config as a plain dict, for the manifest (minus `resume`)."""
        d = dataclasses.asdict(self)
        d.pop("resume")
        d.pop("verbose")
        return d


# --- helpers -----------------------------------------------------------------


def make_config(cls: type[RunConfig], cfg: RunConfig | None = None, **overrides):
    """`cls()` (or a copy of `cfg`) with `overrides`, checked.

    Unknown names raise a `ValueError` that lists what the workflow takes.
    """
    base = cfg if cfg is not None else cls()
    if not isinstance(base, cls):
        raise ValueError(
            f"`cfg` must be a {cls.__name__}. Received: cfg={type(base).__name__}"
        )
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(
            f"{cls.__name__} has no setting {', '.join(map(repr, unknown))}; "
            f"it takes: {', '.join(sorted(names))}"
        )
    return dataclasses.replace(base, **overrides).check()


def field_type(cls: type, f: dataclasses.Field) -> tuple[type, bool]:
    """`(base_type, optional)` of a config field: `int | None` -> `(int, True)`."""
    hint = typing.get_type_hints(cls)[f.name]
    args = typing.get_args(hint)
    optional = type(None) in args
    base = [a for a in args if a is not type(None)] or [hint]
    return (base[0] if len(base) == 1 else str), optional
