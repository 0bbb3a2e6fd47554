"""One shared check for every layer and model (keras-hub's run_model_saving_test)."""

import os

import keras
import numpy as np


def run_model_checks(model, x, y, tmp_path, loss="sparse_categorical_crossentropy"):
    """Symbolic call, config round trip, `.keras` round trip, one `fit` step.

    Returns the reloaded model.
    """
    # Symbolic call with a None batch dimension.
    sym = keras.Input(shape=model.input_shape[1:], batch_size=None)
    out = model(sym)
    assert out.shape[0] is None
    # get_config / from_config rebuilds the same architecture.
    clone = model.__class__.from_config(model.get_config())
    assert [type(layer) for layer in clone.layers] == [
        type(layer) for layer in model.layers
    ]
    assert clone.count_params() == model.count_params()
    # .keras round trip gives equal outputs.
    before = model.predict(x, verbose=0)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    from keras_bigmodels import load_model

    loaded = load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), before, rtol=1e-6, atol=1e-6
    )
    # One training step runs and moves the weights.
    model.compile(optimizer="adam", loss=loss)
    w0 = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=len(x), verbose=0)
    assert any(
        not np.allclose(a, b) for a, b in zip(w0, model.get_weights(), strict=True)
    )
    return loaded


def run_layer_checks(model, x, tmp_path):
    """For a small functional model wrapping one custom layer: config round trip,
    `.keras` round trip with equal outputs, and one fit step on a regression target.
    """
    rebuilt = model.__class__.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(
        rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    path = os.path.join(tmp_path, f"{model.name}.keras")
    model.save(path)
    from keras_bigmodels import load_model

    loaded = load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )
    if model.trainable_weights:
        model.compile(optimizer="adam", loss="mse")
        y = np.zeros_like(model.predict(x, verbose=0))
        model.fit(x, y, epochs=1, batch_size=len(x), verbose=0)
    return loaded
