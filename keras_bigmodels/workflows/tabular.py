"""FAQ 6.2 on a real table: each way of handling missing values, side by side.

What `keras-bigmodels train mlp` runs. The bundled Wisconsin breast-cancer
table (from scikit-learn) with a fraction of its values removed at random,
or a CSV file of yours, is split into training, validation and test rows
(stratified, seeded). Every strategy's statistics come from the training
rows only. The model of `impute` is trained by the package's loop and
saved with its imputer inside; with `compare`, every other strategy is
trained the same way and all held-out accuracies are printed together.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np

from keras_bigmodels.data.arrays import array_batches
from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.data.splits import stratified_split
from keras_bigmodels.data.tabular import drop_missing_rows, load_csv
from keras_bigmodels.datasets.tables import load_breast_cancer_table
from keras_bigmodels.layers.missing_values import MissingValueImputer
from keras_bigmodels.models.mlp import build_mlp
from keras_bigmodels.training import loop, runs
from keras_bigmodels.training.precision import resolve_jit
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows._common import run_optimizer
from keras_bigmodels.workflows.configs import (
    MISSING_STRATEGIES,
    MLPConfig,
    make_config,
)

MIN_COMPLETE_ROWS = 10


@dataclasses.dataclass
class MLPResult(runs.TrainResult):
    """`train_mlp`'s result: the held-out accuracy of each missing-data strategy.

    Attributes:
        accuracy: float. Held-out accuracy of the saved model (`impute`).
        strategies: dict strategy -> {"accuracy", "train_rows", "test_rows"}.
        class_names: list of str.
    """

    accuracy: float = float("nan")
    strategies: dict = dataclasses.field(default_factory=dict)
    class_names: list = dataclasses.field(default_factory=list)


def _model(x_train, *, cfg, num_classes: int, impute: str):
    """An MLP whose imputer and normalization are adapted on `x_train` only."""
    imputer = None
    if impute != "drop":
        imputer = MissingValueImputer(impute)
        imputer.adapt(x_train)
        x_train = np.asarray(imputer(x_train))
    normalization = keras.layers.Normalization(name="normalize")
    normalization.adapt(x_train)
    model = build_mlp(
        x_train.shape[1],
        num_classes,
        hidden=(cfg.hidden, max(1, cfg.hidden // 2)),
        dropout=cfg.dropout,
        imputer=imputer,
        normalization=normalization,
        name=f"mlp_{impute}",
    )
    model.compile(
        optimizer=run_optimizer(cfg),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=resolve_jit(cfg.jit),
    )
    return model


def _rows(strategy_name, x, y):
    return drop_missing_rows(x, y) if strategy_name == "drop" else (x, y)


def _compare(cfg, splits, num_classes) -> dict:
    """Held-out accuracy of each other strategy, trained with Keras's own `fit`
    (the saved model's strategy is measured by the run itself)."""
    (x, y), (xv, yv), (xt, yt) = splits
    out = {}
    for name in MISSING_STRATEGIES:
        if name == cfg.impute:
            continue
        xs, ys = _rows(name, x, y)
        xvs, yvs = _rows(name, xv, yv)
        xts, yts = _rows(name, xt, yt)
        row = {"train_rows": len(xs), "test_rows": len(xts)}
        if min(len(xs), len(xts)) < MIN_COMPLETE_ROWS or len(xvs) == 0:
            out[name] = {**row, "accuracy": None}
            continue
        keras.utils.set_random_seed(cfg.seed)
        model = _model(xs, cfg=cfg, num_classes=num_classes, impute=name)
        model.fit(
            xs,
            ys,
            validation_data=(xvs, yvs),
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            verbose=0,
            callbacks=[
                keras.callbacks.EarlyStopping(
                    patience=cfg.patience, restore_best_weights=True
                )
            ],
        )
        acc = model.evaluate(xts, yts, verbose=0, return_dict=True)["accuracy"]
        out[name] = {**row, "accuracy": float(acc)}
    return out


def train_mlp(cfg: MLPConfig | None = None, **overrides) -> MLPResult:
    """Train an MLP on a table with missing values; compare FAQ 6.2's remedies.

    Article FAQ §6.2 (如何处理缺失数据). Strategies: fill with the training
    rows' mean, median or max, or a constant (0), all inside the model by
    `MissingValueImputer`; or drop incomplete rows ("drop": the model is
    then trained and tested on complete rows only, and the report says how
    few those are).

    Args:
        cfg: MLPConfig. Or pass its fields as keyword arguments.

    Returns:
        MLPResult.

    Example:

    >>> r = train_mlp(missing_fraction=0.2, epochs=50)  # doctest: +SKIP
    >>> {k: v["accuracy"] for k, v in r.strategies.items()}  # doctest: +SKIP
    """
    cfg = make_config(MLPConfig, cfg, **overrides)
    with session(cfg, "mlp") as (run, strategy):
        cfg = run.config
        if cfg.data == "breast_cancer":
            table = load_breast_cancer_table(cfg.missing_fraction, cfg.seed)
            source = "breast_cancer (scikit-learn, bundled)"
        else:
            table = load_csv(
                cfg.data, cfg.target, encoding=cfg.encoding, delimiter=cfg.delimiter
            )
            source = os.path.abspath(cfg.data)
        val_f, test_f = cfg.validation_split, cfg.test_split
        parts = stratified_split(
            table.y, (1 - val_f - test_f, val_f, test_f), seed=cfg.seed
        )
        splits = [(table.x[i], table.y[i]) for i in parts]
        (x, y), (xv, yv), (xt, yt) = (_rows(cfg.impute, *s) for s in splits)
        if min(len(x), len(xt)) < MIN_COMPLETE_ROWS or not len(xv):
            if cfg.impute == "drop":
                raise ValueError(
                    f"Only {len(x)} training and {len(xt)} test rows have no "
                    "missing value: too few for `impute`='drop'. Fill the values "
                    "instead (mean, median, max or constant)."
                )
            raise ValueError(
                f"{len(table.y)} rows split into {len(x)} training, {len(xv)} "
                f"validation and {len(xt)} test rows: too few to train and test "
                f"a classifier (at least {MIN_COMPLETE_ROWS} training and test "
                "rows each)"
            )
        num_classes = len(table.class_names)
        with strategy.scope():
            model = _model(x, cfg=cfg, num_classes=num_classes, impute=cfg.impute)
        missing = float(np.isnan(table.x).mean())
        run.start(
            task="tabular_classification",
            architecture="mlp",
            data={
                "source": source,
                "rows": len(table.y),
                "features": table.x.shape[1],
                "missing_values": round(missing, 4),
                "counts": {"train": len(x), "validation": len(xv), "test": len(xt)},
                "rows_without_target": table.dropped_rows,
                "delimiter": table.delimiter,
                "columns": table.column_kinds,
                "non_numeric_cells": table.stray_cells,
            },
        )
        run.write_json(runs.CLASS_NAMES_FILE, table.class_names)
        loop.fit(
            run,
            model,
            EpochBatches.from_arrays((x, y), cfg.batch_size, seed=cfg.seed),
            epochs=cfg.epochs,
            strategy=strategy,
            validation=array_batches((xv, yv), cfg.batch_size),
            patience=cfg.patience,
            checkpoint_every=cfg.checkpoint_every,
            verbose=cfg.verbose,
        )
        test = loop.evaluate(model, array_batches((xt, yt), cfg.batch_size), strategy)
        compared = _compare(cfg, splits, num_classes) if cfg.compare else {}
        compared[cfg.impute] = {
            "train_rows": len(x),
            "test_rows": len(xt),
            "accuracy": test["accuracy"],
        }
        # In the order of MISSING_STRATEGIES, as printed side by side.
        compared = {k: compared[k] for k in MISSING_STRATEGIES if k in compared}
        return run.finish(
            model,
            {"test": test, "strategies": compared, "impute": cfg.impute},
            MLPResult,
            held_out_inputs=xt,
            accuracy=test["accuracy"],
            strategies=compared,
            class_names=table.class_names,
        )
