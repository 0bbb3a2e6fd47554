import numpy as np
import pytest
from sklearn.impute import SimpleImputer

from keras_bigmodels import build_mlp, load_model
from keras_bigmodels.data.tabular import (
    drop_missing_rows,
    impute,
    mask_missing_steps,
    remove_at_random,
)
from keras_bigmodels.layers import MissingValueImputer


def _table(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 5)) * [1, 10, 100, 1, 5]
    return remove_at_random(x, 0.25, seed).astype("float64")


@pytest.mark.parametrize("strategy", ["mean", "median"])
def test_statistics_equal_scikit_learns_simple_imputer(strategy):
    x = _table()
    layer = MissingValueImputer(strategy)
    layer.adapt(x)
    expected = SimpleImputer(strategy=strategy).fit(x).statistics_
    np.testing.assert_allclose(layer.statistics.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(layer(x)),
        SimpleImputer(strategy=strategy).fit_transform(x),
        rtol=1e-6,
    )


def test_max_and_constant_and_indicator():
    x = _table(1)
    layer = MissingValueImputer("max")
    layer.adapt(x)
    np.testing.assert_allclose(
        layer.statistics.numpy(), np.nanmax(x, axis=0), rtol=1e-6
    )
    const = MissingValueImputer("constant", fill_value=-1.0, add_indicator=True)
    const.adapt(x)
    out = np.asarray(const(x))
    assert out.shape == (60, 10)
    np.testing.assert_array_equal(out[:, 5:], np.isnan(x).astype("float32"))
    np.testing.assert_allclose(out[:, :5][np.isnan(x)], -1.0)


def test_the_validation_split_never_changes_the_statistics(tmp_path):
    x_train, x_val = _table(2), _table(3) * 50
    layer = MissingValueImputer("median")
    layer.adapt(x_train)
    before = layer.statistics.numpy().copy()
    model = build_mlp(5, 2, imputer=layer)
    model.compile("adam", "sparse_categorical_crossentropy")
    y = np.arange(60) % 2
    model.fit(x_train, y, validation_data=(x_val, y), epochs=2, verbose=0)
    np.testing.assert_array_equal(layer.statistics.numpy(), before)
    # Saved inside the model: equal predictions after a .keras round trip.
    path = tmp_path / "mlp.keras"
    model.save(path)
    again = load_model(path)
    np.testing.assert_allclose(
        again.predict(x_val, verbose=0), model.predict(x_val, verbose=0), atol=1e-6
    )
    assert not np.isnan(again.predict(x_val, verbose=0)).any()


def test_the_same_strategies_on_arrays_and_dropping_rows():
    x = _table(4)
    filled, stats = impute(x, "median")
    np.testing.assert_allclose(
        stats, SimpleImputer(strategy="median").fit(x).statistics_
    )
    other, same = impute(_table(5), statistics=stats)
    np.testing.assert_array_equal(same, stats)
    assert not np.isnan(filled).any() and not np.isnan(other).any()
    y = np.arange(60)
    kept_x, kept_y = drop_missing_rows(x, y)
    assert not np.isnan(kept_x).any()
    np.testing.assert_array_equal(kept_y, np.flatnonzero(~np.isnan(x).any(axis=1)))


def test_missing_steps_are_masked_for_sequences():
    seq = np.ones((2, 4, 3), "float32")
    seq[0, 1, 2] = np.nan
    seq[1, 3] = np.nan
    filled, keep = mask_missing_steps(seq, mask_value=0.0)
    np.testing.assert_array_equal(keep, [[1, 0, 1, 1], [1, 1, 1, 0]])
    assert (filled[0, 1] == 0).all() and (filled[0, 0] == 1).all()
    import keras

    inputs = keras.Input((4, 3))
    masked = keras.layers.Masking(0.0)(inputs)
    out = keras.layers.LSTM(2)(masked)
    model = keras.Model(inputs, out)
    # A masked step changes nothing: the same as the sequence without it.
    a = model.predict(filled[1:2], verbose=0)
    b = model.predict(filled[1:2, :3], verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: strategy='mode'"):
        MissingValueImputer("mode")
    with pytest.raises(ValueError, match="fill_value"):
        MissingValueImputer("constant", fill_value=float("nan"))
