"""What the workflows share: compiling and fitting from a config, batches,
the tokenizer file's name and the images of the generative workflows."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from keras_bigmodels import _validation as V
from keras_bigmodels._paths import visible_subfolders
from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.data.image_decoding import CHANNELS
from keras_bigmodels.data.images import load_data
from keras_bigmodels.data.placement import prefetch_to_accelerator
from keras_bigmodels.data.splits import stratified_split
from keras_bigmodels.datasets.digits import CLASS_NAMES as DIGIT_CLASSES
from keras_bigmodels.datasets.digits import load_digits
from keras_bigmodels.models.inference import forward
from keras_bigmodels.training import loop
from keras_bigmodels.training.precision import optimizer

DIGITS = "digits"
FOLDER_IMAGE_SIZE = (32, 32)


TOKENIZER_FILE = "tokenizer.json"


def run_optimizer(cfg, name: str = "Adam", learning_rate=None, **kwargs):
    """Optimizer `name` at `learning_rate` (default: the config's), with the
    config's gradient clipping and accumulation."""
    return optimizer(
        name,
        cfg.learning_rate if learning_rate is None else learning_rate,
        cfg.clip_norm,
        cfg.gradient_accumulation_steps,
        **kwargs,
    )


def compile_model(model, run, *, loss, metrics=None, learning_rate=None):
    """Compile `model` with Adam at the run's learning rate, clipping,
    accumulation and XLA."""
    cfg = run.config
    model.compile(
        optimizer=run_optimizer(cfg, learning_rate=learning_rate),
        loss=loss,
        metrics=metrics,
        jit_compile=run.jit_compile,
    )
    return model


def fit(run, model, *, train, validation, **kwargs):
    """`loop.fit` with the run's schedule, patience, checkpoints and strategy."""
    cfg = run.config
    kwargs.setdefault("reduce_lr", True)
    kwargs.setdefault("epochs", cfg.epochs)  # a later phase may run its own
    return loop.fit(
        run,
        model,
        train,
        strategy=run.strategy,
        validation=validation,
        patience=cfg.patience,
        checkpoint_every=cfg.checkpoint_every,
        verbose=cfg.verbose,
        **kwargs,
    )


def epoch_batches(data, cfg, strategy) -> EpochBatches:
    """`data`'s seeded batches as the loop will serve them under `strategy`
    (GPT's learning-rate schedule counts their steps)."""
    return EpochBatches.from_arrays(data, cfg.batch_size, seed=cfg.seed).for_replicas(
        strategy.num_replicas_in_sync
    )


def load_image_split(data, *, image_size=None, color_mode=None, seed: int = 0):
    """Images for generative training: the digits split, or a folder split 90/10.

    Args:
        data: `"digits"` (8x8 grayscale, the fixed 1,437 / 360 split) or a
            folder of images, with class sub-folders or without.
        image_size: (height, width) or int; folders default to 32x32.
        color_mode: `"grayscale"` (digits' default) or `"rgb"` (folders').
        seed: int. Seed of the folder split.

    Returns:
        dict with uint8 `x_train`, `x_test`, int `y_train`, `y_test` (all 0
        without class sub-folders), `class_names` and `source`.
    """
    if data == DIGITS:
        (x, y), (xt, yt) = load_digits(image_size)
        return {
            "x_train": x,
            "y_train": y,
            "x_test": xt,
            "y_test": yt,
            "class_names": list(DIGIT_CLASSES),
            "source": "digits (bundled, scikit-learn)",
        }
    color_mode = color_mode or "rgb"
    V.check_choice("color_mode", color_mode, tuple(k for k in CHANNELS if k != "rgba"))
    # Two or more sub-folders are classes; otherwise every image is one kind.
    has_classes = len(visible_subfolders(data)) > 1
    images, labels, names = load_data(
        data,
        image_size=image_size or FOLDER_IMAGE_SIZE,
        labels="inferred" if has_classes else None,
        color_mode=color_mode,
        return_class_names=True,
    )
    if labels is None:
        labels, names = np.zeros(len(images), "int64"), ["images"]
    if len(images) < 20:
        raise ValueError(
            f"Need at least 20 images to train and hold some out. Received: "
            f"{len(images)} in {data!r}"
        )
    idx_train, idx_test = stratified_split(
        labels if len(names) > 1 else None, (0.9, 0.1), seed=seed, n=len(images)
    )
    return {
        "x_train": images[idx_train],
        "y_train": labels[idx_train],
        "x_test": images[idx_test],
        "y_test": labels[idx_test],
        "class_names": list(names),
        "source": os.path.abspath(data),
    }


def array_dataset(x, y, batch_size: int):
    """In-memory held-out images and labels as batches, in order."""
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    return prefetch_to_accelerator(ds.batch(batch_size))


def predict_labels(model, ds, worst=None) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels; with a list `worst`, fill it with the 16
    examples of highest loss (-log p(true class)), highest first."""
    y_true, y_pred = [], []
    for x, y in ds:
        probs = np.asarray(forward(model)(x))
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
