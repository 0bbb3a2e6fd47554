import numpy as np

from keras_bigmodels.data import load_data
from keras_bigmodels.datasets import export_digits, load_digits


def test_fixed_seeded_split():
    (x_train, y_train), (x_test, y_test) = load_digits()
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    assert x_train.dtype == np.uint8 and x_train.max() == 255 and x_train.min() == 0
    # Stratified: every digit is in the test split in proportion.
    counts = np.bincount(y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    (x2, y2), (xt2, yt2) = load_digits()
    np.testing.assert_array_equal(x_train, x2)
    np.testing.assert_array_equal(y_test, yt2)


def test_matches_scikit_learn_values():
    from sklearn.datasets import load_digits as sk

    bunch = sk()
    (x_train, _), (x_test, _) = load_digits()
    ours = np.concatenate([x_train, x_test])[..., 0].astype(np.int64)
    theirs = np.round(bunch.images * 255 / 16).astype(np.int64)
    # The same 1,797 images, in some order.
    assert sorted(map(bytes, ours.astype(np.uint8))) == sorted(
        map(bytes, theirs.astype(np.uint8))
    )


def test_resize():
    (x_train, _), _ = load_digits(image_size=32)
    assert x_train.shape == (1437, 32, 32, 1)


def test_export_then_load_data_gives_the_same_images(tmp_path):
    paths = export_digits(tmp_path, image_size=(16, 16))
    images, labels, names = load_data(
        paths["test"],
        image_size=(16, 16),
        color_mode="grayscale",
        return_class_names=True,
    )
    assert names == [str(i) for i in range(10)]
    _, (x_test, y_test) = load_digits(image_size=16)
    assert images.shape == x_test.shape
    # Files are sorted by class then index, so reorder the reference the same way.
    order = np.lexsort((np.arange(len(y_test)), y_test))
    np.testing.assert_array_equal(labels, y_test[order])
    np.testing.assert_array_equal(images, x_test[order])
