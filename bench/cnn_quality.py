"""`train cnn` with its defaults against the article's network trained as written.

The quality target of the package's main command: on the bundled digits
(1,437 training and 360 test images, 32x32 grayscale), `train cnn` with no
settings should reach >= 98.5% held-out accuracy in under two minutes on a
2-core CPU. The obvious alternative is the article's network as printed
(`build_cnn` with its defaults: no dropout, augmentation or early stopping)
trained with Keras's `fit` for as many epochs on the same training images.
Both run here, one after the other; the script prints each one's test
accuracy and seconds and the ratio of their errors.

    python bench/cnn_quality.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import keras  # noqa: E402

from keras_bigmodels import build_cnn, set_seed  # noqa: E402
from keras_bigmodels.datasets import load_digits  # noqa: E402
from keras_bigmodels.workflows import (  # noqa: E402
    ImageClassifierConfig,
    train_image_classifier,
)


def main() -> None:
    config = ImageClassifierConfig()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        ours = train_image_classifier(ImageClassifierConfig(out=out, verbose=0))
        ours_s = time.perf_counter() - start
    ours_acc = ours.metrics["test"]["accuracy"]

    set_seed(0)
    (x, y), (x_test, y_test) = load_digits((32, 32))
    start = time.perf_counter()
    article = build_cnn(input_shape=(32, 32, 1), num_classes=10, rescale=1 / 255)
    article.compile(
        keras.optimizers.Adam(config.learning_rate),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    article.fit(x, y, epochs=config.epochs, batch_size=config.batch_size, verbose=0)
    article_s = time.perf_counter() - start
    article_acc = article.evaluate(x_test, y_test, verbose=0, return_dict=True)[
        "accuracy"
    ]

    print(
        f"train cnn (defaults): test accuracy {100 * ours_acc:.2f}% in {ours_s:.0f} s "
        "(target >= 98.50% in < 120 s)"
    )
    print(
        f"the article's network, {config.epochs} epochs of fit: test accuracy "
        f"{100 * article_acc:.2f}% in {article_s:.0f} s"
    )
    print(
        f"error ratio, ours / the article's: {(1 - ours_acc) / (1 - article_acc):.2f}x"
    )


if __name__ == "__main__":
    main()
