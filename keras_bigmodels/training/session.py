"""What every workflow does first: strategy, run folder, seed, dtype policy."""

from __future__ import annotations

import contextlib

from keras_bigmodels.training.accumulation import check_replicas
from keras_bigmodels.training.distribute import get_strategy, is_chief
from keras_bigmodels.training.precision import dtype_policy
from keras_bigmodels.training.runs import Run
from keras_bigmodels.training.seed import set_seed


@contextlib.contextmanager
def session(cfg, workflow: str, prefix: str | None = None):
    """Open a run of `workflow` with config `cfg`; yields `(run, strategy)`.

    In this order, because each step needs the one before: the strategy
    (before TensorFlow's runtime starts, which a multi-worker strategy
    requires), the run folder (new, or the one `cfg.resume` names, whose
    saved settings then replace `cfg`: use `run.config` from here on), the
    seeds and determinism, and the dtype policy for building models. The
    manifest is marked `failed` or `interrupted` if the block raises.
    """
    strategy = get_strategy(cfg.strategy, cluster_timeout=cfg.cluster_timeout)
    check_replicas(cfg.gradient_accumulation_steps, strategy)
    run = Run.open(cfg, workflow, prefix, chief=is_chief(strategy))
    if run.resumed and run.chief:
        print(
            f"Resuming {run.dir} with the settings in its manifest.json "
            "(other settings given now are not used)."
        )
    run.strategy = strategy
    set_seed(run.config.seed, run.config.deterministic)
    with run, dtype_policy(run.config.precision):
        yield run, strategy
