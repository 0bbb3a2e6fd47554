"""Gradient accumulation: N micro-batches of B update as one batch of N*B."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bigmodels.data.batches import EpochBatches, window_weights
from keras_bigmodels.training import accumulation, loop
from keras_bigmodels.training import resume as ckpt
from keras_bigmodels.training.precision import optimizer
from keras_bigmodels.training.run_config import RESUME_LATEST, RunConfig
from keras_bigmodels.training.runs import Run
from keras_bigmodels.training.seed import set_seed
from tests.helpers import InterruptAt, python_process

RNG = np.random.default_rng(1)
# 61 examples: batches of 32 leave a last batch of 29; micro-batches of 8
# leave a last window of 8, 8, 8, 5.
X = RNG.normal(size=(61, 5)).astype("float32")
Y = (X @ RNG.normal(size=(5, 1)) + 0.1 * RNG.normal(size=(61, 1))).astype("float32")


def _model(opt):
    set_seed(0)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(opt, "mse")
    return model


def _train(tmp_path, name, opt, batch_size, epochs=3, resume=None, callbacks=()):
    model = _model(opt)
    with Run.open(RunConfig(out=str(tmp_path / name), resume=resume), "t") as run:
        run.start(task="test")
        loop.fit(
            run,
            model,
            EpochBatches.from_arrays((X, Y), batch_size, seed=3),
            epochs=epochs,
            strategy=tf.distribute.get_strategy(),
            monitor=None,
            verbose=0,
            checkpoint_every=1,
            callbacks=callbacks,
        )
    return model


def test_window_weights_make_a_partial_window_a_mean_over_its_examples():
    w = window_weights([8, 8, 8, 8, 8, 8, 8, 5], 4)
    np.testing.assert_allclose(w[:4], 1.0)
    np.testing.assert_allclose(w[4:], np.array([8, 8, 8, 5]) * 4 / 29)
    # A lone last micro-batch is a window of its own.
    np.testing.assert_allclose(window_weights([8, 8, 3], 2), [1, 1, 1])
    with pytest.raises(ValueError, match="accumulation_steps"):
        EpochBatches.from_arrays(X, 8).weighted_windows(0)


@pytest.mark.parametrize(
    "name, kwargs, steps",
    [
        ("SGD", {"momentum": 0.9}, 4),
        ("Adam", {}, 4),
        # 61 = 24 + 24 + 13: the last window holds 2 micro-batches (8 + 5),
        # applied at the epoch's end.
        ("Adam", {}, 3),
        ("AdamW", {"weight_decay": 0.01}, 3),
    ],
)
def test_micro_batches_give_the_weights_of_one_large_batch(
    tmp_path, name, kwargs, steps
):
    big = _train(tmp_path, "big", optimizer(name, 0.01, **kwargs), 8 * steps)
    small = _train(tmp_path, "small", optimizer(name, 0.01, None, steps, **kwargs), 8)
    assert accumulation.accumulation_steps(small) == steps
    moved = max(
        float(np.max(np.abs(a - b)))
        for a, b in zip(
            big.get_weights(), _model(optimizer(name, 0.01)).get_weights(), strict=True
        )
    )
    assert moved > 1e-2  # the test can fail: training moved the weights
    for a, b in zip(small.get_weights(), big.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # 3 epochs of 2 or 3 updates each, counted in updates.
    updates = 3 * int(np.ceil(61 / (8 * steps)))
    assert int(small.optimizer.iterations) == int(big.optimizer.iterations) == updates


def test_a_schedule_counts_updates_not_micro_batches(tmp_path):
    def schedule():
        return keras.optimizers.schedules.CosineDecay(
            0.001, 4, warmup_target=0.05, warmup_steps=2
        )

    big = _train(tmp_path, "big", optimizer("Adam", schedule()), 32)
    small = _train(tmp_path, "small", optimizer("Adam", schedule(), None, 4), 8)
    for a, b in zip(small.get_weights(), big.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(
        float(small.optimizer.learning_rate), float(big.optimizer.learning_rate)
    )
    # Without counting updates, the schedule would have ended 4x sooner.
    plain = keras.optimizers.Adam(schedule(), gradient_accumulation_steps=4)
    assert isinstance(small.optimizer._learning_rate, accumulation.UpdateSchedule)
    assert not isinstance(plain._learning_rate, accumulation.UpdateSchedule)


@pytest.mark.parametrize("stop_at", [6, 13])
def test_a_run_stopped_mid_window_resumes_without_losing_a_micro_batch(
    tmp_path, stop_at
):
    ref = _train(tmp_path, "ref", optimizer("Adam", 0.01, None, 4), 8)
    with pytest.raises(loop.RunInterrupted) as info:
        _train(
            tmp_path,
            "cut",
            optimizer("Adam", 0.01, None, 4),
            8,
            callbacks=[InterruptAt(stop_at)],
        )
    state = ckpt.read_state(info.value.run_dir)
    assert state["batches_trained"] == stop_at
    resumed = _train(
        tmp_path, "cut", optimizer("Adam", 0.01, None, 4), 8, resume=RESUME_LATEST
    )
    for a, b in zip(resumed.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_mixed_precision_accumulates_on_the_inner_optimizer(tmp_path):
    with pytest.raises(ValueError, match="inner optimizer"):
        accumulation.accumulating(
            keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam()), 2
        )
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _train(tmp_path, "mixed", optimizer("Adam", 0.01, None, 4), 8, epochs=2)
    finally:
        keras.config.set_dtype_policy(previous)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.optimizer.inner_optimizer.gradient_accumulation_steps == 4
    # Every epoch ended on a closed window, whatever overflowed.
    assert accumulation.pending(model) == 0
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_update_schedule_survives_a_keras_round_trip(tmp_path):
    opt = optimizer(
        "AdamW", keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5), None, 3
    )
    model = _model(opt)
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.optimizer.gradient_accumulation_steps == 3
    np.testing.assert_allclose(
        float(loaded.optimizer._learning_rate(9)), 0.1 * 0.5 ** (3 / 2), rtol=1e-6
    )


# Two logical CPUs must be made before TensorFlow starts: a fresh process.
_TWO_REPLICAS = r"""
import json, sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
import keras
import numpy as np

from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.training import loop
from keras_bigmodels.training.precision import optimizer
from keras_bigmodels.training.run_config import RunConfig
from keras_bigmodels.training.runs import Run
from keras_bigmodels.training import session as S

x = np.ones((16, 5), "float32")
strategy = tf.distribute.MirroredStrategy(
    ["/CPU:0", "/CPU:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
)
said = {"replicas": strategy.num_replicas_in_sync}
for steps in (1, 3):
    with strategy.scope():
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
        model.compile(optimizer("Adam", 0.01, None, steps), "mse")
    try:
        with Run.open(RunConfig(out=f"{sys.argv[1]}/{steps}"), "t") as run:
            run.start(task="test")
            loop.fit(run, model, EpochBatches.from_arrays((x, x[:, :1]), 8),
                     epochs=1, strategy=strategy, monitor=None, verbose=0)
        said[steps] = int(model.optimizer.iterations.numpy())
    except ValueError as e:
        said[steps] = str(e)
# The workflows' session refuses before a run folder exists (given the
# two-replica strategy: "mirrored" alone takes the GPUs, or one CPU).
S.get_strategy = lambda *args, **kwargs: strategy
try:
    with S.session(RunConfig(out=f"{sys.argv[1]}/s", gradient_accumulation_steps=2,
                           strategy="mirrored"), "t"):
        pass
    said["session"] = "opened"
except ValueError as e:
    said["session"] = str(e)
print(json.dumps(said))
"""


@pytest.mark.large
def test_several_replicas_are_refused_before_a_step(tmp_path):
    # Keras 3.15 cannot accumulate under several replicas on TensorFlow
    # (keras-team/keras#20582): a clear error instead of its merge_call one.
    proc = python_process(_TWO_REPLICAS, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = json.loads(proc.stdout.strip().splitlines()[-1])
    assert said["replicas"] == 2
    assert said["1"] == 2  # without accumulation two replicas train
    for key in ("3", "session"):
        assert "gradient_accumulation_steps" in said[key] and "2 replicas" in said[key]
        assert "keras-team/keras#20582" in said[key]
    assert not os.path.exists(tmp_path / "s")
