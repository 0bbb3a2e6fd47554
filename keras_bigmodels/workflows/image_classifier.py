"""Article §4 end to end: train, evaluate and use an image classifier.

`train_image_classifier` is what `keras-bigmodels train cnn` runs: data in
(bundled digits or a folder), the article's CNN with the FAQ's remedies, a
seeded and checkpointed `fit`, and a run folder with the model, metrics,
history, manifest and plots.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np
import tensorflow as tf

from keras_bigmodels import _validation as V
from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.data.images import (
    CHANNELS,
    IMAGE_EXTENSIONS,
    example_loader,
    image_folder,
    list_image_files,
    load_image,
)
from keras_bigmodels.data.pipeline_options import parallel_calls, pipeline_options
from keras_bigmodels.data.placement import prefetch_to_accelerator
from keras_bigmodels.data.screening import BadFile, BadImageError
from keras_bigmodels.data.splits import stratified_split
from keras_bigmodels.datasets.digits import CLASS_NAMES as DIGIT_CLASSES
from keras_bigmodels.datasets.digits import load_digits
from keras_bigmodels.insight import plots
from keras_bigmodels.insight.report import per_class_report
from keras_bigmodels.models.cnn import build_cnn
from keras_bigmodels.models.transfer import (
    build_image_classifier,
    fine_tune_learning_rate,
    unfreeze,
)
from keras_bigmodels.training import loop, resume, runs
from keras_bigmodels.training.distribute import describe_devices
from keras_bigmodels.training.precision import optimizer, resolve_jit
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows.configs import (
    BackboneClassifierConfig,
    ImageClassifierConfig,
    make_config,
)

DIGITS = "digits"
DIGITS_IMAGE_SIZE = (32, 32)
FOLDER_IMAGE_SIZE = (224, 224)
# Above this many decoded bytes the training images are streamed from disk
# every epoch instead of cached in memory.
AUTO_CACHE_LIMIT = 2 * 1024**3


# `train cnn`'s settings; `TrainConfig` is its older name.
TrainConfig = ImageClassifierConfig


@dataclasses.dataclass
class ImageClassifierResult(runs.TrainResult):
    """`train_image_classifier`'s result.

    Attributes (beyond `TrainResult`'s):
        class_names: list of str.
        held_out: str. `"test"`, or `"validation"` without a test split.
        accuracy: float. Held-out accuracy.
        split_metrics: dict split -> {"loss", "accuracy"}.
    """

    class_names: list = dataclasses.field(default_factory=list)
    held_out: str = "test"
    accuracy: float = float("nan")
    split_metrics: dict = dataclasses.field(default_factory=dict)


def _array_dataset(x, y, batch_size, shuffle, seed):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return prefetch_to_accelerator(ds.batch(batch_size))


def _digits_data(cfg: ImageClassifierConfig):
    size = cfg.image_size or DIGITS_IMAGE_SIZE
    (x, y), (x_test, y_test) = load_digits(size)
    if cfg.color_mode != "grayscale":
        reps = CHANNELS[cfg.color_mode]
        x, x_test = np.repeat(x, reps, -1), np.repeat(x_test, reps, -1)
        if reps == 4:
            x[..., 3] = x_test[..., 3] = 255
    train_idx, val_idx = stratified_split(
        y, (1 - cfg.validation_split, cfg.validation_split), seed=cfg.seed
    )
    splits = {
        "train": EpochBatches.from_arrays(
            (x[train_idx], y[train_idx]),
            cfg.batch_size,
            seed=cfg.seed,
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


def _resolve_cache(cfg: ImageClassifierConfig, size) -> str | None:
    if cfg.cache == "none":
        return None
    if cfg.cache != "auto":
        return cfg.cache
    # Counting files is cheap; screening them happens once, in image_folder.
    n_files = len(list_image_files(cfg.data))
    decoded = n_files * size[0] * size[1] * CHANNELS[cfg.color_mode]
    return "memory" if decoded <= AUTO_CACHE_LIMIT else None


def _folder_data(cfg: ImageClassifierConfig):
    size = cfg.image_size or FOLDER_IMAGE_SIZE
    cache = _resolve_cache(cfg, size)
    kwargs = dict(
        image_size=size,
        batch_size=cfg.batch_size,
        labels=cfg.labels,
        color_mode=cfg.color_mode,
        seed=cfg.seed,
        validation_split=cfg.validation_split,
        cache=cache,
    )
    if cfg.test_split > 0:
        train, val, test = image_folder(
            cfg.data, subset="all", test_split=cfg.test_split, **kwargs
        )
    else:
        train, val = image_folder(cfg.data, subset="both", **kwargs)
        test = None
    # Training batches come in a (seed, epoch) order, so that a resumed run
    # continues at the next unseen batch; only unseen files are decoded.
    load = example_loader(train.index, size, cfg.color_mode)
    n = len(train.file_paths)
    if cache:  # decoded once, then gathered batch by batch
        images, labels = [], []
        for img, y in (
            tf.data.Dataset.range(n)
            .map(load, num_parallel_calls=parallel_calls())
            .ignore_errors(log_warning=True)
            .batch(256)
            .with_options(pipeline_options())
        ):
            images.append(img.numpy())
            labels.append(y.numpy())
        batches = EpochBatches.from_arrays(
            (np.concatenate(images), np.concatenate(labels)),
            cfg.batch_size,
            seed=cfg.seed,
        )
    else:
        batches = EpochBatches(
            n,
            cfg.batch_size,
            load,
            seed=cfg.seed,
            per_example=True,
        )
    splits = {"train": batches, "validation": val}
    counts = {"train": n, "validation": len(val.file_paths)}
    if test is not None:
        splits["test"] = test
        counts["test"] = len(test.file_paths)
    info = {
        "source": os.path.abspath(cfg.data),
        "image_size": list(size),
        "color_mode": cfg.color_mode,
        "labels": cfg.labels,
        "cache": cache,
        "counts": counts,
        "bad_files": [str(b) for b in train.bad_files],
    }
    return splits, list(train.class_names), info


def _predict_labels(model, ds, worst=None) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels; with a list `worst`, fill it with the 16
    examples of highest loss (-log p(true class)), highest first."""
    y_true, y_pred = [], []
    for x, y in ds:
        probs = np.asarray(model(x, training=False))
        y_true.append(np.asarray(y))
        y_pred.append(np.argmax(probs, axis=-1))
        if worst is not None:
            p_true = probs[np.arange(len(probs)), y_true[-1]]
            for i in np.argsort(p_true)[:16]:
                worst.append(
                    {
                        "loss": float(-np.log(max(p_true[i], 1e-12))),
                        "image": np.asarray(x[i]),
                        "true": int(y_true[-1][i]),
                        "pred": int(y_pred[-1][i]),
                        "probability": float(probs[i, y_pred[-1][i]]),
                    }
                )
            worst.sort(key=lambda e: -e["loss"])
            del worst[16:]
    return np.concatenate(y_true), np.concatenate(y_pred)


def train_image_classifier(
    cfg: ImageClassifierConfig | None = None, **overrides
) -> ImageClassifierResult:
    """Train the article's CNN on digits or an image folder; write a run folder.

    Article §4 (模型构建 / 训练 / 评估) and §6.3 (overfitting remedies). The
    best epoch (lowest validation loss) is kept and saved as it is reached;
    the full state is checkpointed every `checkpoint_every` steps, so a
    killed run continues with `resume="latest"` where it stopped.

    Args:
        cfg: ImageClassifierConfig. Or pass its fields as keyword arguments.

    Returns:
        ImageClassifierResult.

    Example:

    >>> result = train_image_classifier(data="digits", epochs=2)  # doctest: +SKIP
    >>> result.accuracy  # doctest: +SKIP
    """
    cfg = make_config(ImageClassifierConfig, cfg, **overrides)

    def build(cfg, input_shape, num_classes):
        return build_cnn(
            input_shape,
            num_classes,
            rescale=1 / 255,
            dropout=cfg.dropout,
            l2=cfg.l2,
            batch_norm=cfg.batch_norm,
            augmentation="light" if cfg.augment else None,
        )

    return _train_classifier(cfg, "cnn", build)


def train_backbone_classifier(
    cfg: BackboneClassifierConfig | None = None, **overrides
) -> ImageClassifierResult:
    """Train a new head on a (pretrained) backbone, then fine-tune it; one run folder.

    Article §2.8 (预训练模型). Phase `"head"`: the backbone is frozen (when
    it is pretrained) and only the new head trains at `learning_rate`.
    Phase `"fine_tune"` (when `fine_tune_epochs` > 0): `unfreeze` makes the
    backbone trainable with its BatchNorm layers kept frozen and recompiles
    at `fine_tune_learning_rate`. Both phases append to one history, and a
    run stopped in either continues with `resume`.

    Args:
        cfg: BackboneClassifierConfig. Or pass its fields as keyword arguments.

    Returns:
        ImageClassifierResult.

    Example:

    >>> r = train_backbone_classifier(data="photos/", backbone="mobilenet_v2",
    ...     weights="imagenet", image_size=160, fine_tune_epochs=5)  # doctest: +SKIP
    """
    cfg = make_config(BackboneClassifierConfig, cfg, **overrides)

    def build(cfg, input_shape, num_classes):
        return build_image_classifier(
            cfg.backbone,
            num_classes,
            weights=cfg.weights,
            input_shape=None if os.path.isdir(cfg.backbone) else input_shape,
            pooling=cfg.pooling,
            dropout=cfg.dropout,
            augmentation="light" if cfg.augment else None,
            backbone_layer=cfg.backbone_layer,
        )

    return _train_classifier(cfg, "classifier", build)


def _check_takes(model, input_shape: tuple, backbone) -> None:
    """Before training: a run's body takes images of its own size and colours."""
    takes = tuple(model.input_shape[1:])
    if all(t is None or t == d for t, d in zip(takes, input_shape, strict=True)):
        return  # (None: the model takes any size along that axis)
    h, w, c = takes
    modes = {n: m for m, n in CHANNELS.items()}
    raise ValueError(
        f"the backbone {backbone} takes {h}x{w} images with {c} channel(s); "
        f"the data is read as {input_shape[0]}x{input_shape[1]} with "
        f"{input_shape[2]}: pass image_size={(h, w)!r} "
        f"color_mode={modes.get(c, 'rgb')!r}"
    )


def _train_classifier(cfg, workflow: str, build) -> ImageClassifierResult:
    """The image-classifier run: data, model, one or two phases, evaluation."""
    with session(cfg, workflow) as (run, strategy):
        cfg = run.config
        if cfg.data == DIGITS:
            splits, class_names, data_info = _digits_data(cfg)
        else:
            splits, class_names, data_info = _folder_data(cfg)
        h, w = data_info["image_size"]
        input_shape = (h, w, CHANNELS[cfg.color_mode])
        jit = resolve_jit(cfg.jit)
        fine_tune = getattr(cfg, "fine_tune_epochs", 0)
        with strategy.scope():
            model = build(cfg, input_shape, len(class_names))
            _check_takes(model, input_shape, getattr(cfg, "backbone", None))
            model.compile(
                optimizer=optimizer("Adam", cfg.learning_rate, cfg.clip_norm),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
                jit_compile=jit,
            )
        run.start(
            task="image_classification",
            architecture=workflow,
            backbone=getattr(cfg, "backbone", None),
            data=data_info,
            devices=describe_devices(strategy),
            jit_compile=jit,
        )
        run.write_json(runs.CLASS_NAMES_FILE, class_names)
        fit = functools.partial(
            loop.fit,
            run,
            model,
            splits["train"],
            strategy=strategy,
            validation=splits["validation"],
            patience=cfg.patience,
            reduce_lr=True,
            checkpoint_every=cfg.checkpoint_every,
            verbose=cfg.verbose,
        )
        # A checkpoint holds the optimizer of its phase: a run stopped while
        # fine-tuning resumes straight into that phase; any other restores
        # (or trains) the head phase first.
        state = resume.read_state(run.source_dir) if run.resumed else None
        if not (state and state.get("phase") == "fine_tune"):
            fit(epochs=cfg.epochs, phase="head")
        if fine_tune:
            with strategy.scope():
                rate = cfg.fine_tune_learning_rate or fine_tune_learning_rate(model)
                unfreeze(
                    model,
                    optimizer=optimizer("Adam", rate, cfg.clip_norm),
                    jit_compile=jit,
                )
            fit(epochs=fine_tune, phase="fine_tune")
        evaluated = {
            name: loop.evaluate(
                model, ds.dataset(0) if name == "train" else ds, strategy
            )
            for name, ds in splits.items()
        }
        held_out = "test" if "test" in splits else "validation"
        worst: list = []
        y_true, y_pred = _predict_labels(model, splits[held_out], worst)
        matrix = plots.confusion_matrix(y_true, y_pred, len(class_names))
        plots.plot_confusion_matrix(
            matrix,
            class_names,
            run.path("confusion_matrix.png"),
            title=f"Confusion matrix ({held_out})",
        )
        plots.plot_highest_loss(worst, class_names, run.path("highest_loss.png"))
        return run.finish(
            model,
            {
                **evaluated,
                "confusion_matrix": {"split": held_out, "matrix": matrix},
                "per_class": per_class_report(matrix, class_names),
            },
            ImageClassifierResult,
            class_names=class_names,
            held_out=held_out,
            accuracy=evaluated[held_out]["accuracy"],
            split_metrics=evaluated,
        )


def evaluate_image_classifier(
    run_dir, data, batch_size: int = 64, safe_mode: bool = True
) -> dict:
    """Evaluate a run's model on a folder of labelled images or on `"digits"`.

    The folder is read with the run's image size, color mode, labelling and
    class list; images of classes the model does not know are skipped and
    reported.

    Returns:
        dict with `loss`, `accuracy`, `count`, `class_names`, `confusion_matrix`
        and `bad_files`.
    """
    model, manifest, class_names = runs.load_run(run_dir, safe_mode)
    data_info = manifest["data"]
    size, color_mode = tuple(data_info["image_size"]), data_info["color_mode"]
    _check_same_classes(data, data_info.get("labels", "inferred"), class_names)
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


def _check_same_classes(data, labels, class_names) -> None:
    """Refuse data none of whose classes the run's model knows."""
    if data == DIGITS:
        found = list(DIGIT_CLASSES)
    elif labels == "inferred" and os.path.isdir(data):
        found = sorted(
            e.name
            for e in os.scandir(data)
            if e.is_dir() and not e.name.startswith(".")
        )
    else:
        return  # file-name labels: the scan reports files of unknown classes
    if found and not set(found) & set(class_names):
        raise ValueError(
            f"The classes of {data!r} {tuple(found)} are not the classes the "
            f"run's model was trained on {tuple(class_names)}."
        )
    if data == DIGITS and list(found) != list(class_names):
        raise ValueError(
            f"'digits' has the classes {tuple(found)}, but the run's model was "
            f"trained on {tuple(class_names)}."
        )


def predict_images(
    run_dir, paths, top_k: int = 3, safe_mode: bool = True, batch_size: int = 64
) -> tuple[list, list]:
    """Top-k classes with probabilities for image files and folders of them.

    A folder stands for every image file under it (sub-folders included,
    hidden ones left out), in sorted order. Each file is screened and decoded
    as in training; a file that cannot be read is reported, and the others
    are still predicted.

    Args:
        run_dir: str. A run folder written by `train_image_classifier`.
        paths: list of image files and/or folders.
        top_k: int. Classes to return per image.
        safe_mode: bool. Keras's safe mode when loading the model.
        batch_size: int. Images decoded and predicted at a time, so memory
            does not grow with the size of a folder.

    Returns:
        `(predictions, bad_files)`: one dict per usable image (`path`,
        `top_k`: list of `{"label", "probability"}`), and `BadFile`s for
        files (or folders) that could not be used.
    """
    V.check_positive_int("top_k", top_k)
    V.check_positive_int("batch_size", batch_size)
    files, bad = _image_files(paths)
    model, manifest, class_names = runs.load_run(run_dir, safe_mode)
    size = tuple(manifest["data"]["image_size"])
    color_mode = manifest["data"]["color_mode"]
    k = min(top_k, len(class_names))
    out = []
    for first in range(0, len(files), batch_size):
        loaded = list(
            _load_images(files[first : first + batch_size], size, color_mode, bad)
        )
        if not loaded:
            continue
        _, good, images = zip(*loaded, strict=True)
        probs = model.predict_on_batch(np.stack(images))
        for path, p in zip(good, np.asarray(probs), strict=True):
            order = np.argsort(-p)[:k]
            out.append(
                {
                    "path": path,
                    "top_k": [
                        {"label": class_names[i], "probability": float(p[i])}
                        for i in order
                    ],
                }
            )
    return out, bad


def explain_images(
    run_dir,
    paths,
    out_dir,
    *,
    class_name=None,
    layer=None,
    safe_mode: bool = True,
) -> tuple[list, list]:
    """Grad-CAM overlays (PNG) of a run's image classifier, one per image.

    Returns:
        `(written, bad_files)`: dicts with `path`, `label`, `probability`
        and `overlay` (the PNG), and `BadFile`s of unusable inputs.
    """
    from keras_bigmodels.insight.gradcam import grad_cam, save_overlay

    files, bad = _image_files(paths)
    model, manifest, class_names = runs.load_run(run_dir, safe_mode)
    if class_name is not None and class_name not in class_names:
        raise ValueError(
            f"`class_name` must be one of the run's classes {tuple(class_names)}. "
            f"Received: class_name={class_name!r}"
        )
    size = tuple(manifest["data"]["image_size"])
    color_mode = manifest["data"]["color_mode"]
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for i, path, image in _load_images(files, size, color_mode, bad):
        probs = np.asarray(model.predict_on_batch(image[None]))[0]
        index = (
            int(np.argmax(probs))
            if class_name is None
            else class_names.index(class_name)
        )
        heat = grad_cam(model, image, class_index=index, layer=layer)
        stem = os.path.splitext(os.path.basename(path))[0]
        # Drawn on the photo at its own size: the heatmap is upscaled to it.
        photo = load_image(path, None, "rgb")
        overlay = save_overlay(
            photo, heat, os.path.join(out_dir, f"{i:04d}_{stem}_gradcam.png")
        )
        written.append(
            {
                "path": path,
                "label": class_names[index],
                "probability": float(probs[index]),
                "overlay": overlay,
            }
        )
    return written, bad


def _load_images(files, size, color_mode, bad: list):
    """`(index, path, image)` of each file that loads; the others go to `bad`."""
    for i, path in enumerate(files):
        try:
            yield i, path, load_image(path, size, color_mode)
        except (BadImageError, FileNotFoundError) as e:
            bad.append(BadFile(path, str(e).removeprefix(f"Bad image file {path}: ")))


def prediction_records(paths, predictions: list, bad: list) -> list[dict]:
    """`predict_images`'s results as one list in the order of the inputs:
    each usable image's prediction and each unusable input's
    `{"path", "error"}` where that input stood (a folder: its files in
    sorted order)."""
    records = predictions + [{"path": b.path, "error": b.reason} for b in bad]
    rank: dict[str, int] = {}
    for path in map(os.fspath, paths):
        found = list_image_files(path) if os.path.isdir(path) else []
        for name in found or [path]:
            rank.setdefault(name, len(rank))
    return sorted(records, key=lambda r: rank.get(r["path"], len(rank)))


def _image_files(paths) -> tuple[list[str], list[BadFile]]:
    """Files named, and the image files under folders named, in order."""
    files, bad = [], []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            found = list_image_files(path)
            if not found:
                bad.append(
                    BadFile(path, f"a folder with no image files {IMAGE_EXTENSIONS}")
                )
            files.extend(found)
        else:
            files.append(path)
    return files, bad
