"""The Fréchet distance between two sets of feature vectors (the "FID" recipe).

Both sets are summarised as Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂) and compared
with the Fréchet (2-Wasserstein) distance of Heusel et al. 2017
(https://arxiv.org/abs/1706.08500):

    d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½)

With Inception features this is the FID; here any classifier's features do,
e.g. the digits classifier the GAN workflow trains.
"""

from __future__ import annotations

import numpy as np


def frechet_distance(features_a, features_b) -> float:
    """d² between Gaussians fitted to two (N, d) feature arrays.

    Args:
        features_a: array (N, d). E.g. features of real images.
        features_b: array (M, d). E.g. features of generated images.

    Returns:
        float >= 0 (0 for identical statistics).

    Example:

    >>> a = np.random.default_rng(0).normal(size=(500, 4))
    >>> round(frechet_distance(a, a), 6)
    0.0
    """
    a = np.asarray(features_a, "float64")
    b = np.asarray(features_b, "float64")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            "`features_a` and `features_b` must be (N, d) arrays with the same d. "
            f"Received: shapes {a.shape} and {b.shape}"
        )
    if len(a) < 2 or len(b) < 2:
        raise ValueError(
            "Each feature set needs at least 2 rows for a covariance. "
            f"Received: {len(a)} and {len(b)} rows"
        )
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    # Tr((Σa Σb)^½) = Tr((Σa^½ Σb Σa^½)^½), and the right side is a symmetric
    # PSD matrix: eigenvalues instead of a general sqrtm, so singular
    # covariances (dead ReLU features) need no fudge and raise no warning.
    vals, vecs = np.linalg.eigh(cov_a)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    inner = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    tr_covmean = np.sum(np.sqrt(np.clip(inner, 0, None)))
    d2 = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_covmean
    return float(max(d2, 0.0))
