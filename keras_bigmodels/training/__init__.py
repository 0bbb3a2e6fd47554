"""Training: configs, the run loop, run folders, seeds, strategies and workflows.

Submodules load on first use, so the command line can read the workflow
configs (`training.configs`) without starting TensorFlow.
"""

import importlib

__all__ = ["configs", "distribute", "set_seed"]


def __getattr__(name):
    if name == "set_seed":
        from keras_bigmodels.training.seed import set_seed

        return set_seed
    if name in ("configs", "distribute"):
        return importlib.import_module(f"keras_bigmodels.training.{name}")
    raise AttributeError(f"module 'keras_bigmodels.training' has no attribute {name!r}")
