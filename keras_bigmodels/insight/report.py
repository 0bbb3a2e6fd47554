"""Per-class precision and recall from a confusion matrix."""

from __future__ import annotations

import numpy as np


def per_class_report(matrix, class_names) -> list[dict]:
    """Precision, recall, F1 and support of each class.

    Args:
        matrix: (k, k) counts, rows the true class, columns the predicted one.
        class_names: list of k names.

    Returns:
        One dict per class: `class`, `precision`, `recall`, `f1`, `support`
        (a class never predicted has precision 0, as scikit-learn reports it).

    Example:

    >>> per_class_report([[3, 1], [0, 4]], ["a", "b"])[0]["recall"]
    0.75
    """
    m = np.asarray(matrix, dtype="float64")
    tp = np.diag(m)
    predicted, actual = m.sum(axis=0), m.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
    return [
        {
            "class": str(name),
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for name, p, r, f, s in zip(
            class_names, precision, recall, f1, actual, strict=True
        )
    ]
