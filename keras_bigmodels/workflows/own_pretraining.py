"""Your own pretrained model, offline: pretrain on digits 0-4, reuse for 5-9.

Article §2.8 (预训练模型) without a download. The bundled digits are cut in
two tasks: the article's CNN learns digits 0-4 from all their images; its
trained body, with a new head, then learns digits 5-9 from only `shots`
labelled images per class (head first on the frozen body, so that a random
head cannot wreck the body's features; then the whole network, BatchNorm
frozen). Two networks trained from scratch on the same images, for as many
epochs, are the comparison: the article's network as it is, and the same
network with the augmentation and dropout the reused one trains with. All
are tested on every other image of 5-9.

Measured over three seeds (mean error on 5-9): fine-tuning the whole network
at Adam's usual 1e-3 after the head beat 1e-4 and 3e-4, and reusing the body
up to Flatten beat reusing the 0-4 network's hidden Dense layer too.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from keras_bigmodels.datasets.digits import load_digits
from keras_bigmodels.models.cnn import build_cnn
from keras_bigmodels.models.transfer import (
    backbone_of,
    build_image_classifier,
    unfreeze,
)
from keras_bigmodels.training import runs
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows.configs import OwnPretrainingConfig, make_config


@dataclasses.dataclass
class OwnPretrainingResult(runs.TrainResult):
    """Held-out accuracy on digits 5-9 of the reused body and of scratch.

    Attributes:
        transfer_accuracy: float. Pretrained on 0-4, fine-tuned on the shots.
        scratch_accuracy: float. The same network (augmentation and dropout
            included), trained on the shots only.
        error_ratio: float. Transfer error over scratch error (lower: better).
        article_scratch_accuracy: float. The article's network as it is (no
            augmentation, no dropout), trained on the shots only.
        article_error_ratio: float. Transfer error over that network's error.
        pretrain_accuracy: float. The 0-4 network on its held-out images.
        lora_accuracy: float. The pretrained body with LoRA (rank
            `lora_rank`) instead of fine-tuning every weight; nan when
            `lora_rank` is 0.
        lora_error_ratio: float. LoRA's error over full fine-tuning's.
        lora_trainable_fraction: float. Trainable parameters of the LoRA
            phase over all the model's parameters.
    """

    transfer_accuracy: float = float("nan")
    scratch_accuracy: float = float("nan")
    error_ratio: float = float("nan")
    article_scratch_accuracy: float = float("nan")
    article_error_ratio: float = float("nan")
    pretrain_accuracy: float = float("nan")
    lora_accuracy: float = float("nan")
    lora_error_ratio: float = float("nan")
    lora_trainable_fraction: float = float("nan")


def few_shot_split(y, *, classes, shots: int, seed: int):
    """Indices of `shots` images per class in `classes` (seeded), and the rest."""
    rng = np.random.default_rng(seed)
    train = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:shots] for c in classes]
    )
    rest = np.setdiff1d(np.flatnonzero(np.isin(y, classes)), train)
    return np.sort(train), rest


def _check_shots(shots: int) -> None:
    """Before any run folder is made: each class of 5-9 keeps one test image."""
    from sklearn.datasets import load_digits as sk_load_digits

    labels = sk_load_digits().target
    largest = int(min(np.sum(labels == c) for c in range(5, 10))) - 1
    if shots > largest:
        raise ValueError(
            f"`shots` must be at most {largest}: the smallest class of digits "
            f"5-9 holds {largest + 1} images, and each class keeps at least one "
            f"for the test. Received: shots={shots}"
        )


def _compile(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _cnn(cfg, shape, regularized: bool = True):
    if regularized:  # the FAQ's remedies (§6.3) for a few hundred images
        model = build_cnn(shape, 5, rescale=1 / 255, dropout=0.3, augmentation="light")
    else:  # the article's network as it is
        model = build_cnn(shape, 5, rescale=1 / 255)
    return _compile(model, cfg.learning_rate)


def train_own_pretraining(
    cfg: OwnPretrainingConfig | None = None, **overrides
) -> OwnPretrainingResult:
    """Pretrain the article's CNN on digits 0-4; reuse it for 5-9 with few labels.

    Article §2.8. Prints and returns the held-out accuracies on 5-9 of the
    reused network and of two trained from scratch on the same `shots`
    images per class: the same network (augmentation and dropout included)
    and the article's network as it is.

    Args:
        cfg: OwnPretrainingConfig. Or pass its fields as keyword arguments.

    Returns:
        OwnPretrainingResult.

    Example:

    >>> r = train_own_pretraining(shots=20, seed=0)  # doctest: +SKIP
    >>> r.error_ratio  # doctest: +SKIP
    """
    cfg = make_config(OwnPretrainingConfig, cfg, **overrides)
    _check_shots(cfg.shots)
    with session(cfg, "transfer") as (run, strategy):
        cfg = run.config
        size = (cfg.image_size, cfg.image_size)
        (x, y), (xt, yt) = load_digits(size)
        x, y = np.concatenate([x, xt]), np.concatenate([y, yt])
        shape = x.shape[1:]
        source = np.flatnonzero(y < 5)
        rng = np.random.default_rng(cfg.seed)
        source = rng.permutation(source)
        n_val = len(source) // 10
        src_val, src_train = source[:n_val], source[n_val:]
        shots, test = few_shot_split(
            y, classes=range(5, 10), shots=cfg.shots, seed=cfg.seed
        )
        target = y - 5  # classes 5-9 as 0-4 for the new head
        run.start(
            task="image_classification",
            architecture="own_pretraining",
            data={
                "source": "digits 0-4 (bundled)",
                "target": "digits 5-9 (bundled)",
                "image_size": list(size),
                "counts": {
                    "pretrain": len(src_train),
                    "pretrain_validation": len(src_val),
                    "target_train": len(shots),
                    "target_test": len(test),
                },
            },
        )
        fit = dict(batch_size=cfg.batch_size, verbose=0)
        say = print if run.chief else (lambda *a: None)

        # 1. Pretrain on 0-4 (all their images); keep the best epoch.
        say(f"1/3 pretraining the CNN on digits 0-4 ({len(src_train)} images)")
        keras.utils.set_random_seed(cfg.seed)
        pre = _cnn(cfg, shape)
        pre.fit(
            x[src_train],
            y[src_train],
            validation_data=(x[src_val], y[src_val]),
            epochs=cfg.pretrain_epochs,
            callbacks=[
                keras.callbacks.EarlyStopping(
                    patience=5, restore_best_weights=True, monitor="val_loss"
                )
            ],
            **fit,
        )
        pre_acc = pre.evaluate(x[src_val], y[src_val], verbose=0, return_dict=True)
        pre.save(run.path("pretrained_0-4.keras"))

        # 2. From scratch on the shots, as many epochs: the same network, and
        # the article's network without augmentation and dropout.
        say(f"2/3 the CNN from scratch on {len(shots)} images of 5-9, twice")
        scratch = {}
        for regularized in (True, False):
            keras.utils.set_random_seed(cfg.seed + 1)
            scratch[regularized] = _cnn(cfg, shape, regularized)
            scratch[regularized].fit(
                x[shots],
                target[shots],
                epochs=cfg.epochs + cfg.fine_tune_epochs,
                **fit,
            )

        # 3. The pretrained body with a new head: head first, then all of it.
        say("3/3 the pretrained body with a new head, then fine-tuned")

        def reused(cut=None, epochs=cfg.fine_tune_epochs, **tuning):
            keras.utils.set_random_seed(cfg.seed + 1)
            # A fresh copy each time: LoRA must start from `pre` too.
            copy = keras.models.clone_model(pre)
            copy.set_weights(pre.get_weights())
            body = backbone_of(copy, cut)
            model = _compile(
                build_image_classifier(body, 5, dropout=0.3), cfg.learning_rate
            )
            model.fit(x[shots], target[shots], epochs=cfg.epochs, **fit)
            unfreeze(model, **tuning)
            trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
            model.fit(x[shots], target[shots], epochs=epochs, **fit)
            return model, trainable / model.count_params()

        # Fine-tuning every weight: the body ends where the feature maps are
        # flattened (`body_end`); the 0-4 network's hidden Dense layer is too
        # specific to its classes to be kept as it is.
        model, _ = reused(learning_rate=cfg.fine_tune_learning_rate)
        lora_model = lora_fraction = None
        if cfg.lora_rank:
            say(f"   and with LoRA rank {cfg.lora_rank} instead of every weight")
            # LoRA keeps the hidden Dense layer too and adapts it: a rank-R
            # update of its 65k weights costs a few thousand. Its updates
            # start at zero and move few weights, so it gets more epochs
            # (`lora_epochs`; bench/lora.py measured both).
            lora_model, lora_fraction = reused(
                "dense1",
                epochs=cfg.lora_epochs,
                lora_rank=cfg.lora_rank,
                learning_rate=cfg.lora_learning_rate,
            )

        def accuracy(m):
            out = m.evaluate(x[test], target[test], verbose=0, return_dict=True)
            return float(out["accuracy"])

        transfer = accuracy(model)
        from_scratch, article = accuracy(scratch[True]), accuracy(scratch[False])

        ratio, article_ratio = (
            (1 - transfer) / max(1 - baseline, 1e-12)
            for baseline in (from_scratch, article)
        )
        lora = {}
        if lora_model is not None:
            lora_acc = accuracy(lora_model)
            lora = {
                "lora_accuracy": lora_acc,
                "lora_error_ratio": (1 - lora_acc) / max(1 - transfer, 1e-12),
                "lora_trainable_fraction": lora_fraction,
            }

        return run.finish(
            model,
            {
                "transfer": {"accuracy": transfer, "error": 1 - transfer},
                "scratch": {"accuracy": from_scratch, "error": 1 - from_scratch},
                "error_ratio": ratio,
                "article_scratch": {"accuracy": article, "error": 1 - article},
                "article_error_ratio": article_ratio,
                "pretrain": {"accuracy": float(pre_acc["accuracy"])},
                **(
                    {"lora": {"rank": cfg.lora_rank, "epochs": cfg.lora_epochs, **lora}}
                    if lora
                    else {}
                ),
            },
            OwnPretrainingResult,
            held_out_inputs=x[test],
            transfer_accuracy=transfer,
            scratch_accuracy=from_scratch,
            error_ratio=ratio,
            article_scratch_accuracy=article,
            article_error_ratio=article_ratio,
            pretrain_accuracy=float(pre_acc["accuracy"]),
            **lora,
        )
