"""Backbone + head classifiers: local weights, offline errors, safe unfreezing."""

import time

import keras
import numpy as np
import pytest

from keras_bigmodels import build_cnn, build_image_classifier, load_model, unfreeze
from keras_bigmodels.models import transfer
from tests.helpers import run_model_checks

SHAPE = (32, 32, 3)


def _images(n=12, shape=SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape)).astype("uint8"), np.arange(n) % 3


@pytest.mark.large
def test_a_frozen_pretrained_body_and_a_new_head_round_trip(tmp_path):
    model = build_image_classifier("mobilenet_v2", 3, input_shape=SHAPE)
    assert model.get_layer("backbone").trainable  # no weights: trained too
    x, y = _images()
    run_model_checks(model, x, y, tmp_path)


def test_the_applications_own_preprocessing_is_inside_the_model():
    model = build_image_classifier("mobilenet_v2", 2, input_shape=SHAPE, dropout=0.0)
    x, _ = _images(2)
    features = keras.Model(model.input, model.get_layer("preprocess").output)
    np.testing.assert_allclose(
        features.predict(x, verbose=0),
        keras.applications.mobilenet_v2.preprocess_input(x.astype("float32")),
        atol=1e-5,
    )
    caffe = build_image_classifier("resnet50", 2, input_shape=SHAPE, dropout=0.0)
    prep = keras.Model(caffe.input, caffe.get_layer("preprocess").output)
    np.testing.assert_allclose(
        prep.predict(x, verbose=0),
        keras.applications.resnet50.preprocess_input(x.astype("float32")),
        atol=1e-3,
    )


def test_grayscale_is_repeated_to_three_channels():
    model = build_image_classifier("mobilenet_v2", 2, input_shape=(32, 32, 1))
    x, _ = _images(2, (32, 32, 1))
    assert model.predict(x, verbose=0).shape == (2, 2)
    prep = keras.Model(model.input, model.get_layer("preprocess").output)
    out = prep.predict(x, verbose=0)
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(out[..., 0], out[..., 2])


def test_a_local_weights_file_loads_exactly(tmp_path):
    source = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=SHAPE
    )
    rng = np.random.default_rng(1)
    source.set_weights([rng.normal(size=w.shape) for w in source.get_weights()])
    path = str(tmp_path / "mobilenet.weights.h5")
    source.save_weights(path)
    model = build_image_classifier("mobilenet_v2", 3, weights=path, input_shape=SHAPE)
    body = model.get_layer("backbone")
    assert not body.trainable  # pretrained: frozen until unfreeze
    for a, b in zip(source.get_weights(), body.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_no_network_gives_one_clear_error_quickly(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(transfer, "_reachable", lambda host, timeout: False)
    start = time.time()
    with pytest.raises(transfer.WeightsUnavailableError) as info:
        build_image_classifier(
            "mobilenet_v2", 3, weights="imagenet", input_shape=(96, 96, 3)
        )
    assert time.time() - start < 10
    message = str(info.value)
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    assert name in message and str(tmp_path / "models") in message
    assert "`weights`='/path/to/" in message  # the two ways to use the file


def test_imagenet_weights_in_the_keras_cache_are_used_without_a_download(
    tmp_path, monkeypatch
):
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(transfer, "_reachable", lambda host, timeout: False)
    source = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(96, 96, 3)
    )
    rng = np.random.default_rng(2)
    source.set_weights([rng.normal(size=w.shape) for w in source.get_weights()])
    # The file Keras itself would download: legacy .h5 under its official name.
    (tmp_path / "models").mkdir()
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    with h5py.File(tmp_path / "models" / name, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    model = build_image_classifier(
        "mobilenet_v2", 3, weights="imagenet", input_shape=(96, 96, 3)
    )
    for a, b in zip(
        source.get_weights(), model.get_layer("backbone").get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_shape=(16, 16, 3)), "at least 32x32"),
        (dict(input_shape=(32, 32, 4)), "3-channel"),
        (dict(input_shape=(100, 100, 3), weights="imagenet"), "96, 128, 160"),
        (dict(weights="nope.h5"), "existing weights file"),
        (dict(pooling="mean"), "pooling"),
    ],
)
def test_input_rules_are_checked_up_front(kwargs, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        build_image_classifier("mobilenet_v2", 3, **kwargs)


@pytest.mark.large
def test_unfreeze_keeps_batchnorm_statistics_while_fine_tuning():
    model = build_image_classifier(
        "mobilenet_v2", 3, input_shape=SHAPE, freeze_backbone=True
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _images(24)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # the head alone
    body = model.get_layer("backbone")
    kernel = body.get_layer("Conv1").kernel
    before_kernel = kernel.numpy().copy()
    unfreeze(model, learning_rate=1e-2)
    bns = [x for x in body.layers if isinstance(x, keras.layers.BatchNormalization)]
    assert bns and not any(bn.trainable for bn in bns)
    stats = [v.numpy().copy() for bn in bns for v in bn.non_trainable_weights]
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, v in zip(
        stats, [v for bn in bns for v in bn.non_trainable_weights], strict=True
    ):
        np.testing.assert_array_equal(a, v.numpy())  # moving mean/var unchanged
    assert not np.array_equal(before_kernel, kernel.numpy())  # the body trained
    assert model.loss == "sparse_categorical_crossentropy"


def test_unfreeze_the_last_layers_only():
    model = build_image_classifier(
        "mobilenet_v2", 3, input_shape=SHAPE, freeze_backbone=True
    )
    unfreeze(model, layers=5)
    body = model.get_layer("backbone")
    trainable = [x.name for x in body.layers if x.trainable and x.weights]
    assert set(trainable) <= {x.name for x in body.layers[-5:]}
    assert trainable  # something does train
    with pytest.raises(ValueError, match="Received: layers=0"):
        unfreeze(model, layers=0)
    with pytest.raises(ValueError, match="backbone"):
        unfreeze(build_cnn(), learning_rate=1e-4)


def test_a_trained_cnn_is_a_backbone(tmp_path):
    cnn = build_cnn((32, 32, 1), 5, rescale=1 / 255)
    model = build_image_classifier(transfer.backbone_of(cnn), 4, dropout=0.0)
    assert model.output_shape == (None, 4)
    body = model.get_layer("backbone")
    assert not body.trainable
    # The body is the CNN up to where its feature maps are flattened: its
    # hidden Dense layer belongs to the old classes.
    x = _images(3, (32, 32, 1))[0]
    assert transfer.body_end(cnn) == "flatten"
    cut = keras.Model(cnn.inputs, cnn.get_layer("flatten").output)
    np.testing.assert_allclose(
        body.predict(x, verbose=0), cut.predict(x, verbose=0), atol=1e-6
    )
    hidden = transfer.backbone_of(cnn, "dense1")
    np.testing.assert_allclose(
        hidden.predict(x, verbose=0),
        keras.Model(cnn.inputs, cnn.get_layer("dense1").output).predict(x, verbose=0),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="Received: backbone_layer='predictions'"):
        transfer.backbone_of(cnn, "predictions")
    with pytest.raises(ValueError, match="run folder"):
        build_image_classifier("cnn", 3, backbone_layer="flatten")
    classifier = build_image_classifier("cnn", 3, input_shape=(32, 32, 1))
    assert transfer.body_end(classifier) == "pool"
    cnn_body = build_image_classifier("cnn", 3, input_shape=(32, 32, 3))
    assert cnn_body.get_layer("backbone").trainable
    path = tmp_path / "m.keras"
    model.save(path)
    np.testing.assert_allclose(
        load_model(path).predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )


def test_unfreeze_picks_the_learning_rate_for_its_kind_of_body():
    own = build_image_classifier("cnn", 3, input_shape=(32, 32, 1))
    app = build_image_classifier("mobilenet_v2", 3, input_shape=SHAPE)
    for model, rate in ((own, 1e-3), (app, 1e-5)):
        model.compile("adam", "sparse_categorical_crossentropy")
        unfreeze(model)
        assert transfer.fine_tune_learning_rate(model) == rate
        np.testing.assert_allclose(float(model.optimizer.learning_rate), rate)
    unfreeze(own, learning_rate=3e-4)  # given: used as it is
    np.testing.assert_allclose(float(own.optimizer.learning_rate), 3e-4)
