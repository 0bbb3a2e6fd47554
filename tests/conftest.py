"""Shared fixtures: tiny generated image folders, quiet TensorFlow."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Screening verdicts are remembered per folder; keep the tests' own out of ~/.cache.
os.environ.setdefault("KERAS_BIGMODELS_CACHE", tempfile.mkdtemp(prefix="kbm-cache-"))

import numpy as np
import pytest
from PIL import Image


def pattern_image(label: int, size=(20, 24), seed=0) -> np.ndarray:
    """A uint8 RGB image whose mean colour depends on `label`, plus noise."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = np.zeros((h, w, 3), np.float64)
    base[..., label % 3] = 200.0
    base[: h // 2, :, (label + 1) % 3] = 120.0
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


def write_image(path, array, fmt=None, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    im = Image.fromarray(array)
    if mode:
        im = im.convert(mode)
    im.save(path, format=fmt)
    return str(path)


def make_class_folder(root, counts, ext=".png", size=(20, 24)):
    """root/<class>/<i>.<ext> for each class name -> count in `counts`."""
    paths = []
    for label, (name, n) in enumerate(counts.items()):
        for i in range(n):
            p = os.path.join(root, name, f"{i:03d}{ext}")
            paths.append(write_image(p, pattern_image(label, size, seed=i)))
    return paths


@pytest.fixture
def class_folder(tmp_path):
    """Three classes ('cat' 10, 'dog' 10, 'owl' 5) of small PNG images."""
    make_class_folder(tmp_path, {"cat": 10, "dog": 10, "owl": 5})
    return tmp_path
