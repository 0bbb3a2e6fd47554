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

from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.data.image_decoding import CHANNELS, example_loader
from keras_bigmodels.data.image_index import list_image_files
from keras_bigmodels.data.images import image_folder
from keras_bigmodels.data.pipeline_options import parallel_calls, pipeline_options
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
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows._common import (
    DIGITS,
    array_dataset,
    predict_labels,
    run_optimizer,
)
from keras_bigmodels.workflows.configs import (
    BackboneClassifierConfig,
    ImageClassifierConfig,
    make_config,
)

DIGITS_IMAGE_SIZE = (32, 32)
FOLDER_IMAGE_SIZE = (224, 224)
# Above this many decoded bytes the training images are streamed from disk
# every epoch instead of cached in memory.
AUTO_CACHE_LIMIT = 2 * 1024**3


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
        "validation": array_dataset(x[val_idx], y[val_idx], cfg.batch_size),
        "test": array_dataset(x_test, y_test, cfg.batch_size),
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
    load = example_loader(train.index, image_size=size, color_mode=cfg.color_mode)
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
        jit = run.jit_compile
        fine_tune = getattr(cfg, "fine_tune_epochs", 0)
        with strategy.scope():
            model = build(cfg, input_shape, len(class_names))
            _check_takes(model, input_shape, getattr(cfg, "backbone", None))
            model.compile(
                optimizer=run_optimizer(cfg),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
                jit_compile=jit,
            )
        run.start(
            task="image_classification",
            architecture=workflow,
            backbone=getattr(cfg, "backbone", None),
            data=data_info,
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
                rate = cfg.fine_tune_learning_rate or fine_tune_learning_rate(
                    model, cfg.lora_rank
                )
                unfreeze(
                    model,
                    lora_rank=cfg.lora_rank,
                    optimizer=run_optimizer(cfg, learning_rate=rate),
                    jit_compile=jit,
                )
            parameters = {
                "lora_rank": cfg.lora_rank,
                "learning_rate": rate,
                "trainable": sum(
                    int(np.prod(w.shape)) for w in model.trainable_weights
                ),
                "total": model.count_params(),
            }
            fit(epochs=fine_tune, phase="fine_tune")
        evaluated = {
            name: loop.evaluate(
                model, ds.dataset(0) if name == "train" else ds, strategy
            )
            for name, ds in splits.items()
        }
        held_out = "test" if "test" in splits else "validation"
        worst: list = []
        y_true, y_pred = predict_labels(model, splits[held_out], worst)
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
                **({"fine_tune_parameters": parameters} if fine_tune else {}),
            },
            ImageClassifierResult,
            class_names=class_names,
            held_out=held_out,
            held_out_inputs=splits[held_out],
            accuracy=evaluated[held_out]["accuracy"],
            split_metrics=evaluated,
        )
