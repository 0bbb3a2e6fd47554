import keras
import numpy as np
import pytest
from keras import layers

from keras_bigmodels import build_cnn
from tests.helpers import run_model_checks


def test_no_arguments_is_the_article_network():
    model = build_cnn()
    assert isinstance(model, keras.Sequential)
    expected = [
        (layers.Conv2D, 32),
        (layers.MaxPooling2D, None),
        (layers.Conv2D, 64),
        (layers.MaxPooling2D, None),
        (layers.Conv2D, 128),
        (layers.MaxPooling2D, None),
        (layers.Flatten, None),
        (layers.Dense, 128),
        (layers.Dense, 10),
    ]
    assert [type(layer) for layer in model.layers] == [t for t, _ in expected]
    for layer, (kind, width) in zip(model.layers, expected, strict=True):
        cfg = layer.get_config()
        if kind is layers.Conv2D:
            assert cfg["filters"] == width
            assert tuple(cfg["kernel_size"]) == (3, 3)
            assert cfg["activation"] == "relu"
            assert cfg["padding"] == "valid"
        elif kind is layers.MaxPooling2D:
            assert tuple(cfg["pool_size"]) == (2, 2)
        elif kind is layers.Dense:
            assert cfg["units"] == width
    assert model.layers[-2].get_config()["activation"] == "relu"
    assert model.layers[-1].get_config()["activation"] == "softmax"
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 10)


def test_parameter_count_by_hand():
    def conv(cin, cout):
        return 3 * 3 * cin * cout + cout

    side = 224
    for _ in range(3):  # valid 3x3 conv then 2x2 pool
        side = (side - 2) // 2
    assert side == 26
    expected = (
        conv(3, 32)
        + conv(32, 64)
        + conv(64, 128)
        + (side * side * 128) * 128
        + 128
        + 128 * 10
        + 10
    )
    assert expected == 11_170_250
    assert build_cnn().count_params() == expected


def test_outputs_are_probabilities_and_rescale_takes_uint8():
    model = build_cnn((24, 24, 1), num_classes=4, rescale=1 / 255)
    x = np.random.default_rng(0).integers(0, 256, (3, 24, 24, 1)).astype("uint8")
    p = model.predict(x, verbose=0)
    assert p.shape == (3, 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    # Rescaling by 1/255 on uint8 equals feeding float images in [0, 1].
    plain = build_cnn((24, 24, 1), num_classes=4)
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(
        plain.predict(x / 255.0, verbose=0), p, rtol=1e-5, atol=1e-6
    )


@pytest.mark.large
def test_round_trip_and_fit_step_with_all_options(tmp_path):
    model = build_cnn(
        (28, 28, 3),
        num_classes=3,
        filters=(8, 16),
        dense_units=(16, 8),
        dropout=0.2,
        l2=1e-3,
        batch_norm=True,
        augmentation="light",
        rescale=1 / 255,
        padding="same",
    )
    names = [layer.name for layer in model.layers]
    assert (
        "block1_bn" in names and "dense1_dropout" in names and "augment_rotate" in names
    )
    # L2 weight decay contributes one loss term per regularised kernel.
    model(np.zeros((1, 28, 28, 3), "float32"))
    assert len(model.losses) == 2 + 3
    x = np.random.default_rng(1).integers(0, 256, (4, 28, 28, 3)).astype("float32")
    y = np.array([0, 1, 2, 1])
    run_model_checks(model, x, y, tmp_path)


def test_augmentation_is_inactive_at_inference():
    model = build_cnn((24, 24, 3), num_classes=2, filters=(4,), augmentation="light")
    x = np.random.default_rng(2).random((2, 24, 24, 3)).astype("float32")
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))


def test_custom_augmentation_layers_are_used():
    flip = layers.RandomFlip("horizontal", name="my_flip")
    model = build_cnn((24, 24, 3), num_classes=2, filters=(4,), augmentation=[flip])
    assert model.layers[0].name == "my_flip"


def test_one_class_gives_sigmoid():
    model = build_cnn((24, 24, 3), num_classes=1, filters=(4,))
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"input_shape": (32, 32)}, "input_shape"),
        ({"input_shape": (0, 32, 3)}, "input_shape"),
        ({"input_shape": (16, 16, 3)}, "input_shape"),  # too small for 3 blocks
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"filters": ()}, "filters"),
        ({"filters": (32, -1)}, "filters"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"dense_units": (0,)}, "dense_units"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"l2": -1.0}, "l2"),
        ({"padding": "causal"}, "padding"),
        ({"rescale": "1/255"}, "rescale"),
        ({"augmentation": "heavy"}, "augmentation"),
    ],
)
def test_invalid_arguments_name_argument_and_value(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`") as info:
        build_cnn(**kwargs)
    assert "Received:" in str(info.value)
    assert repr(next(iter(kwargs.values())))[:6] in str(info.value)
