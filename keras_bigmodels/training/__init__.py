"""Training: seeds, strategies, run folders and the end-to-end image workflow."""

from keras_bigmodels.training import distribute
from keras_bigmodels.training.seed import set_seed

__all__ = ["distribute", "set_seed"]
