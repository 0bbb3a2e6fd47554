"""PNG plots for run folders: learning curves and confusion matrices."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np

from keras_bigmodels._paths import readable_name
from keras_bigmodels.insight.fonts import text_fonts


def plot_history(history: dict, path) -> str:
    """Plot each metric's training and validation curves, one panel per metric.

    Each epoch is marked with a dot (up to 50 epochs), so a run of one or
    two epochs still shows its values.

    Args:
        history: dict. `keras.callbacks.History.history`: metric -> values.
        path: str or path. The PNG file to write.

    Returns:
        The path written.
    """
    fig = history_figure(history)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.fspath(path)


def history_figure(history: dict):
    """The figure `plot_history` writes (a `matplotlib.figure.Figure`)."""
    metrics = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(
        1, max(1, len(metrics)), figsize=(5 * max(1, len(metrics)), 4), squeeze=False
    )
    for ax, name in zip(axes[0], metrics, strict=False):
        epochs = np.arange(1, len(history[name]) + 1)
        marker = "o" if len(epochs) <= 50 else None
        ax.plot(epochs, history[name], label="training", marker=marker, markersize=4)
        if f"val_{name}" in history:
            ax.plot(
                epochs,
                history[f"val_{name}"],
                label="validation",
                marker=marker,
                markersize=4,
            )
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs if len(epochs) <= 10 else ax.get_xticks())
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: list, path, title: str = "Confusion matrix"
) -> str:
    """Plot a confusion matrix (rows: true class, columns: predicted) with counts.

    Returns:
        The path written.
    """
    matrix = np.asarray(matrix)
    k = len(class_names)
    class_names = [readable_name(c) for c in class_names]
    # Class names in any script (猫, 狗) are drawn, not shown as boxes.
    with text_fonts([*class_names, title]):
        _draw_confusion_matrix(
            matrix, class_names=class_names, path=path, title=title, k=k
        )
    return os.fspath(path)


def _draw_confusion_matrix(matrix, *, class_names, path, title, k) -> None:
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


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts of (true, predicted) pairs as a (num_classes, num_classes) int array."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def to_uint8(images, value_range=(0.0, 255.0)) -> np.ndarray:
    """Map `value_range` = (low, high) linearly onto 0..255; clipped, as uint8."""
    low, high = value_range
    scaled = (np.asarray(images, "float64") - low) * (255.0 / (high - low))
    return np.round(np.clip(scaled, 0, 255)).astype(np.uint8)


def image_grid(images, value_range=(0.0, 255.0), ncols: int | None = None, pad=1):
    """Tile a batch of images into one uint8 image with `pad` pixels between.

    Args:
        images: array (N, H, W, C) with C 1 or 3 (or (N, H, W)).
        value_range: (low, high) of the input values, mapped onto 0..255:
            (-1, 1) for a GAN generator's tanh output, (0, 1) for an
            autoencoder's, (0, 255) for uint8 batches.
        ncols: int or None. Columns (default: a near-square grid).
        pad: int. Pixels of mid-grey between cells.

    Returns:
        uint8 array (rows·(H+pad)−pad, ncols·(W+pad)−pad, C).
    """
    images = np.asarray(images, "float64")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or not len(images):
        raise ValueError(
            "`images` must be a non-empty (N, H, W, 1|3) array. "
            f"Received: shape {images.shape}"
        )
    images = to_uint8(images, value_range)
    n, h, w, c = images.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad, c), 128, np.uint8)
    for i, img in enumerate(images):
        top, left = (i // ncols) * (h + pad), (i % ncols) * (w + pad)
        grid[top : top + h, left : left + w] = img
    return grid


def save_image_grid(images, path, value_range=(0.0, 255.0), ncols=None, min_cell=48):
    """Write `image_grid(images, ...)` as a PNG, upscaled (nearest) so that
    each cell is at least `min_cell` pixels high: 8x8 digits stay visible.

    Returns:
        The path written.
    """
    from PIL import Image

    h = np.asarray(images).shape[1]
    scale = max(1, int(np.ceil(min_cell / h)))
    grid = image_grid(images, value_range, ncols, pad=1)
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    mode_img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    mode_img.save(path, format="PNG")
    return os.fspath(path)


def _wrapped(text: str, width: int = 16) -> str:
    """`text` in lines of at most `width` columns (a CJK character is two)."""
    import unicodedata

    lines, line, used = [], "", 0
    for char in text:
        cost = 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used + cost > width and line:
            lines.append(line)
            line, used = "", 0
        line += char
        used += cost
    return "\n".join([*lines, line])


def plot_highest_loss(examples, class_names, path, ncols: int = 4) -> str:
    """A grid of the held-out images the model got most wrong, with their labels.

    Long class names are wrapped onto more lines, and the figure grows to
    hold them, so no title is cut off.

    Args:
        examples: list of dicts with `image` (H, W, C uint8), `true`, `pred`
            (class ids) and `probability` (of the predicted class), highest
            loss first.
        class_names: list of str.
        path: the PNG file to write.

    Returns:
        The path written.
    """
    class_names = [readable_name(c) for c in class_names]
    labels = [class_names[e["true"]] for e in examples] + [
        class_names[e["pred"]] for e in examples
    ]
    with text_fonts([*labels, "true", "predicted"]):
        fig = highest_loss_figure(examples, class_names, ncols)
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return os.fspath(path)


def highest_loss_figure(examples, class_names, ncols: int = 4):
    """The figure `plot_highest_loss` writes (a `matplotlib.figure.Figure`)."""
    n = max(1, len(examples))
    rows = int(np.ceil(n / ncols))
    titles = [
        f"true {_wrapped(class_names[e['true']])}\n"
        f"predicted {_wrapped(class_names[e['pred']])} "
        f"({100 * e['probability']:.0f}%)"
        for e in examples
    ]
    lines = max([t.count("\n") + 1 for t in titles] + [2])
    fig, axes = plt.subplots(
        rows,
        ncols,
        figsize=(2.4 * ncols, (1.9 + 0.16 * lines) * rows),
        squeeze=False,
        layout="constrained",  # room for every title, however many lines
    )
    for ax in axes.ravel():
        ax.axis("off")
    for ax, e, title in zip(axes.ravel(), examples, titles, strict=False):
        img = np.asarray(e["image"])
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img[..., :3], cmap="gray")
        ax.set_title(
            title,
            fontsize=8,
            color="black" if e["true"] == e["pred"] else "crimson",
        )
    return fig
