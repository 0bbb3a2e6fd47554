"""Insight: plots and diagnostics of runs."""

from keras_bigmodels.insight.advisor import Recommendation, recommend_architecture
from keras_bigmodels.insight.diagnose import Diagnosis, diagnose_history
from keras_bigmodels.insight.plots import (
    confusion_matrix,
    plot_confusion_matrix,
    plot_history,
)

__all__ = [
    "Diagnosis",
    "Recommendation",
    "recommend_architecture",
    "confusion_matrix",
    "diagnose_history",
    "plot_confusion_matrix",
    "plot_history",
]
