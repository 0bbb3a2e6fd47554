"""Article §2.5, §2.6, §3.3, §3.4: train GANs and autoencoders end to end.

What `keras-bigmodels train gan|autoencoder` and `sample` run. Each trains on
the bundled digits by default (or a folder of images), measures the result
on held-out images against the obvious yardstick (PCA for an autoencoder, a
digits classifier and the Fréchet distance for a GAN) and writes a run
folder with PNGs of samples or reconstructions.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np

from keras_bigmodels import _validation as V
from keras_bigmodels.data.arrays import array_batches
from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.data.images import CHANNELS, load_data, stratified_split
from keras_bigmodels.datasets.digits import CLASS_NAMES as DIGIT_CLASSES
from keras_bigmodels.datasets.digits import load_digits
from keras_bigmodels.insight.frechet import frechet_distance
from keras_bigmodels.insight.plots import save_image_grid, to_uint8
from keras_bigmodels.models.autoencoder import (
    VariationalAutoencoder,
    build_autoencoder,
    reconstruction_error,
)
from keras_bigmodels.models.cnn import build_cnn
from keras_bigmodels.models.gan import GAN, build_gan
from keras_bigmodels.training import loop, runs
from keras_bigmodels.training.callbacks import FrechetDistance, SampleGrid
from keras_bigmodels.training.distribute import describe_devices
from keras_bigmodels.training.precision import optimizer, resolve_jit
from keras_bigmodels.training.seed import set_seed
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows.configs import (
    AutoencoderConfig,
    GANConfig,
    make_config,
)

DIGITS = "digits"
FOLDER_IMAGE_SIZE = (32, 32)
JUDGE_FILE = "judge.keras"
CONFIDENCE = 0.9


def load_image_split(data, image_size=None, color_mode=None, seed: int = 0):
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
    has_classes = (
        sum(e.is_dir() and not e.name.startswith(".") for e in os.scandir(data)) > 1
    )
    images, labels, names = load_data(
        data,
        image_size or FOLDER_IMAGE_SIZE,
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
        labels if len(names) > 1 else None, len(images), (0.9, 0.1), seed
    )
    return {
        "x_train": images[idx_train],
        "y_train": labels[idx_train],
        "x_test": images[idx_test],
        "y_test": labels[idx_test],
        "class_names": list(names),
        "source": os.path.abspath(data),
    }


# --- the GAN's judge ---------------------------------------------------------


def train_judge(split: dict, seed: int = 0, epochs: int = 60):
    """A small CNN classifier of the real images, to judge generated ones.

    Returns:
        (classifier, feature_model, test_accuracy). `feature_model` gives
        the last hidden layer's activations, for the Fréchet distance.
    """
    x, y = split["x_train"], split["y_train"]
    num_classes = len(split["class_names"])
    set_seed(seed)
    clf = build_cnn(
        x.shape[1:],
        num_classes,
        filters=(32, 64),
        dense_units=(128,),
        dropout=0.3,
        padding="same",
        rescale=1 / 255,
        name="judge",
    )
    clf.compile(
        keras.optimizers.Adam(1e-3),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    idx_fit, idx_val = stratified_split(y, len(y), (0.9, 0.1), seed)
    clf.fit(
        x[idx_fit],
        y[idx_fit],
        validation_data=(x[idx_val], y[idx_val]),
        epochs=epochs,
        batch_size=64,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
        ],
    )
    acc = float(clf.evaluate(split["x_test"], split["y_test"], verbose=0)[1])
    features = keras.Model(clf.inputs, clf.get_layer("dense1").output)
    return clf, features, acc


def judge_samples(gan, classifier, n: int = 1000, seed: int = 1) -> dict:
    """How recognisable and how varied `n` generated images are.

    Returns:
        dict: `confident_fraction` (share of samples whose top class has
        probability >= 0.9), `class_counts` (top class of each sample) and
        `classes_present`; for a class-conditional GAN (asked for the classes
        0, 1, 2, ... in turn) also `label_agreement`, the share whose top
        class is the one asked for.
    """
    images = gan.to_real_range(gan.generate(n, seed=seed))
    probs = classifier.predict(images, batch_size=256, verbose=0)
    top = probs.argmax(axis=1)
    counts = np.bincount(top, minlength=probs.shape[1])
    result = {
        "samples": n,
        "confident_fraction": float(np.mean(probs.max(axis=1) >= CONFIDENCE)),
        "class_counts": counts.tolist(),
        "classes_present": int(np.count_nonzero(counts)),
    }
    if gan.num_classes is not None:
        asked = np.arange(n) % gan.num_classes  # what `generate` cycles through
        result["label_agreement"] = float(np.mean(top == asked))
    return result


# --- GAN ---------------------------------------------------------------------


@dataclasses.dataclass
class GANResult(runs.TrainResult):
    """`train_gan`'s result. With class labels (a judge was trained):
    `judge_accuracy`, `samples` (the judge's verdict: `confident_fraction`,
    `class_counts`, `classes_present`, for a conditional GAN
    `label_agreement`) and `frechet_distance` (`final`, `best`,
    `real_train_vs_test`); otherwise those are None."""

    judge_accuracy: float | None = None
    samples: dict | None = None
    frechet_distance: dict | None = None


def _judge(run, split, cfg):
    """Train the judge, or load the one a resumed run already trained."""
    path = os.path.join(run.source_dir, JUDGE_FILE)
    if run.resumed and os.path.isfile(path):
        from keras_bigmodels.saving import load_model

        clf = load_model(path)
        features = keras.Model(clf.inputs, clf.get_layer("dense1").output)
        acc = float(clf.evaluate(split["x_test"], split["y_test"], verbose=0)[1])
    else:
        clf, features, acc = train_judge(split, cfg.seed, cfg.judge_epochs)
    clf.save(run.path(JUDGE_FILE))
    return clf, features, acc


def train_gan(cfg: GANConfig | None = None, **overrides) -> GANResult:
    """Train `build_gan` on digits (default) or a folder; judge the samples.

    Article §2.5 and §3.3. With class labels (digits, or class sub-folders)
    a small CNN is first trained on the real training images; each epoch the
    Fréchet distance between held-out real images and generated ones is
    measured in its feature space, and at the end `samples` generated images
    are classified. The model is saved at every epoch end and the full state
    checkpointed, so a crash near the end loses almost nothing.

    Args:
        cfg: GANConfig. Or pass its fields as keyword arguments.

    Returns:
        GANResult.
    """
    cfg = make_config(GANConfig, cfg, **overrides)
    with session(cfg, "gan") as (run, strategy):
        cfg = run.config
        split = load_image_split(cfg.data, cfg.image_size, cfg.color_mode, cfg.seed)
        x, y = split["x_train"], split["y_train"]
        num_classes = len(split["class_names"])
        # The default: a class-conditional GAN whenever the data has labels
        # (it draws clearly recognisable digits where the plain one, trained
        # as long, makes about one in seven unclear); False is the article's.
        conditional = num_classes > 1 if cfg.conditional is None else cfg.conditional
        if conditional and num_classes < 2:
            raise ValueError(
                "`conditional=True` needs class sub-folders (two or more classes). "
                f"Received: data={cfg.data!r} with one class"
            )
        jit = resolve_jit(cfg.jit)
        with strategy.scope():
            gan = build_gan(
                x.shape[1:],
                latent_dim=cfg.latent_dim,
                num_classes=num_classes if conditional else None,
                filters=cfg.filters,
                d_steps=cfg.d_steps,
                seed=cfg.seed,
            )
            gan.compile(
                optimizer("Adam", cfg.learning_rate, cfg.clip_norm, beta_1=0.5),
                optimizer("Adam", cfg.learning_rate, cfg.clip_norm, beta_1=0.5),
                jit_compile=jit,
            )
        run.start(
            task="gan",
            architecture="dcgan" + ("-conditional" if conditional else ""),
            devices=describe_devices(strategy),
            jit_compile=jit,
            data={
                "source": split["source"],
                "image_shape": list(x.shape[1:]),
                "class_names": split["class_names"],
                "counts": {"train": len(x), "test": len(split["x_test"])},
            },
        )
        run.write_json(runs.CLASS_NAMES_FILE, split["class_names"])
        callbacks = [SampleGrid(run.path("samples"), n=64, seed=0)]
        judge = None
        if num_classes > 1:
            judge, features, judge_acc = _judge(run, split, cfg)
            callbacks.append(
                FrechetDistance(features, split["x_test"], n=cfg.samples, seed=1)
            )
        train = EpochBatches.from_arrays(
            (x, y) if conditional else x,
            cfg.batch_size,
            seed=cfg.seed,
        )
        history = loop.fit(
            run,
            gan,
            train,
            epochs=cfg.epochs,
            strategy=strategy,
            monitor=None,
            callbacks=callbacks,
            checkpoint_every=cfg.checkpoint_every,
            verbose=cfg.verbose,
        )
        metrics = {"final": {k: float(v[-1]) for k, v in history.items()}}
        extra = {}
        if judge is not None:
            fd = history["frechet_distance"]
            extra = {
                "judge_accuracy": judge_acc,
                "samples": judge_samples(gan, judge, cfg.samples, seed=1),
                "frechet_distance": {
                    "final": float(fd[-1]),
                    "best": float(np.nanmin(fd)),
                    "real_train_vs_test": frechet_distance(
                        features.predict(x, verbose=0),
                        features.predict(split["x_test"], verbose=0),
                    ),
                },
            }
            metrics.update(extra, judge_test_accuracy=judge_acc)
            del metrics["judge_accuracy"]
        save_image_grid(
            gan.generate(100, seed=0), run.path("samples.png"), (-1, 1), ncols=10
        )
        return run.finish(gan, metrics, GANResult, **extra)


# --- autoencoder -------------------------------------------------------------


def pca_reconstruction_mse(x_train, x_test, code_size: int) -> float:
    """Test MSE of PCA (scikit-learn) with `code_size` components fitted on train."""
    from sklearn.decomposition import PCA

    flat_train = x_train.reshape(len(x_train), -1)
    flat_test = x_test.reshape(len(x_test), -1)
    pca = PCA(code_size).fit(flat_train)
    recon = pca.inverse_transform(pca.transform(flat_test))
    return float(np.mean(np.square(recon - flat_test)))


@dataclasses.dataclass
class AutoencoderResult(runs.TrainResult):
    """`train_autoencoder`'s result: held-out reconstruction MSE beside PCA's."""

    reconstruction_mse: float = float("nan")
    pca_mse: float = float("nan")
    code_size: int = 0
    ratio_to_pca: float = float("nan")


def train_autoencoder(
    cfg: AutoencoderConfig | None = None, **overrides
) -> AutoencoderResult:
    """Train `build_autoencoder` on digits (default) or a folder; compare to PCA.

    Article §2.6 and §3.4. Pixels are scaled to [0, 1]. The test
    reconstruction MSE is reported beside that of PCA with the same code
    size, fitted on the same training images (a linear autoencoder can at
    best match PCA; a nonlinear one should beat it).

    Args:
        cfg: AutoencoderConfig. Or pass its fields as keyword arguments.

    Returns:
        AutoencoderResult.
    """
    cfg = make_config(AutoencoderConfig, cfg, **overrides)
    with session(cfg, "autoencoder", f"autoencoder-{cfg.kind}") as (run, strategy):
        cfg = run.config
        split = load_image_split(cfg.data, cfg.image_size, cfg.color_mode, cfg.seed)
        x = split["x_train"].astype("float32") / 255.0
        x_test = split["x_test"].astype("float32") / 255.0
        idx_fit, idx_val = stratified_split(None, len(x), (0.9, 0.1), cfg.seed)
        jit = resolve_jit(cfg.jit)
        with strategy.scope():
            model = build_autoencoder(
                x.shape[1:],
                latent_dim=cfg.latent_dim,
                kind=cfg.kind,
                linear=cfg.linear,
                seed=cfg.seed,
            )
            model.compile(
                optimizer("Adam", cfg.learning_rate, cfg.clip_norm),
                loss=None if cfg.kind == "variational" else "mse",
                jit_compile=jit,
            )
        run.start(
            task="autoencoder",
            architecture=f"autoencoder-{cfg.kind}" + ("-linear" if cfg.linear else ""),
            devices=describe_devices(strategy),
            jit_compile=jit,
            data={
                "source": split["source"],
                "image_shape": list(x.shape[1:]),
                "counts": {
                    "train": len(idx_fit),
                    "validation": len(idx_val),
                    "test": len(x_test),
                },
            },
        )

        def target(a):
            return a if cfg.kind == "variational" else (a, a)

        loop.fit(
            run,
            model,
            EpochBatches.from_arrays(
                target(x[idx_fit]),
                cfg.batch_size,
                seed=cfg.seed,
            ),
            epochs=cfg.epochs,
            strategy=strategy,
            validation=array_batches(target(x[idx_val]), cfg.batch_size),
            patience=cfg.patience,
            reduce_lr=True,
            checkpoint_every=cfg.checkpoint_every,
            verbose=cfg.verbose,
        )
        mse = float(np.mean(reconstruction_error(model, x_test)))
        pca = pca_reconstruction_mse(x[idx_fit], x_test, cfg.latent_dim)
        recon = model.predict(x_test[:10], verbose=0)
        save_image_grid(
            np.concatenate([x_test[:10], recon]),
            run.path("reconstructions.png"),
            (0, 1),
            ncols=10,
        )
        if isinstance(model, VariationalAutoencoder):
            save_image_grid(
                model.decoder.predict(
                    np.random.default_rng(0).standard_normal((100, cfg.latent_dim)),
                    verbose=0,
                ),
                run.path("samples.png"),
                (0, 1),
                ncols=10,
            )
        metrics = {
            "test": {"reconstruction_mse": mse},
            "pca": {"code_size": cfg.latent_dim, "reconstruction_mse": pca},
            "ratio_to_pca": mse / pca,
        }
        return run.finish(
            model,
            metrics,
            AutoencoderResult,
            reconstruction_mse=mse,
            pca_mse=pca,
            code_size=cfg.latent_dim,
            ratio_to_pca=mse / pca,
        )


# --- sampling from a run -----------------------------------------------------


def sample_from_run(
    run_dir, n: int = 64, seed: int | None = None, out=None, safe_mode: bool = True
) -> dict:
    """Write a PNG grid (and an .npy array) of `n` new images from a run.

    Works for GAN runs and variational-autoencoder runs (decoding z drawn
    from the prior N(0, I)).

    Returns:
        dict with `png`, `npy` and `n`.
    """
    from keras_bigmodels.saving import load_model

    V.check_positive_int("n", n)
    run_dir = runs.check_run_dir(run_dir, (runs.MODEL_FILE,))
    model = load_model(run_dir, safe_mode=safe_mode)
    if isinstance(model, GAN):
        images, value_range = model.generate(n, seed=seed), (-1, 1)
    elif isinstance(model, VariationalAutoencoder):
        dim = model.decoder.input_shape[-1]
        z = np.random.default_rng(seed).standard_normal((n, dim)).astype("float32")
        images, value_range = model.decoder.predict(z, verbose=0), (0, 1)
    else:
        raise ValueError(
            f"{run_dir!r} holds a {type(model).__name__}, which has no prior to "
            "sample from. Sample from a GAN run or a variational autoencoder run "
            "(train autoencoder --kind variational)."
        )
    stem = out or os.path.join(
        run_dir, f"sample-{n}" + ("" if seed is None else f"-seed{seed}")
    )
    stem = stem[:-4] if stem.endswith(".png") else stem
    np.save(f"{stem}.npy", to_uint8(images, value_range))
    save_image_grid(images, f"{stem}.png", value_range)
    return {"png": f"{stem}.png", "npy": f"{stem}.npy", "n": n}
