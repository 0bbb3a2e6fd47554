"""Model builders, one per file."""

from keras_bigmodels.models.cnn import build_cnn

__all__ = ["build_cnn"]
