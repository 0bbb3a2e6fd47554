"""Article §4 end to end: train, evaluate and use an image classifier.

`train_image_classifier` is what `keras-bigmodels train cnn` runs: data in
(bundled digits or a folder), the article's CNN with the FAQ's remedies, a
seeded and checkpointed `fit`, and a run folder with the model, metrics,
history, manifest and plots.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from keras_bigmodels import _validation as V
from keras_bigmodels.data.images import (
    CHANNELS,
    image_folder,
    list_image_files,
    load_image,
    stratified_split,
)
from keras_bigmodels.data.placement import prefetch_to_accelerator
from keras_bigmodels.data.screening import BadFile, BadImageError
from keras_bigmodels.datasets.digits import CLASS_NAMES as DIGIT_CLASSES
from keras_bigmodels.datasets.digits import load_digits
from keras_bigmodels.insight import plots
from keras_bigmodels.models.cnn import build_cnn
from keras_bigmodels.training import runs
from keras_bigmodels.training.distribute import describe_devices, get_strategy
from keras_bigmodels.training.seed import set_seed

DIGITS = "digits"
DIGITS_IMAGE_SIZE = (32, 32)
FOLDER_IMAGE_SIZE = (224, 224)
# Above this many decoded bytes the training images are streamed from disk
# every epoch instead of cached in memory.
AUTO_CACHE_LIMIT = 2 * 1024**3


@dataclasses.dataclass
class TrainConfig:
    """Settings of one image-classifier run; every field is a CLI flag."""

    data: str = DIGITS
    image_size: tuple | None = None  # None: 32x32 for digits, 224x224 for folders
    color_mode: str | None = None  # None: grayscale for digits, rgb for folders
    labels: str = "inferred"
    epochs: int = 30
    batch_size: int = 32
    validation_split: float = 0.2
    test_split: float = 0.1  # folders only; digits has its fixed test split
    seed: int = 0
    learning_rate: float = 1e-3
    dropout: float = 0.3
    l2: float = 0.0
    batch_norm: bool = False
    augment: bool = True
    patience: int = 10
    cache: str = "auto"
    strategy: str = "auto"
    out: str = "runs"
    verbose: int | str = "auto"

    def check(self) -> None:
        V.check_positive_int("epochs", self.epochs)
        V.check_positive_int("batch_size", self.batch_size)
        V.check_fraction("validation_split", self.validation_split, allow_none=False)
        V.check_fraction("test_split", self.test_split, allow_none=False)
        V.check_fraction("dropout", self.dropout, allow_none=False)
        V.check_non_negative("l2", self.l2)
        V.check_non_negative("learning_rate", self.learning_rate)
        V.check_positive_int("patience", self.patience)
        if self.color_mode is None:
            self.color_mode = "grayscale" if self.data == DIGITS else "rgb"
        V.check_choice("color_mode", self.color_mode, tuple(CHANNELS))
        if self.validation_split <= 0:
            raise ValueError(
                "`validation_split` must be > 0: the best epoch is chosen "
                f"on it. Received: validation_split={self.validation_split}"
            )
        if self.image_size is not None:
            self.image_size = V.check_size("image_size", self.image_size)


def _array_dataset(x, y, batch_size, shuffle, seed):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return prefetch_to_accelerator(ds.batch(batch_size))


def _digits_data(cfg: TrainConfig):
    size = cfg.image_size or DIGITS_IMAGE_SIZE
    (x, y), (x_test, y_test) = load_digits(size)
    if cfg.color_mode != "grayscale":
        reps = CHANNELS[cfg.color_mode]
        x, x_test = np.repeat(x, reps, -1), np.repeat(x_test, reps, -1)
        if reps == 4:
            x[..., 3] = x_test[..., 3] = 255
    train_idx, val_idx = stratified_split(
        y, len(y), (1 - cfg.validation_split, cfg.validation_split), cfg.seed
    )
    splits = {
        "train": _array_dataset(
            x[train_idx], y[train_idx], cfg.batch_size, True, cfg.seed
        ),
        "validation": _array_dataset(
            x[val_idx], y[val_idx], cfg.batch_size, False, None
        ),
        "test": _array_dataset(x_test, y_test, cfg.batch_size, False, None),
    }
    counts = {"train": len(train_idx), "validation": len(val_idx), "test": len(y_test)}
    info = {
        "source": DIGITS,
        "image_size": list(size),
        "color_mode": cfg.color_mode,
        "labels": "inferred",
        "counts": counts,
        "bad_files": [],
    }
    return splits, list(DIGIT_CLASSES), info


def _resolve_cache(cfg: TrainConfig, size) -> str | None:
    if cfg.cache == "none":
        return None
    if cfg.cache != "auto":
        return cfg.cache
    # Counting files is cheap; screening them happens once, in image_folder.
    n_files = len(list_image_files(cfg.data))
    decoded = n_files * size[0] * size[1] * CHANNELS[cfg.color_mode]
    return "memory" if decoded <= AUTO_CACHE_LIMIT else None


def _folder_data(cfg: TrainConfig):
    size = cfg.image_size or FOLDER_IMAGE_SIZE
    labels = cfg.labels
    kwargs = dict(
        image_size=size,
        batch_size=cfg.batch_size,
        labels=labels,
        color_mode=cfg.color_mode,
        seed=cfg.seed,
        validation_split=cfg.validation_split,
        cache=_resolve_cache(cfg, size),
    )
    if cfg.test_split > 0:
        train, val, test = image_folder(
            cfg.data, subset="all", test_split=cfg.test_split, **kwargs
        )
    else:
        train, val = image_folder(cfg.data, subset="both", **kwargs)
        test = None
    n = len(train.file_paths)
    splits = {"train": train, "validation": val}
    counts = {"train": n, "validation": len(val.file_paths)}
    if test is not None:
        splits["test"] = test
        counts["test"] = len(test.file_paths)
    info = {
        "source": os.path.abspath(cfg.data),
        "image_size": list(size),
        "color_mode": cfg.color_mode,
        "labels": labels,
        "counts": counts,
        "bad_files": [str(b) for b in train.bad_files],
    }
    return splits, list(train.class_names), info


def _predict_labels(model, ds) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = [], []
    for x, y in ds:
        y_true.append(np.asarray(y))
        y_pred.append(np.argmax(model(x, training=False), axis=-1))
    return np.concatenate(y_true), np.concatenate(y_pred)


def train_image_classifier(cfg: TrainConfig | None = None, **overrides) -> dict:
    """Train the article's CNN on digits or an image folder; write a run folder.

    Article §4 (模型构建 / 训练 / 评估) and §6.3 (overfitting remedies). The
    best epoch (lowest validation loss) is kept and checkpointed as it is
    reached, so an interrupted run still leaves a usable `model.keras`.

    Args:
        cfg: TrainConfig. Or pass its fields as keyword arguments.

    Returns:
        dict with `run_dir`, `metrics` (per split) and `class_names`.

    Example:

    >>> result = train_image_classifier(data="digits", epochs=2)  # doctest: +SKIP
    >>> result["metrics"]["test"]["accuracy"]  # doctest: +SKIP
    """
    cfg = dataclasses.replace(cfg or TrainConfig(), **overrides)
    cfg.check()
    set_seed(cfg.seed)
    if cfg.data == DIGITS:
        splits, class_names, data_info = _digits_data(cfg)
    else:
        splits, class_names, data_info = _folder_data(cfg)
    h, w = data_info["image_size"]
    input_shape = (h, w, CHANNELS[cfg.color_mode])

    strategy = get_strategy(cfg.strategy)
    with strategy.scope():
        model = build_cnn(
            input_shape,
            len(class_names),
            rescale=1 / 255,
            dropout=cfg.dropout,
            l2=cfg.l2,
            batch_norm=cfg.batch_norm,
            augmentation="light" if cfg.augment else None,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(cfg.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )

    run = runs.Run(
        cfg.out,
        "cnn",
        {
            "task": "image_classification",
            "architecture": "cnn",
            "arguments": dataclasses.asdict(cfg),
            "seed": cfg.seed,
            "data": data_info,
            "devices": describe_devices(strategy),
        },
    )
    runs.write_json(run.path(runs.CLASS_NAMES_FILE), class_names)
    history = run.fit(
        model,
        splits["train"],
        splits["validation"],
        cfg.epochs,
        cfg.patience,
        cfg.verbose,
    )
    metrics = {
        name: model.evaluate(ds, verbose=0, return_dict=True)
        for name, ds in splits.items()
    }
    eval_split = "test" if "test" in splits else "validation"
    y_true, y_pred = _predict_labels(model, splits[eval_split])
    matrix = plots.confusion_matrix(y_true, y_pred, len(class_names))
    plots.plot_confusion_matrix(
        matrix,
        class_names,
        run.path("confusion_matrix.png"),
        title=f"Confusion matrix ({eval_split})",
    )
    result = run.finish(
        model,
        history,
        {**metrics, "confusion_matrix": {"split": eval_split, "matrix": matrix}},
    )
    result["metrics"] = metrics
    result["class_names"] = class_names
    return result


def evaluate_image_classifier(run_dir, data, batch_size: int = 64) -> dict:
    """Evaluate a run's model on a folder of labelled images or on `"digits"`.

    The folder is read with the run's image size, color mode, labelling and
    class list; images of classes the model does not know are skipped and
    reported.

    Returns:
        dict with `loss`, `accuracy`, `count`, `class_names`, `confusion_matrix`
        and `bad_files`.
    """
    model, manifest, class_names = runs.load_run(run_dir)
    data_info = manifest["data"]
    size, color_mode = tuple(data_info["image_size"]), data_info["color_mode"]
    if data == DIGITS:
        _, (x, y) = load_digits(size)
        if color_mode != "grayscale":
            x = np.repeat(x, CHANNELS[color_mode], -1)
        ds = _array_dataset(x, y, batch_size, False, None)
        bad: list[BadFile] = []
    else:
        ds = image_folder(
            data,
            image_size=size,
            batch_size=batch_size,
            labels=data_info.get("labels", "inferred"),
            class_names=class_names,
            color_mode=color_mode,
            shuffle=False,
            verbose=False,
        )
        bad = ds.bad_files
    y_true, y_pred = _predict_labels(model, ds)
    result = model.evaluate(ds, verbose=0, return_dict=True)
    result.update(
        count=len(y_true),
        class_names=class_names,
        confusion_matrix=plots.confusion_matrix(
            y_true, y_pred, len(class_names)
        ).tolist(),
        bad_files=[str(b) for b in bad],
    )
    return result


def predict_images(run_dir, paths, top_k: int = 3) -> tuple[list, list]:
    """Top-k classes with probabilities for each image file.

    Returns:
        `(predictions, bad_files)`: one dict per usable image (`path`,
        `top_k`: list of `{"label", "probability"}`), and `BadFile`s for
        files that could not be read.
    """
    V.check_positive_int("top_k", top_k)
    model, manifest, class_names = runs.load_run(run_dir)
    size = tuple(manifest["data"]["image_size"])
    color_mode = manifest["data"]["color_mode"]
    images, good, bad = [], [], []
    for path in paths:
        try:
            images.append(load_image(path, size, color_mode))
            good.append(os.fspath(path))
        except (BadImageError, FileNotFoundError) as e:
            bad.append(BadFile(os.fspath(path), str(e)))
    if not images:
        return [], bad
    probs = model.predict(np.stack(images), verbose=0)
    k = min(top_k, len(class_names))
    out = []
    for path, p in zip(good, probs, strict=True):
        order = np.argsort(-p)[:k]
        out.append(
            {
                "path": path,
                "top_k": [
                    {"label": class_names[i], "probability": float(p[i])} for i in order
                ],
            }
        )
    return out, bad
