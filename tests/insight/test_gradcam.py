"""Grad-CAM finds the one small object that decides the class."""

import os

import numpy as np
import pytest

from keras_bigmodels import build_cnn, build_image_classifier
from keras_bigmodels.insight.gradcam import grad_cam, save_overlay

SIZE, OBJ = 40, 8


def _objects(n, seed):
    """Noise images with one small bright square (class 0) or ring (class 1)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 60, (n, SIZE, SIZE, 1)).astype("uint8")
    y = rng.integers(0, 2, n)
    where = rng.integers(0, SIZE - OBJ, (n, 2))
    ring = np.full((OBJ, OBJ), 255, "uint8")
    ring[2:-2, 2:-2] = 0
    for img, label, (r, c) in zip(x, y, where, strict=True):
        patch = ring if label else np.full((OBJ, OBJ), 255, "uint8")
        img[r : r + OBJ, c : c + OBJ, 0] = np.maximum(
            img[r : r + OBJ, c : c + OBJ, 0], patch
        )
    return x, y, where


@pytest.fixture(scope="module")
def object_model():
    import keras

    keras.utils.set_random_seed(0)
    x, y, _ = _objects(800, 0)
    model = build_cnn(
        (SIZE, SIZE, 1),
        2,
        rescale=1 / 255,
        filters=(16, 32),
        dense_units=(32,),
        padding="same",
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    return model


@pytest.mark.large
def test_the_heatmap_peak_lies_on_the_object(object_model, tmp_path):
    x, y, where = _objects(50, 1)
    acc = (object_model.predict(x, verbose=0).argmax(-1) == y).mean()
    assert acc > 0.9
    hits = 0
    for img, (r, c) in zip(x, where, strict=True):
        heat = grad_cam(object_model, img)
        assert heat.shape == (SIZE, SIZE) and heat.min() >= 0 and heat.max() <= 1
        pr, pc = np.unravel_index(np.argmax(heat), heat.shape)
        margin = 2  # a pixel or two of the bilinear upsampling's spread
        hits += (
            r - margin <= pr < r + OBJ + margin and c - margin <= pc < c + OBJ + margin
        )
    assert hits / len(x) >= 0.8, hits
    path = save_overlay(
        x[0], grad_cam(object_model, x[0], class_index=1), tmp_path / "o.png"
    )
    from PIL import Image

    assert Image.open(path).size == (SIZE, SIZE)


def test_a_backbone_classifier_and_bad_arguments():
    model = build_image_classifier("mobilenet_v2", 3, input_shape=(32, 32, 3))
    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3)).astype("uint8")
    heat = grad_cam(model, img)
    assert heat.shape == (32, 32) and np.isfinite(heat).all()
    with pytest.raises(ValueError, match="class_index"):
        grad_cam(model, img, class_index=7)
    with pytest.raises(ValueError, match="Received: layer='nope'"):
        grad_cam(model, img, layer="nope")
    with pytest.raises(ValueError, match="image"):
        grad_cam(model, img[None])


def test_attention_weights_of_a_transformer_are_softmax_rows(tmp_path):
    from keras_bigmodels import build_transformer
    from keras_bigmodels.insight.attention import attention_weights, plot_attention

    model = build_transformer(20, 12, 2, embed_dim=16, num_heads=2, num_layers=2)
    tokens = np.array([3, 5, 7, 9, 0, 0])
    weights = attention_weights(model, tokens)
    assert len(weights) == 2 and weights[0].shape == (2, 6, 6)
    for w in weights:
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(w[..., 4:], 0.0, atol=1e-6)  # padding keys
    path = plot_attention(weights, list("猫狗abcd"), tmp_path / "a.png")
    assert os.path.getsize(path) > 0
    with pytest.raises(ValueError, match="TransformerEncoderBlock"):
        attention_weights(build_cnn((32, 32, 1), 2), tokens)


def test_the_overlay_keeps_the_photos_size_and_blends_jet_colours(tmp_path):
    from matplotlib import colormaps
    from PIL import Image

    photo = np.full((300, 200, 3), 100, "uint8")
    heat = np.zeros((8, 8), "float32")
    heat[4:, :] = 1.0  # the lower half is hot
    path = save_overlay(photo, heat, tmp_path / "big.png", alpha=0.5)
    drawn = np.asarray(Image.open(path))
    assert drawn.shape == (300, 200, 3)
    for row, value in ((10, 0.0), (290, 1.0)):
        jet = np.round(np.asarray(colormaps["jet"](value)[:3]) * 255)
        np.testing.assert_allclose(drawn[row, 100], 0.5 * 100 + 0.5 * jet, atol=1)


def test_only_layers_with_spatial_maps_are_offered(tmp_path):
    from keras_bigmodels import build_cnn

    model = build_cnn((24, 24, 1), 3)
    img = np.zeros((24, 24, 1), "uint8")
    dense = next(layer.name for layer in model.layers if "dense" in layer.name)
    with pytest.raises(ValueError, match="not a spatial map") as raised:
        grad_cam(model, img, layer=dense)
    offered = str(raised.value).split("[")[1].split("]")[0]
    assert dense not in offered and "conv" in offered
    assert "flatten" not in offered
