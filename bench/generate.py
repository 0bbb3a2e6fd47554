"""Step-by-step inference: eager `model(x)` against `models.inference.forward`.

`generate`, `decode` and the GPT's held-out scoring call a model once per
token; this times one such call of a `build_gpt` model at its default size
and of a small one, eager and compiled, best of `--repeats`, in one run.

    python bench/generate.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

import keras_bigmodels as kb  # noqa: E402
from keras_bigmodels.models.inference import forward  # noqa: E402


def per_call(fn, x, calls: int, repeats: int) -> float:
    fn(x)  # trace or warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            np.asarray(fn(x))
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = {
        "default (width 128, 4 layers, context 128)": dict(max_length=128),
        "small (width 16, 1 layer, context 16)": dict(
            max_length=16, embed_dim=16, num_heads=2, num_layers=1, intermediate_dim=64
        ),
    }
    for name, kw in sizes.items():
        model = kb.build_gpt(100, **kw)
        # One (1, context) window, as `generate` feeds it every step.
        x = np.zeros((1, kw["max_length"]), "int32")
        eager = per_call(
            lambda a, m=model: m(a, training=False), x, args.calls, args.repeats
        )
        compiled = per_call(forward(model), x, args.calls, args.repeats)
        print(
            f"{name}: eager {1000 * eager:.2f} ms per call, compiled "
            f"{1000 * compiled:.2f} ms: {eager / compiled:.1f}x faster"
        )


if __name__ == "__main__":
    main()
