"""PNG plots for run folders: learning curves and confusion matrices."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np


def plot_history(history: dict, path) -> str:
    """Plot each metric's training and validation curves, one panel per metric.

    Args:
        history: dict. `keras.callbacks.History.history`: metric -> values.
        path: str or path. The PNG file to write.

    Returns:
        The path written.
    """
    metrics = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(
        1, max(1, len(metrics)), figsize=(5 * max(1, len(metrics)), 4), squeeze=False
    )
    for ax, name in zip(axes[0], metrics, strict=False):
        epochs = np.arange(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], label="training")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.fspath(path)


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: list, path, title: str = "Confusion matrix"
) -> str:
    """Plot a confusion matrix (rows: true class, columns: predicted) with counts.

    Returns:
        The path written.
    """
    matrix = np.asarray(matrix)
    k = len(class_names)
    size = min(max(4.0, 0.5 * k + 2), 20.0)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_xticks(range(k), class_names, rotation=90 if k > 10 else 0)
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if k <= 30:
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    str(matrix[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black",
                )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.fspath(path)


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts of (true, predicted) pairs as a (num_classes, num_classes) int array."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix
