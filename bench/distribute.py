"""Data parallelism through tf.distribute: same results, and what a step costs.

Trains the article's CNN on the bundled digits (32x32, global batch 50, three
epochs, plain SGD, deterministic ops) with `keras_bigmodels.training.loop.fit`
three ways, each in a fresh process:

- one process, one CPU device (the reference);
- one process, two logical CPU devices under `MirroredStrategy`;
- two worker processes on localhost under `MultiWorkerMirroredStrategy`
  (`TF_CONFIG`, free ports), one device each.

It prints the step time of each against the reference and the largest weight
difference from the reference: the runs must agree (same global batch, same
order); on one 2-core machine, splitting a batch over devices that share the
same cores cannot be faster, so the ratio shows the synchronisation cost.

    python bench/distribute.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCHS, BATCH, WARMUP = 3, 50, 5


def worker(mode: str, weights_path: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, os.path.join(HERE, ".."))
    import tensorflow as tf

    from keras_bigmodels.training import distribute

    if mode == "multi_worker":
        strategy = distribute.get_strategy("multi_worker")
    elif mode == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:
        strategy = tf.distribute.get_strategy()

    import keras
    import numpy as np

    from keras_bigmodels import build_cnn, set_seed
    from keras_bigmodels.data.batches import EpochBatches
    from keras_bigmodels.datasets import load_digits
    from keras_bigmodels.training import loop
    from keras_bigmodels.training.run_config import RunConfig
    from keras_bigmodels.training.runs import Run

    sys.path.insert(0, HERE)
    from training import StepTimer

    set_seed(0, deterministic=True)
    (x, y), _ = load_digits((32, 32))
    x, y = x[:1150], y[:1150]  # 23 global batches of 50
    with strategy.scope():
        model = build_cnn((32, 32, 1), 10, rescale=1 / 255)
        # Plain SGD, a small step: the update is linear in the gradient, so
        # the last-bit difference of summing two half-batch gradients instead
        # of one batch's stays at float32 precision. Adam (dividing by
        # sqrt(v) on weights whose gradient is nearly zero) or SGD with a
        # large step and momentum amplify it: measured 5e-3 and 0.4 apart
        # after three epochs, with the two workers still identical.
        model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    with tempfile.TemporaryDirectory() as out:
        run = Run.open(RunConfig(out=out), "bench", chief=distribute.is_chief(strategy))
        run.start(task="bench")
        timer = StepTimer(WARMUP)
        loop.fit(
            run,
            model,
            EpochBatches.from_arrays(
                (x, y),
                BATCH,
                seed=0,
                drop_remainder=strategy.num_replicas_in_sync > 1,
            ),
            epochs=EPOCHS,
            strategy=strategy,
            monitor=None,
            callbacks=[timer],
            verbose=0,
        )
    np.savez(weights_path, *model.get_weights())
    print(
        json.dumps(
            {
                "step_s": BATCH / timer.rate(BATCH),
                "replicas": strategy.num_replicas_in_sync,
            }
        )
    )


def _launch(mode, weights, tf_config=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", mode, weights],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc):
    out, err = proc.communicate(timeout=900)
    if proc.returncode:
        raise SystemExit(f"worker failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def main():
    import numpy as np

    def load(path):
        with np.load(path) as f:
            return [f[k] for k in f.files]

    with tempfile.TemporaryDirectory() as tmp:
        paths = {m: os.path.join(tmp, f"{m}.npz") for m in ("one", "mirrored")}
        results = {m: _result(_launch(m, p)) for m, p in paths.items()}
        sys.path.insert(0, os.path.join(HERE, ".."))
        from keras_bigmodels.training.distribute import localhost_cluster

        workers = [
            _launch("multi_worker", os.path.join(tmp, f"worker{i}.npz"), tf_config)
            for i, tf_config in enumerate(localhost_cluster(2))
        ]
        mw = [_result(w) for w in workers]
        results["multi_worker"] = mw[0]
        ref = load(paths["one"])
        w0, w1 = (
            load(os.path.join(tmp, "worker0.npz")),
            load(os.path.join(tmp, "worker1.npz")),
        )
        diffs = {
            "mirrored": max(
                abs(a - b).max()
                for a, b in zip(load(paths["mirrored"]), ref, strict=True)
            ),
            "multi_worker": max(abs(a - b).max() for a, b in zip(w0, ref, strict=True)),
        }
        between = max(abs(a - b).max() for a, b in zip(w0, w1, strict=True))
    one = results["one"]["step_s"]
    print(
        f"article CNN, digits 32x32, global batch {BATCH}, {EPOCHS} epochs "
        f"(steps after {WARMUP} timed)"
    )
    print(f"{'setting':<40} {'ms/step':>8} {'vs one':>7} {'max |w - w_one|':>16}")
    print(
        f"{'one process, one CPU device':<40} {1000 * one:>8.1f} {1.0:>6.2f}x "
        f"{0.0:>16.2e}"
    )
    print(
        f"{'mirrored, two logical CPU devices':<40} "
        f"{1000 * results['mirrored']['step_s']:>8.1f} "
        f"{results['mirrored']['step_s'] / one:>6.2f}x {diffs['mirrored']:>16.2e}"
    )
    print(
        f"{'multi_worker, two localhost workers':<40} "
        f"{1000 * results['multi_worker']['step_s']:>8.1f} "
        f"{results['multi_worker']['step_s'] / one:>6.2f}x "
        f"{diffs['multi_worker']:>16.2e}"
    )
    print(f"worker 0 vs worker 1 weights: max difference {between:.1e}")
    agree = max(diffs.values()) <= 1e-5 and between == 0
    print(f"results agree (<= 1e-5): {'yes' if agree else 'NO'}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
