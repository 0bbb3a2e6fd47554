"""GPT training throughput: tokens/s of build_gpt with and without XLA (jit_compile).

Trains the same model (same seed, same batches of the bundled corpus) with
`model.compile(jit_compile=False)` and `jit_compile=True`, and prints training
tokens per second for each (first epoch excluded: it includes tracing and
compilation) and the ratio; the setting `train gpt` resolves to on this
machine is marked (XLA only where a GPU is used).

Usage: python bench/gpt.py [--steps 60] [--batch 32] [--seq 128]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_bigmodels import build_gpt, set_seed  # noqa: E402
from keras_bigmodels.data import Tokenizer  # noqa: E402
from keras_bigmodels.data.text import next_token_windows  # noqa: E402
from keras_bigmodels.datasets import load_corpus  # noqa: E402


class StepTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.last = time.perf_counter() - self.start


def tokens_per_second(jit, x, y, args):
    set_seed(0)
    model = build_gpt(
        args.vocab,
        max_length=args.seq,
        embed_dim=args.dim,
        num_heads=4,
        num_layers=args.layers,
        intermediate_dim=4 * args.dim,
        dropout=0.1,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    timer = StepTimer()
    n = args.steps * args.batch
    model.fit(x[:n], y[:n], batch_size=args.batch, epochs=1, verbose=0, shuffle=False)
    best = 0.0
    for _ in range(2):
        model.fit(
            x[:n],
            y[:n],
            batch_size=args.batch,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[timer],
        )
        best = max(best, n * args.seq / timer.last)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    args = ap.parse_args()
    tok = Tokenizer.adapt(load_corpus())
    args.vocab = tok.vocab_size
    x, y = next_token_windows(tok.encode(load_corpus()), args.seq, args.seq // 2)
    if len(x) < args.steps * args.batch:
        raise SystemExit("corpus too small for --steps x --batch")
    print(
        f"GPT: {args.layers} layers, width {args.dim}, context {args.seq}, "
        f"batch {args.batch}, vocab {args.vocab}; {args.steps} steps per timed "
        f"epoch, best of 2 after a warm-up epoch; {os.cpu_count()} CPU cores"
    )
    from keras_bigmodels.training.precision import xla_setting

    here, why = xla_setting(None)
    print(f"train gpt runs with jit_compile={here} on this machine ({why})")
    rates = {jit: tokens_per_second(jit, x, y, args) for jit in (False, True)}
    for jit, rate in rates.items():
        mark = "   <- what train gpt runs here" if jit == here else ""
        print(f"jit_compile={str(jit):<6}{rate:10.0f} training tokens/s{mark}")
    print(f"ratio XLA / plain: {rates[True] / rates[False]:.2f}x")
    ratio = rates[here] / rates[not here]
    print(f"ratio train gpt's setting / the other: {ratio:.2f}x")


if __name__ == "__main__":
    main()
