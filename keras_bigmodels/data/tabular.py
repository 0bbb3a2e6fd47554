"""Tables in: a CSV loader and missing values as arrays (FAQ 6.2).

Article FAQ §6.2 (如何处理缺失数据): fill missing values with a statistic of
the training data (mean, median, max, a constant), drop incomplete rows, or
mask missing steps of a sequence. `layers.MissingValueImputer` does the
filling inside a model; the functions here do it on arrays.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os

import numpy as np

from keras_bigmodels import _validation as V

MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none", "?", "-")

STRATEGIES = ("mean", "median", "max", "constant")


def column_statistics(x, strategy: str, fill_value: float = 0.0) -> np.ndarray:
    """Per-column fill values of a 2-D float array with NaN for missing.

    `"mean"` and `"median"` are those of scikit-learn's `SimpleImputer`
    (NaN ignored), `"max"` is NumPy's `nanmax`, `"constant"` is
    `fill_value`. A column with no value at all gets `fill_value`.
    """
    V.check_choice("strategy", strategy, STRATEGIES)
    x = np.asarray(x, dtype="float64")
    if x.ndim != 2:
        raise ValueError(
            f"Expected a 2-D array (rows, features). Received: shape {x.shape}"
        )
    empty = np.isnan(x).all(axis=0)
    if strategy == "constant":
        stats = np.full(x.shape[1], fill_value, "float64")
    else:
        safe = np.where(empty[None, :], 0.0, x)  # all-NaN columns: no warning
        stats = {"mean": np.nanmean, "median": np.nanmedian, "max": np.nanmax}[
            strategy
        ](safe, axis=0)
    return np.where(empty, fill_value, stats)


def impute(x, strategy: str = "mean", fill_value: float = 0.0, statistics=None):
    """Fill NaN in a 2-D array; returns `(filled, statistics)`.

    Learn `statistics` on the training split (`impute(x_train, "median")`)
    and pass them for the other splits (`impute(x_val, statistics=stats)`),
    so held-out data never changes them.

    Example:

    >>> x = np.array([[1.0, np.nan], [3.0, 4.0]])
    >>> impute(x, "mean")[0].tolist()
    [[1.0, 4.0], [3.0, 4.0]]
    """
    x = np.asarray(x, dtype="float64")
    if statistics is None:
        statistics = column_statistics(x, strategy, fill_value)
    statistics = np.asarray(statistics, dtype="float64")
    return np.where(np.isnan(x), statistics[None, :], x), statistics


def drop_missing_rows(x, *arrays):
    """Keep only the rows of `x` (and the same rows of `arrays`) with no NaN.

    Returns:
        `x` kept, then each of `arrays` kept (a tuple when arrays are given).
    """
    x = np.asarray(x)
    keep = ~np.isnan(x.reshape(len(x), -1)).any(axis=1)
    if not arrays:
        return x[keep]
    return (x[keep], *(np.asarray(a)[keep] for a in arrays))


def mask_missing_steps(sequences, mask_value: float = 0.0):
    """Sequences (batch, steps, features) ready for `keras.layers.Masking`.

    Every step with a missing feature is set wholly to `mask_value`, so a
    `Masking(mask_value)` layer makes the recurrent layers skip it.

    Returns:
        `(sequences, mask)`: the filled float32 array and a (batch, steps)
        bool array, True for the steps that are kept.
    """
    x = np.array(sequences, dtype="float32")
    if x.ndim != 3:
        raise ValueError(
            f"`sequences` must be (batch, steps, features). Received: shape {x.shape}"
        )
    keep = ~np.isnan(x).any(axis=-1)
    x[~keep] = mask_value
    return x, keep


@dataclasses.dataclass
class Table:
    """A CSV file as arrays: `x` (rows, features) float32 with NaN for missing,
    `y` int64 class ids, and the names of both."""

    x: np.ndarray
    y: np.ndarray
    feature_names: list
    class_names: list
    dropped_rows: list  # 1-based line numbers of rows with no target


def _is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING_TOKENS


def _number(value: str):
    try:
        v = float(value)
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def load_csv(path, target: str, *, categorical=None, encoding=None) -> Table:
    """A CSV file with a header row -> features, class labels and their names.

    Numeric columns become one feature each; columns with other text (or
    named in `categorical`) become one 0/1 feature per value. Empty cells
    and NA, N/A, nan, null, none, ?, - are missing: NaN in `x` (for a
    categorical column, NaN in each of its features). Rows without a
    target are left out and reported in `dropped_rows`.

    Args:
        path: str. The CSV file (UTF-8, or GB18030; see `encoding`).
        target: str. The column holding the class.
        categorical: list of str or None. Columns to one-hot even if their
            values look numeric.
        encoding: str or None. As in `data.read_text_file`.

    Returns:
        A `Table`.
    """
    from keras_bigmodels.data.text import read_text_file

    text = read_text_file(path, encoding)
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2:
        raise ValueError(f"{os.fspath(path)!r} has no data rows under its header")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise ValueError(
            f"`target` must be a column of {os.fspath(path)!r} {header}. "
            f"Received: target={target!r}"
        )
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    for n, r in enumerate(body, 2):
        if len(r) != len(header):
            raise ValueError(
                f"{os.fspath(path)}:{n}: {len(r)} cells, the header has {len(header)}"
            )
    t = header.index(target)
    dropped = [n for n, r in enumerate(body, 2) if _is_missing(r[t])]
    body = [r for r in body if not _is_missing(r[t])]
    if not body:
        raise ValueError(f"No row of {os.fspath(path)!r} has a `target` value")
    categorical = set(categorical or ())
    columns, names = [], []
    for j, name in enumerate(header):
        if j == t:
            continue
        cells = [r[j] for r in body]
        present = [c for c in cells if not _is_missing(c)]
        numeric = name not in categorical and all(
            _number(c) is not None for c in present
        )
        if numeric:
            columns.append([np.nan if _is_missing(c) else _number(c) for c in cells])
            names.append(name)
            continue
        values = sorted({c.strip() for c in present})
        for v in values:
            columns.append(
                [np.nan if _is_missing(c) else float(c.strip() == v) for c in cells]
            )
            names.append(f"{name}={v}")
    labels = [r[t].strip() for r in body]
    classes = sorted(
        set(labels), key=lambda c: (_number(c) is None, _number(c) or 0, c)
    )
    lookup = {c: i for i, c in enumerate(classes)}
    x = np.array(columns, dtype="float32").T.reshape(len(body), len(names))
    return Table(
        x, np.array([lookup[c] for c in labels], "int64"), names, classes, dropped
    )


def remove_at_random(x, fraction: float, seed: int = 0) -> np.ndarray:
    """A copy of `x` with `fraction` of its values set to NaN, at random (seeded)."""
    V.check_fraction("fraction", fraction, allow_none=False)
    x = np.array(x, dtype="float32")
    rng = np.random.default_rng(seed)
    x[rng.random(x.shape) < fraction] = np.nan
    return x
