"""The training loop: seeded epoch order, resume, phases, divergence, events."""

import glob
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.training import loop
from keras_bigmodels.training import resume as ckpt
from keras_bigmodels.training.run_config import RESUME_LATEST, RunConfig
from keras_bigmodels.training.runs import Run, read_json
from keras_bigmodels.training.seed import set_seed
from tests.helpers import InterruptAt

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 5)).astype("float32")
Y = (X @ RNG.normal(size=(5, 1))).astype("float32")


def test_epoch_order_is_a_function_of_seed_and_epoch():
    b = EpochBatches.from_arrays(np.arange(10), batch_size=4, seed=7)
    orders = [b.order(e) for e in range(3)]
    for o in orders:
        assert sorted(o) == list(range(10))
    assert not np.array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(b.order(1), orders[1])  # rebuilt: same
    np.testing.assert_array_equal(
        EpochBatches.from_arrays(np.arange(10), 4, seed=7).order(2), orders[2]
    )
    served = np.concatenate([t.numpy() for t in b.dataset(1)])
    np.testing.assert_array_equal(served, orders[1])
    # Skipping finished batches serves exactly the rest of the same order.
    rest = np.concatenate([t.numpy() for t in b.dataset(1, start_step=2)])
    np.testing.assert_array_equal(rest, orders[1][8:])
    assert b.steps_per_epoch == 3
    dropped = EpochBatches.from_arrays(np.arange(10), 4, seed=7, drop_remainder=True)
    assert dropped.steps_per_epoch == 2
    assert [len(t) for t in dropped.dataset(0)] == [4, 4]
    with pytest.raises(ValueError, match="start_step"):
        b.dataset(0, start_step=4)
    # Under several replicas the loop serves them without the partial batch.
    assert b.for_replicas(1) is b
    assert b.for_replicas(2).steps_per_epoch == 2 and b.steps_per_epoch == 3


def test_per_example_loading_decodes_only_unseen_examples(tmp_path):
    def load(i):
        # Leaves a file per example loaded (a graph op: no Python in tf.data).
        path = tf.strings.join([str(tmp_path) + "/", tf.strings.as_string(i)])
        tf.io.write_file(path, "")
        return i

    b = EpochBatches(10, 4, load, seed=1, per_example=True)
    # A fresh pipeline every epoch: no tuning-model thread to wait for.
    assert b.dataset(0).options().autotune.enabled is False
    assert b.dataset(0).options().deterministic is True
    rest = np.concatenate([t.numpy() for t in b.dataset(0, start_step=1)])
    np.testing.assert_array_equal(rest, b.order(0)[4:])
    # The first batch's examples were never loaded (decoded).
    loaded = sorted(int(name) for name in os.listdir(tmp_path))
    assert loaded == sorted(b.order(0)[4:])


def _model(lr=0.05):
    set_seed(0)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(lr), "mse", metrics=["mae"])
    return model


def _open(out, resume=None):
    run = Run.open(RunConfig(out=str(out), resume=resume), "test")
    run.start(task="test")
    return run


def _fit(run, model, epochs=3, **kw):
    kw.setdefault("validation", tf.data.Dataset.from_tensor_slices((X, Y)).batch(8))
    return loop.fit(
        run,
        model,
        EpochBatches.from_arrays((X, Y), 8, seed=0),
        epochs=epochs,
        strategy=tf.distribute.get_strategy(),
        verbose=0,
        **kw,
    )


def test_interrupt_then_resume_equals_an_uninterrupted_run(tmp_path):
    ref = _model()
    with _open(tmp_path / "ref") as run:
        ref_history = _fit(run, ref)
    # 5 steps per epoch; stop in the middle of epoch 2 (after 7 batches).
    model = _model()
    with pytest.raises(loop.RunInterrupted) as info:
        with _open(tmp_path / "cut") as run:
            _fit(run, model, callbacks=[InterruptAt(7)])
    run_dir = info.value.run_dir
    assert "epoch 2" in info.value.where
    assert read_json(os.path.join(run_dir, "manifest.json"))["status"] == "interrupted"
    assert ckpt.read_state(run_dir)["batches_trained"] == 7

    resumed = _model()
    with _open(tmp_path / "cut", resume=RESUME_LATEST) as run:
        assert run.dir == run_dir and run.resumed
        history = _fit(run, resumed)
        assert run.position["batches_trained"] == 15
    for a, b in zip(resumed.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    for key in ("loss", "val_loss", "mae"):
        np.testing.assert_allclose(history[key], ref_history[key], rtol=1e-5)


def test_phases_append_to_one_history(tmp_path):
    model = _model()
    with _open(tmp_path) as run:
        _fit(run, model, epochs=2, phase="head")
        model.optimizer.learning_rate.assign(0.01)
        history = _fit(run, model, epochs=2, phase="fine_tune")
    assert len(history["loss"]) == 4
    with open(os.path.join(run.dir, "history.csv")) as f:
        rows = f.read().splitlines()
    assert rows[0].startswith("epoch,phase,")
    assert [r.split(",")[:2] for r in rows[1:]] == [
        ["1", "head"],
        ["2", "head"],
        ["1", "fine_tune"],
        ["2", "fine_tune"],
    ]


def test_a_diverging_run_stops_at_the_step_and_keeps_only_finite_state(tmp_path):
    model = _model(lr=1e12)
    with pytest.raises(loop.TrainingDiverged, match=r"epoch \d+, step \d+") as info:
        with _open(tmp_path) as run:
            _fit(run, model, checkpoint_every=1)
    manifest = read_json(os.path.join(run.dir, "manifest.json"))
    assert manifest["status"] == "failed"
    assert "diverged" in manifest["error"]
    state = ckpt.read_state(run.dir)
    if state is not None:  # a checkpoint before the bad step: named, finite
        assert ckpt.directory(run.dir) in str(info.value)
        for path in glob.glob(os.path.join(ckpt.directory(run.dir), "*.npz")):
            with np.load(path) as data:
                for k in data.files:
                    if data[k].dtype.kind == "f":
                        assert np.isfinite(data[k]).all()


def test_tensorboard_events_hold_the_epoch_loss(tmp_path):
    model = _model()
    with _open(tmp_path) as run:
        history = _fit(run, model, epochs=2)
    losses = {}
    for part in ("train", "validation"):
        for path in glob.glob(os.path.join(run.dir, "logs", part, "events.*")):
            for event in tf.compat.v1.train.summary_iterator(path):
                for v in event.summary.value:
                    if v.tag == "epoch_loss":
                        losses.setdefault(part, {})[event.step] = float(
                            tf.make_ndarray(v.tensor)
                        )
    assert losses["train"] == pytest.approx(dict(enumerate(history["loss"])))
    assert losses["validation"] == pytest.approx(dict(enumerate(history["val_loss"])))


def test_best_model_and_finished_status(tmp_path):
    model = _model()
    with _open(tmp_path) as run:
        history = _fit(run, model, epochs=3)
        result = run.finish(model, {"x": 1.0})
    manifest = read_json(os.path.join(run.dir, "manifest.json"))
    assert manifest["status"] == "finished"
    assert result.batches_trained == 15 and result.epochs_run == 3
    assert json.load(open(os.path.join(run.dir, "metrics.json")))["x"] == 1.0
    assert len(history["val_loss"]) == 3


def test_resume_of_a_finished_or_foreign_run_is_refused(tmp_path):
    model = _model()
    with _open(tmp_path) as run:
        _fit(run, model, epochs=1)
        run.finish(model, {})
    with pytest.raises(ValueError, match="already finished"):
        Run.open(RunConfig(out=str(tmp_path), resume=run.dir), "test")
    with pytest.raises(ValueError, match="not 'other'"):
        Run.open(RunConfig(out=str(tmp_path), resume=run.dir), "other")
    # "latest" with nothing unfinished starts a new run.
    fresh = Run.open(RunConfig(out=str(tmp_path), resume=RESUME_LATEST), "test")
    assert not fresh.resumed and fresh.dir != run.dir
