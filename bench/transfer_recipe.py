"""The public transfer recipe: where a run's body ends, and fine-tuning's learning rate.

The README's recipe through the public API only: a classifier trained on
digits 0-4 is saved as a run folder; `build_image_classifier(RUN, 5,
backbone_layer=...)` puts a new head on its body, the head trains on the
frozen body (Adam 1e-3), then `unfreeze(model, learning_rate=LR)` and the
whole network fine-tunes. Digits 5-9 from 20 labelled images per class;
tested on every other image of 5-9. Per body and cut, the held-out error
for each fine-tuning learning rate, averaged over seeds, and its ratio to
the same network trained from scratch on the same images for as many
epochs (and, for the CNN, to the article's network as it is, without
augmentation and dropout: the comparison `keras-bigmodels transfer` prints).

Bodies: the article's CNN (`build_cnn`, augmentation and dropout, as
`keras-bigmodels transfer` pretrains it), cut where its feature maps are
flattened or after its hidden Dense layer; and MobileNetV2 from
`keras.applications` (no ImageNet weights offline: pretrained here on
digits 0-4 the same way), cut after its pooling.

    python bench/transfer_recipe.py --seeds 0 1 2
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_bigmodels import build_cnn, build_image_classifier, unfreeze  # noqa: E402
from keras_bigmodels.datasets.digits import load_digits  # noqa: E402
from keras_bigmodels.workflows.own_pretraining import few_shot_split  # noqa: E402

HEAD_EPOCHS, FINE_TUNE_EPOCHS = 30, 60


def compiled(model, lr=1e-3):
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def networks(shape):
    """name -> (builder of a 5-class network, pretraining epochs, cuts)."""
    return {
        "cnn": (
            lambda: build_cnn(
                shape, 5, rescale=1 / 255, dropout=0.3, augmentation="light"
            ),
            40,
            {"flatten (default)": None, "dense1 (hidden Dense)": "dense1"},
        ),
        "mobilenet_v2": (
            lambda: build_image_classifier(
                "mobilenet_v2", 5, input_shape=shape, augmentation="light"
            ),
            30,
            {"pool (default)": None},
        ),
    }


def error(model, x, y):
    return 1 - float(model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--shots", type=int, default=20)
    p.add_argument("--bodies", nargs="+", default=["cnn", "mobilenet_v2"])
    p.add_argument(
        "--learning-rates", type=float, nargs="+", default=[1e-3, 1e-4, 1e-5]
    )
    args = p.parse_args()
    (x, y), (xt, yt) = load_digits(32)
    x, y = np.concatenate([x, xt]), np.concatenate([y, yt])
    shape = x.shape[1:]
    results = {}  # (body, cut, lr or "scratch") -> [errors]
    with tempfile.TemporaryDirectory() as work:
        for seed in args.seeds:
            rng = np.random.default_rng(seed)
            source = rng.permutation(np.flatnonzero(y < 5))
            n_val = len(source) // 10
            shots, test = few_shot_split(
                y, classes=range(5, 10), shots=args.shots, seed=seed
            )
            target = y - 5
            for body, (build, epochs, cuts) in networks(shape).items():
                if body not in args.bodies:
                    continue
                keras.utils.set_random_seed(seed)
                pre = compiled(build())
                pre.fit(
                    x[source[n_val:]],
                    y[source[n_val:]],
                    validation_data=(x[source[:n_val]], y[source[:n_val]]),
                    epochs=epochs,
                    batch_size=32,
                    verbose=0,
                    callbacks=[
                        keras.callbacks.EarlyStopping(
                            patience=5, restore_best_weights=True
                        )
                    ],
                )
                run = os.path.join(work, f"{body}-{seed}")
                os.makedirs(run, exist_ok=True)
                pre.save(os.path.join(run, "model.keras"))
                baselines = {"from scratch": build}
                if body == "cnn":  # the article's network as it is
                    baselines["article's network from scratch"] = lambda: build_cnn(
                        shape, 5, rescale=1 / 255
                    )
                for label, make in baselines.items():
                    keras.utils.set_random_seed(seed + 1)
                    scratch = compiled(make())
                    scratch.fit(
                        x[shots],
                        target[shots],
                        epochs=HEAD_EPOCHS + FINE_TUNE_EPOCHS,
                        batch_size=32,
                        verbose=0,
                    )
                    results.setdefault((body, label, None), []).append(
                        error(scratch, x[test], target[test])
                    )
                key = (body, "from scratch", None)
                for cut, layer in cuts.items():
                    for lr in args.learning_rates:
                        keras.utils.set_random_seed(seed + 1)
                        model = compiled(
                            build_image_classifier(
                                run, 5, dropout=0.3, backbone_layer=layer
                            )
                        )
                        few = dict(x=x[shots], y=target[shots], batch_size=32)
                        model.fit(**few, epochs=HEAD_EPOCHS, verbose=0)
                        unfreeze(model, learning_rate=lr)
                        model.fit(**few, epochs=FINE_TUNE_EPOCHS, verbose=0)
                        e = error(model, x[test], target[test])
                        results.setdefault((body, cut, lr), []).append(e)
                        print(
                            f"seed {seed} {body} cut at {cut}, fine-tune lr {lr:g}: "
                            f"error {100 * e:.2f}% (scratch "
                            f"{100 * results[key][-1]:.2f}%)",
                            flush=True,
                        )
    print(f"\nmean held-out error on digits 5-9 over seeds {args.seeds}:")
    for body in args.bodies:
        scratch = np.mean(results[(body, "from scratch", None)])
        article = results.get((body, "article's network from scratch", None))
        print(f"{body}: the same network from scratch {100 * scratch:.2f}%")
        if article:
            print(
                f"{body}: the article's network from scratch "
                f"{100 * np.mean(article):.2f}%"
            )
        for (b, cut, lr), errors in results.items():
            if b != body or lr is None:
                continue
            mean = np.mean(errors)
            versus = f"ratio to the same from scratch {mean / scratch:.2f}x"
            if article:
                versus += f", to the article's {mean / np.mean(article):.2f}x"
            print(f"  cut at {cut:<22} lr {lr:<7g} {100 * mean:6.2f}%  {versus}")


if __name__ == "__main__":
    main()
