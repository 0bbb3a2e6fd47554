"""Insight: plots, diagnostics, the FAQ's advice and Grad-CAM.

Grad-CAM needs TensorFlow; it loads on first use (PEP 562), so the advice
and the plots stay light to import.
"""

import importlib

from keras_bigmodels.insight.advisor import Recommendation, recommend_architecture
from keras_bigmodels.insight.diagnose import Diagnosis, diagnose_history
from keras_bigmodels.insight.fonts import MissingFontWarning, text_fonts, use_fonts_for
from keras_bigmodels.insight.plots import (
    confusion_matrix,
    plot_confusion_matrix,
    plot_history,
)

_LAZY = {
    "grad_cam": "gradcam",
    "save_overlay": "gradcam",
    "attention_weights": "attention",
    "plot_attention": "attention",
}

__all__ = [
    "Diagnosis",
    "MissingFontWarning",
    "Recommendation",
    "attention_weights",
    "confusion_matrix",
    "diagnose_history",
    "grad_cam",
    "plot_attention",
    "plot_confusion_matrix",
    "plot_history",
    "recommend_architecture",
    "save_overlay",
    "text_fonts",
    "use_fonts_for",
]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"keras_bigmodels.insight.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'keras_bigmodels.insight' has no attribute {name!r}")
