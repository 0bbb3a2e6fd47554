"""Insight: plots and diagnostics of runs."""

from keras_bigmodels.insight.plots import (
    confusion_matrix,
    plot_confusion_matrix,
    plot_history,
)

__all__ = ["confusion_matrix", "plot_confusion_matrix", "plot_history"]
