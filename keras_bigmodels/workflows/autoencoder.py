"""Article §2.6, §3.4: `train autoencoder`, measured against PCA.

Dense, convolutional, denoising or variational autoencoders on the bundled
digits (or a folder of images); the held-out reconstruction error is
reported beside that of PCA with the same code size, the linear optimum.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_bigmodels.data.arrays import array_batches
from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.data.splits import stratified_split
from keras_bigmodels.insight.plots import save_image_grid
from keras_bigmodels.models.autoencoder import (
    VariationalAutoencoder,
    build_autoencoder,
    reconstruction_error,
)
from keras_bigmodels.training import loop, runs
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows._common import (
    load_image_split,
    run_optimizer,
)
from keras_bigmodels.workflows.configs import (
    AutoencoderConfig,
    make_config,
)


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
        split = load_image_split(
            cfg.data,
            image_size=cfg.image_size,
            color_mode=cfg.color_mode,
            seed=cfg.seed,
        )
        x = split["x_train"].astype("float32") / 255.0
        x_test = split["x_test"].astype("float32") / 255.0
        idx_fit, idx_val = stratified_split(None, (0.9, 0.1), seed=cfg.seed, n=len(x))
        jit = run.jit_compile
        with strategy.scope():
            model = build_autoencoder(
                x.shape[1:],
                latent_dim=cfg.latent_dim,
                kind=cfg.kind,
                linear=cfg.linear,
                seed=cfg.seed,
            )
            model.compile(
                run_optimizer(cfg),
                loss=None if cfg.kind == "variational" else "mse",
                jit_compile=jit,
            )
        run.start(
            task="autoencoder",
            architecture=f"autoencoder-{cfg.kind}" + ("-linear" if cfg.linear else ""),
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
            held_out_inputs=split["x_test"],  # uint8, as an export takes them
            reconstruction_mse=mse,
            pca_mse=pca,
            code_size=cfg.latent_dim,
            ratio_to_pca=mse / pca,
        )
