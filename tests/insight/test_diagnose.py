import keras
import numpy as np
import pytest

from keras_bigmodels.insight import diagnose_history


def test_overfitting_names_the_turning_epoch_and_the_remedies():
    d = diagnose_history(
        {"loss": [1.0, 0.5, 0.3, 0.2, 0.1], "val_loss": [1.0, 0.6, 0.5, 0.6, 0.8]}
    )
    assert d.verdict == "overfitting" and d.turning_epoch == 3
    assert "60%" in d.reason_en and "第 3 轮" in d.reason_zh
    assert any("dropout" in r for r in d.remedies_en)
    assert any("数据增强" in r for r in d.remedies_zh)


@pytest.mark.parametrize(
    "history, verdict",
    [
        ({"loss": [1.0, 0.97, 0.95, 0.94]}, "underfitting"),  # barely learned
        (
            {"loss": [1.0, 0.8, 0.6, 0.45], "val_loss": [1.0, 0.8, 0.62, 0.5]},
            "underfitting",
        ),
        (
            {
                "loss": [1.0, 0.5, 0.3, 0.25, 0.24],
                "val_loss": [1.0, 0.55, 0.4, 0.39, 0.39],
            },
            "fine",
        ),
        ({"loss": [2.3, 0.2, 0.05, 0.01], "val_loss": [2.3, 0.3, 0.1, 0.02]}, "fine"),
    ],
)
def test_verdicts(history, verdict):
    d = diagnose_history(history)
    assert d.verdict == verdict
    if "val_loss" in history:
        assert d.turning_epoch == int(np.argmin(history["val_loss"])) + 1
    assert (d.remedies_en == []) == (verdict == "fine")


def test_a_keras_history_and_bad_input():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((8, 2), "float32")
    h = model.fit(x, x[:, :1], validation_data=(x, x[:, :1]), epochs=3, verbose=0)
    d = diagnose_history(h)
    assert d.turning_epoch == int(np.argmin(h.history["val_loss"])) + 1
    with pytest.raises(ValueError, match="no 'loss' curve"):
        diagnose_history({"accuracy": [0.5]})
    with pytest.raises(ValueError, match="Received: rise=0"):
        diagnose_history({"loss": [1.0]}, rise=0)


def test_a_loss_that_grows_by_orders_of_magnitude_is_divergence():
    from keras_bigmodels.insight.diagnose import diagnose_history

    history = {
        "loss": [4.6e20, 3.1e20, 5.0e20],
        "val_loss": [2.0e20, 6.0e20, 4.0e20],
        "learning_rate": [1e6, 1e6, 1e6],
    }
    d = diagnose_history(history, initial_loss=0.69)
    assert d.verdict == "diverging"
    assert "1e+06" in d.reason_en and "0.69" in d.reason_en
    assert any("learning rate" in r for r in d.remedies_en)
    assert "学习率" in d.reason_zh
    # Without the first batch's loss, growth over the epochs counts.
    assert diagnose_history({"loss": [0.7, 30.0, 900.0]}).verdict == "diverging"
    # A loss that only fell is never divergence, however high it started.
    assert diagnose_history({"loss": [900.0, 30.0, 0.7]}).verdict != "diverging"
    assert diagnose_history({"loss": [0.7, 0.6]}, initial_loss=0.7).verdict != (
        "diverging"
    )
