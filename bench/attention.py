"""Attention benchmark: our ScaledDotProductAttention against Keras's own.

Prints, in one run, milliseconds per call (forward pass, compiled with
tf.function, best of several rounds) at sequence lengths 64 to 1024 for:
  * keras_bigmodels.layers.ScaledDotProductAttention on (batch, heads, seq, d);
  * keras.ops.dot_product_attention on the same tensors in its (batch, seq,
    heads, d) layout (the reference; target: ours <= 1.1x its time);
  * keras_bigmodels.layers.MultiHeadAttention and keras.layers.MultiHeadAttention
    (projections included), self-attention on (batch, seq, heads * d);
then the ratios. Causal masking is timed too, since that is what GPT uses.

Usage: python bench/attention.py [--batch 4] [--heads 4] [--dim 64]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_bigmodels.layers import (  # noqa: E402
    MultiHeadAttention,
    ScaledDotProductAttention,
)


def best_ms(fn, args, rounds=5, calls=None):
    fn(*args)  # trace and warm up
    t = time.perf_counter()
    fn(*args)
    one = time.perf_counter() - t
    calls = calls or max(3, min(50, int(0.2 / max(one, 1e-6))))
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            out = fn(*args)
        _ = out.numpy() if hasattr(out, "numpy") else out
        best = min(best, (time.perf_counter() - t) / calls)
    return 1e3 * best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--lengths", default="64,128,256,512,1024")
    args = ap.parse_args()
    b, h, d = args.batch, args.heads, args.dim
    ours = ScaledDotProductAttention()
    our_mha = MultiHeadAttention(h, d)
    keras_mha = keras.layers.MultiHeadAttention(h, d)
    print(
        f"batch {b}, heads {h}, head dim {d}, float32, {os.cpu_count()} CPU cores; "
        "ms per forward call, best of 5 rounds"
    )
    print(
        f"{'seq':>6} {'causal':>6} {'ours':>9} {'keras.ops':>10} {'ratio':>7}   "
        f"{'our MHA':>9} {'keras MHA':>10} {'ratio':>7}"
    )
    ratios = []
    for n in map(int, args.lengths.split(",")):
        rng = np.random.default_rng(n)
        q, k, v = (
            tf.constant(rng.standard_normal((b, h, n, d)), tf.float32) for _ in range(3)
        )
        qt, kt, vt = (tf.transpose(t, (0, 2, 1, 3)) for t in (q, k, v))
        x = tf.constant(rng.standard_normal((b, n, h * d)), tf.float32)
        for causal in (False, True):
            f_ours = tf.function(
                lambda q, k, v, c=causal: ours(q, k, v, use_causal_mask=c)
            )
            f_ref = tf.function(
                lambda q, k, v, c=causal: keras.ops.dot_product_attention(
                    q, k, v, is_causal=c
                )
            )
            f_mha = tf.function(lambda x, c=causal: our_mha(x, x, use_causal_mask=c))
            f_kmha = tf.function(lambda x, c=causal: keras_mha(x, x, use_causal_mask=c))
            t_ours, t_ref = best_ms(f_ours, (q, k, v)), best_ms(f_ref, (qt, kt, vt))
            t_mha, t_kmha = best_ms(f_mha, (x,)), best_ms(f_kmha, (x,))
            ratios.append(t_ours / t_ref)
            print(
                f"{n:>6} {str(causal):>6} {t_ours:>9.3f} {t_ref:>10.3f} "
                f"{t_ours / t_ref:>6.2f}x   {t_mha:>9.3f} {t_kmha:>10.3f} "
                f"{t_mha / t_kmha:>6.2f}x"
            )
    print(
        f"worst ratio ours / keras.ops.dot_product_attention: {max(ratios):.2f}x "
        f"(target <= 1.1x); geometric mean {np.exp(np.mean(np.log(ratios))):.2f}x"
    )


if __name__ == "__main__":
    main()
