"""The training engine, model-agnostic: the loop, run folders, resume, scale.

`loop.fit` trains any compiled Keras model on `data.EpochBatches` under a
`tf.distribute` strategy, checkpointing and resuming without replaying a
batch; `runs` writes the run folder; `run_config.RunConfig` holds the
settings every run shares. Nothing here knows a model family: the
workflows that use the engine live in `keras_bigmodels.workflows`.

Submodules load on first use, so the command line can read `run_config`
without starting TensorFlow.
"""

import importlib

__all__ = ["RunConfig", "distribute", "run_config", "set_seed"]


def __getattr__(name):
    if name == "set_seed":
        from keras_bigmodels.training.seed import set_seed

        return set_seed
    if name == "RunConfig":
        from keras_bigmodels.training.run_config import RunConfig

        return RunConfig
    if name in ("run_config", "distribute"):
        return importlib.import_module(f"keras_bigmodels.training.{name}")
    raise AttributeError(f"module 'keras_bigmodels.training' has no attribute {name!r}")
