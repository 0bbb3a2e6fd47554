import json
import os

import pytest

from keras_bigmodels.workflows import ImageClassifierConfig, train_image_classifier


@pytest.mark.large
def test_short_digits_run_learns(tmp_path):
    result = train_image_classifier(
        data="digits", epochs=4, out=str(tmp_path), verbose=0
    )
    assert result.metrics["test"]["accuracy"] >= 0.85
    assert result.class_names == [str(i) for i in range(10)]
    metrics = json.load(open(os.path.join(result.run_dir, "metrics.json")))
    matrix = metrics["confusion_matrix"]["matrix"]
    assert sum(map(sum, matrix)) == 360
    correct = sum(matrix[i][i] for i in range(10)) / 360
    assert abs(correct - metrics["test"]["accuracy"]) < 1e-6


@pytest.mark.large
def test_same_seed_same_result(tmp_path):
    a = train_image_classifier(data="digits", epochs=1, out=str(tmp_path), verbose=0)
    b = train_image_classifier(data="digits", epochs=1, out=str(tmp_path), verbose=0)
    assert a.run_dir != b.run_dir
    assert a.metrics["test"]["loss"] == pytest.approx(
        b.metrics["test"]["loss"], rel=1e-5
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0),
        ("batch_size", -1),
        ("validation_split", 0.0),
        ("dropout", 1.0),
        ("color_mode", "cmyk"),
        ("image_size", (0, 3)),
    ],
)
def test_invalid_config(field, value):
    with pytest.raises(ValueError, match=field):
        ImageClassifierConfig(**{field: value}).check()
