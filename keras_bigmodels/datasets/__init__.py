"""Bundled real data that needs no download."""

from keras_bigmodels.datasets.digits import export_digits, load_digits

__all__ = ["export_digits", "load_digits"]
