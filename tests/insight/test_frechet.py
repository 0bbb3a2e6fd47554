import numpy as np
import pytest
import scipy.linalg

from keras_bigmodels.insight.frechet import frechet_distance

RNG = np.random.default_rng(0)


def reference(a, b):
    """The formula as usually written, with a general matrix square root."""
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * covmean)


def test_matches_the_formula():
    a = RNG.normal(size=(400, 6))
    b = RNG.normal(size=(300, 6)) @ RNG.normal(size=(6, 6)) + 0.5
    np.testing.assert_allclose(frechet_distance(a, b), reference(a, b), rtol=1e-8)


def test_one_dimension_closed_form():
    # For 1-d Gaussians d² = (μ1 − μ2)² + (σ1 − σ2)².
    a = RNG.normal(2.0, 3.0, size=(1000, 1))
    b = RNG.normal(-1.0, 0.5, size=(800, 1))
    s1, s2 = a.std(ddof=1), b.std(ddof=1)
    expected = (a.mean() - b.mean()) ** 2 + (s1 - s2) ** 2
    np.testing.assert_allclose(frechet_distance(a, b), expected, rtol=1e-9)


def test_identical_sets_and_singular_covariances():
    a = RNG.normal(size=(100, 4))
    a[:, 3] = 0.0  # a dead feature: singular covariance
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(a, a + 1.0) == pytest.approx(4.0, rel=1e-9)


def test_validates_shapes():
    with pytest.raises(ValueError, match="same d"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(np.zeros((1, 2)), np.zeros((5, 2)))
