import os

import keras
import numpy as np
import pytest

from keras_bigmodels import load_model


def test_run_folder_and_file_both_load(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(tmp_path / "model.keras")
    x = np.ones((1, 3), "float32")
    for path in (tmp_path, tmp_path / "model.keras"):
        np.testing.assert_allclose(
            load_model(path).predict(x, verbose=0), model.predict(x, verbose=0)
        )


def test_safe_mode_refuses_lambda_code(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match="(?i)safe_mode|unsafe|lambda"):
        load_model(path)


def test_missing_and_non_keras_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nothing.keras")
    bogus = tmp_path / "bogus.keras"
    bogus.write_text("not a zip")
    with pytest.raises(ValueError, match="not a Keras model file"):
        load_model(bogus)
    assert os.path.exists(bogus)


def test_unsafe_load_is_the_one_way_to_open_a_lambda_and_says_so(tmp_path, capsys):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    loaded = load_model(path, safe_mode=False)
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), 2 * x)
    assert "safe mode off" in capsys.readouterr().err
