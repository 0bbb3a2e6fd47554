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
import warnings

import numpy as np

from keras_bigmodels import _validation as V

MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none", "?", "-")
DELIMITERS = (",", ";", "\t", "|")
# A column is numeric when numbers dominate it: at most this share of its
# present cells (or one cell) is not a number, or its other cells hold at
# most STRAY_VALUES distinct texts (a typo, "unknown" written for missing)
# and numbers outnumber them two to one. A typo does not turn a column of
# numbers into categories.
STRAY_SHARE = 0.1
STRAY_VALUES = 3

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
    `y` int64 class ids, and the names of both.

    `column_kinds` maps each feature column to `"numeric"` or
    `"categorical"`; `stray_cells` lists the cells of numeric columns that
    were not numbers (`{"line", "column", "value"}`), read as missing.
    """

    x: np.ndarray
    y: np.ndarray
    feature_names: list
    class_names: list
    dropped_rows: list  # 1-based line numbers of rows with no target
    column_kinds: dict = dataclasses.field(default_factory=dict)
    stray_cells: list = dataclasses.field(default_factory=list)
    delimiter: str = ","


def _is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING_TOKENS


def _number(value: str, decimal_comma: bool = False):
    if decimal_comma and value.count(",") == 1 and "." not in value:
        # 1,5: a decimal comma, as spreadsheets write numbers in files whose
        # cells are separated by semicolons.
        value = value.replace(",", ".")
    try:
        v = float(value)
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text among `,` `;` tab `|`: the one that splits
    the header into the most cells and every one of the next lines into as
    many (`,` when none does)."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    best, best_cells = ",", 1
    for d in DELIMITERS:
        counts = {len(r) for r in csv.reader(lines, delimiter=d)}
        if len(counts) == 1 and (cells := counts.pop()) > best_cells:
            best, best_cells = d, cells
    return best


def _rows(text: str, delimiter: str) -> list[tuple[int, list]]:
    """`(line number, cells)` of each non-blank row, header first."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    for row in reader:
        if any(c.strip() for c in row):
            rows.append((reader.line_num, row))
    return rows


def _numeric_column(name, *, cells, lines, path, stray: list, decimal_comma=False):
    """The column's floats if it is numeric (its stray text cells go to
    `stray` and become NaN), else None."""
    present = [c for c in cells if not _is_missing(c)]
    bad = [
        (n, c)
        for n, c in zip(lines, cells, strict=True)
        if not _is_missing(c) and _number(c, decimal_comma) is None
    ]
    numbers = len(present) - len(bad)
    few = len(bad) <= max(1, int(STRAY_SHARE * len(present)))
    same = len({c.strip() for _, c in bad}) <= STRAY_VALUES and numbers >= 2 * len(bad)
    if numbers == 0 or not (few or same):
        return None
    stray.extend({"line": n, "column": name, "value": c.strip()} for n, c in bad)
    if bad:
        shown = ", ".join(f"{path}:{n} {c.strip()!r}" for n, c in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        warnings.warn(
            f"column {name!r} is numeric but {len(bad)} cell(s) are not numbers "
            f"({shown}{more}); they are treated as missing",
            stacklevel=3,
        )
    numbers = [None if _is_missing(c) else _number(c, decimal_comma) for c in cells]
    return [np.nan if v is None else v for v in numbers]


def _check_classes(path, target, labels) -> None:
    """A classifier needs classes: refuse a target that is a measurement."""
    distinct = set(labels)
    numbers = [_number(v) for v in distinct]
    fractional = all(v is not None for v in numbers) and any(
        v != int(v) for v in numbers
    )
    if len(distinct) > max(2, len(labels) // 2) or (fractional and len(distinct) > 20):
        raise ValueError(
            f"`target` column {target!r} of {path} has {len(distinct)} distinct "
            f"values in {len(labels)} rows: `train mlp` is a classifier (one class "
            "per value), not a regression; choose a column of classes. "
            f"Received: target={target!r}"
        )


def load_csv(
    path, target: str, *, categorical=None, encoding=None, delimiter=None
) -> Table:
    """A CSV file with a header row -> features, class labels and their names.

    Numeric columns become one feature each; columns with other text (or
    named in `categorical`) become one 0/1 feature per value. A column that
    is numeric apart from a few cells stays numeric (at most 10% of its
    values are not numbers, or they are at most 3 distinct texts, such as
    "unknown", outnumbered two to one): those cells are named in a warning
    (file:line, column, value) and read as missing. Empty cells and NA,
    N/A, nan, null, none, ?, - are missing: NaN in `x` (for a categorical
    column, NaN in each of its features). Rows without a target are left
    out and reported in `dropped_rows`.

    Args:
        path: str. The CSV file (UTF-8, or GB18030; see `encoding`).
        target: str. The column holding the class.
        categorical: list of str or None. Columns to one-hot even if their
            values look numeric.
        encoding: str or None. As in `data.read_text_file`.
        delimiter: str or None. The cell separator; None: recognised among
            comma, semicolon, tab and `|` (`sniff_delimiter`).

    Returns:
        A `Table`.
    """
    from keras_bigmodels.data.text import read_text_file

    where = os.fspath(path)
    text = read_text_file(path, encoding)
    if delimiter is not None and len(delimiter) != 1:
        raise ValueError(
            f"`delimiter` must be one character. Received: delimiter={delimiter!r}"
        )
    delimiter = delimiter or sniff_delimiter(text)
    rows = _rows(text, delimiter)
    if len(rows) < 2:
        raise ValueError(f"{where!r} has no data rows under its header")
    header = [h.strip() for h in rows[0][1]]
    if target not in header:
        raise ValueError(
            f"`target` must be a column of {where!r} {header}. "
            f"Received: target={target!r}"
        )
    for n, r in rows[1:]:
        if len(r) != len(header):
            raise ValueError(
                f"{where}:{n}: {len(r)} cells, the header has {len(header)}"
            )
    t = header.index(target)
    dropped = [n for n, r in rows[1:] if _is_missing(r[t])]
    kept = [(n, r) for n, r in rows[1:] if not _is_missing(r[t])]
    if not kept:
        raise ValueError(f"No row of {where!r} has a `target` value")
    lines = [n for n, _ in kept]
    labels = [r[t].strip() for _, r in kept]
    _check_classes(where, target, labels)
    categorical = set(categorical or ())
    columns, names, kinds, stray = [], [], {}, []
    for j, name in enumerate(header):
        if j == t:
            continue
        cells = [r[j] for _, r in kept]
        numeric = None
        if name not in categorical:
            numeric = _numeric_column(
                name,
                cells=cells,
                lines=lines,
                path=where,
                stray=stray,
                decimal_comma=delimiter != ",",
            )
        if numeric is not None:
            columns.append(numeric)
            names.append(name)
            kinds[name] = "numeric"
            continue
        kinds[name] = "categorical"
        present = [c for c in cells if not _is_missing(c)]
        for v in sorted({c.strip() for c in present}):
            columns.append(
                [np.nan if _is_missing(c) else float(c.strip() == v) for c in cells]
            )
            names.append(f"{name}={v}")
    classes = sorted(
        set(labels), key=lambda c: (_number(c) is None, _number(c) or 0, c)
    )
    lookup = {c: i for i, c in enumerate(classes)}
    x = np.array(columns, dtype="float32").T.reshape(len(kept), len(names))
    return Table(
        x,
        np.array([lookup[c] for c in labels], "int64"),
        names,
        classes,
        dropped,
        column_kinds=kinds,
        stray_cells=stray,
        delimiter=delimiter,
    )


def remove_at_random(x, fraction: float, seed: int = 0) -> np.ndarray:
    """A copy of `x` with `fraction` of its values set to NaN, at random (seeded)."""
    V.check_fraction("fraction", fraction, allow_none=False)
    x = np.array(x, dtype="float32")
    rng = np.random.default_rng(seed)
    x[rng.random(x.shape) < fraction] = np.nan
    return x
