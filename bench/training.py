"""Training-step throughput: our training loop against plain Keras, per builder.

For each builder at its default size, the same compiled network is trained
(a) with Keras's own `model.fit` and (b) with `keras_bigmodels.training.loop.fit`,
the loop every `train` command runs (seeded resumable epoch order, a finite
check of every step's loss, full-state checkpoints every 100 steps, CSV and
TensorBoard logs, best-model saving). For the CNN a third line trains the
article's network written by hand as a `keras.Sequential` with `model.fit`.
Each is timed with and without XLA (`jit_compile`), over the same steps after
a warm-up, alternating the two sides, best of `--repeats`, in one run. The
overhead target of the loop is <= 5%.

    python bench/training.py            # all builders
    python bench/training.py --only cnn gpt --repeats 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_bigmodels as kb  # noqa: E402
from keras_bigmodels.data.batches import EpochBatches  # noqa: E402
from keras_bigmodels.training import loop  # noqa: E402
from keras_bigmodels.training.run_config import RunConfig  # noqa: E402
from keras_bigmodels.training.runs import Run  # noqa: E402


class StepTimer(keras.callbacks.Callback):
    """Wall time from the end of step `warmup` to the end of the last step."""

    def __init__(self, warmup):
        super().__init__()
        self.warmup, self.count, self.start, self.end = warmup, 0, None, None

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
        if self.count == self.warmup:
            self.start = time.perf_counter()
        self.end = time.perf_counter()

    def rate(self, batch_size):
        return (self.count - self.warmup) * batch_size / (self.end - self.start)


def article_cnn_by_hand():
    return keras.Sequential(
        [
            keras.Input((224, 224, 3)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(128, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def cases(rng):
    """name -> (builder, data (x, y), loss, batch_size, timed steps)."""
    ids = lambda n, v, t: rng.integers(1, v, (n, t)).astype("int32")  # noqa: E731
    n = 512
    return {
        "cnn": (
            lambda: kb.build_cnn(),
            (
                rng.integers(0, 255, (64, 224, 224, 3)).astype("uint8"),
                rng.integers(0, 10, 64),
            ),
            "sparse_categorical_crossentropy",
            16,
            12,
        ),
        "rnn": (
            lambda: kb.build_rnn("lstm", vocab_size=24),
            (ids(n, 24, 48), rng.integers(0, 2, n)),
            "sparse_categorical_crossentropy",
            64,
            300,
        ),
        "transformer": (
            lambda: kb.build_transformer(24, 48),
            (ids(n, 24, 48), rng.integers(0, 2, n)),
            "sparse_categorical_crossentropy",
            64,
            150,
        ),
        "seq2seq": (
            lambda: kb.build_seq2seq(15, 15),
            ((ids(n, 15, 64), ids(n, 15, 64)), ids(n, 15, 64)),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            64,
            40,
        ),
        "gpt": (
            lambda: kb.build_gpt(105),
            (ids(n, 105, 128), ids(n, 105, 128)),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            32,
            30,
        ),
        "autoencoder": (
            lambda: kb.build_autoencoder((8, 8, 1)),
            (rng.random((n, 8, 8, 1)).astype("float32"),) * 2,
            "mse",
            64,
            600,
        ),
    }


def _compiled(build, loss, jit):
    kb.set_seed(0)
    model = build()
    model.compile(keras.optimizers.Adam(1e-4), loss=loss, jit_compile=jit)
    return model


def keras_fit_rate(build, data, loss, batch, jit, steps, warmup):
    model = _compiled(build, loss, jit)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(batch).repeat()
    timer = StepTimer(warmup)
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[timer])
    return timer.rate(batch)


def our_loop_rate(build, data, loss, batch, jit, steps, warmup, out):
    model = _compiled(build, loss, jit)
    n = len(tf.nest.flatten(data)[0])
    reps = -(-steps * batch // n)
    tiled = tf.nest.map_structure(lambda a: np.concatenate([a] * reps), data)
    batches = EpochBatches.from_arrays(tiled, batch, seed=0, drop_remainder=True)
    run = Run.open(RunConfig(out=out), "bench")
    run.start(task="bench")
    timer = StepTimer(warmup)
    loop.fit(
        run,
        model,
        batches,
        epochs=1,
        strategy=tf.distribute.get_strategy(),
        monitor=None,
        callbacks=[timer],
        checkpoint_every=100,
        verbose=0,
    )
    return timer.rate(batch)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    table = cases(rng)
    names = args.only or list(table)
    print(
        f"{'builder':<12} {'jit':<5} {'keras fit':>10} {'our loop':>10} "
        f"{'ratio':>6}   samples/s, best of {args.repeats}"
    )
    worst = []
    with tempfile.TemporaryDirectory() as out:
        for name in names:
            build, data, loss, batch, steps = table[name]
            total = steps + args.warmup
            for jit in (False, True):
                ref = ours = hand = 0.0
                for _ in range(args.repeats):  # alternate, so load hits both
                    ref = max(
                        ref,
                        keras_fit_rate(
                            build, data, loss, batch, jit, total, args.warmup
                        ),
                    )
                    ours = max(
                        ours,
                        our_loop_rate(
                            build, data, loss, batch, jit, total, args.warmup, out
                        ),
                    )
                    if name == "cnn":
                        hand = max(
                            hand,
                            keras_fit_rate(
                                article_cnn_by_hand,
                                data,
                                loss,
                                batch,
                                jit,
                                total,
                                args.warmup,
                            ),
                        )
                worst.append((ours / ref, name, jit))
                print(
                    f"{name:<12} {str(jit):<5} {ref:>10.1f} {ours:>10.1f} "
                    f"{ours / ref:>5.2f}x   ({steps} steps of {batch})",
                    flush=True,
                )
                if hand:
                    print(
                        f"{'  by hand':<12} {str(jit):<5} {hand:>10.1f} "
                        f"{ours:>10.1f} {ours / hand:>5.2f}x   (article CNN as "
                        "keras.Sequential, model.fit)",
                        flush=True,
                    )
    ratio, name, jit = min(worst)
    print(
        f"lowest ratio our loop / keras fit: {ratio:.2f}x ({name}, jit={jit}); "
        f"overhead {100 * (1 - ratio):.1f}% (target <= 5%)"
    )


if __name__ == "__main__":
    main()
