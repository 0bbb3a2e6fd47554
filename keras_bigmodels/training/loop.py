"""The one training loop every workflow runs: resumable, distributed, loud.

`fit(run, model, batches, ...)` is `keras.Model.fit` rebuilt around what a
long run needs, on top of Keras's own pieces (`make_train_function`, the
model's `train_step`, its metrics, `keras.callbacks.CallbackList` with the
progress bar):

- **Resume without replaying a batch.** The order of epoch `e` is a pure
  function of (seed, e) (`data.batches.EpochBatches`); the full state
  (`training.resume`) is checkpointed every `checkpoint_every` steps and at
  every epoch end, and a restarted run continues at the next unseen batch,
  with the epoch's running metrics, its early-stopping counters and its
  learning rate as they were.
- **Every strategy, multi-worker included.** Keras 3's `fit` fails under
  `MultiWorkerMirroredStrategy` (keras-team/keras#20585: it all-reduces the
  first batch to build the model); here the model is built from one local
  batch and each step runs through `strategy.run` inside Keras's own
  `train_function`, so the same loop, callbacks and progress output serve
  one CPU, several GPUs and several machines.
- **Fail loudly.** A non-finite loss stops the run at that step: the error
  names the epoch and step and the last good checkpoint, and no
  non-finite state is ever written.
- **Gradient accumulation** (an optimizer's `gradient_accumulation_steps`,
  `training.accumulation`): every window of N micro-batches ends inside its
  epoch, a partial last window weighs its examples as one batch would, and
  mid-epoch checkpoints fall on window ends (the accumulators are in the
  checkpoint too, so even a Ctrl-C mid-window loses nothing).
- **Phases.** Several calls with different `phase` names (freeze, then
  fine-tune) append to one history; a finished phase is skipped on resume.
"""

from __future__ import annotations

import math
import os
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.training import accumulation, runs
from keras_bigmodels.training import resume as ckpt
from keras_bigmodels.training.runs import RunInterrupted


class TrainingDiverged(FloatingPointError):
    """The loss (or a weight) became NaN or infinite; the run stopped there."""


def _distribute(strategy, dataset):
    if strategy.num_replicas_in_sync == 1 and not _is_multi_worker(strategy):
        # One replica: the batches go in as they are (already prefetched onto
        # the GPU by `prefetch_to_accelerator`, which must stay last).
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def _is_multi_worker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def step_function(model, strategy, step):
    """`iterator -> logs`: one `step` (`model.train_step` or `test_step`) on
    the next global batch, every replica at once.

    Keras's own `train_function` averages the replicas' logs with
    `strategy.reduce("MEAN", v, axis=0)`, which fails on scalar logs under
    `MultiWorkerMirroredStrategy`; here they are averaged with `axis=None`,
    so every worker sees the same numbers (and stops at the same step if a
    loss is not finite).
    """
    replicas = strategy.num_replicas_in_sync

    @tf.autograph.experimental.do_not_convert
    def one_step(data):
        outputs = strategy.run(step, args=(data,))
        if replicas == 1:
            return outputs
        return tf.nest.map_structure(
            lambda v: strategy.reduce("MEAN", v, axis=None), outputs
        )

    if model.run_eagerly:
        return lambda iterator: one_step(next(iterator))
    one_step = tf.function(
        one_step, reduce_retracing=True, jit_compile=model.jit_compile
    )

    @tf.function(reduce_retracing=True)
    def on_iterator(iterator):
        return one_step(iterator.get_next())

    return on_iterator


def build_for_training(model, sample_batch, strategy) -> None:
    """Create every variable a checkpoint holds: model, metrics, optimizers.

    Keras's `fit` does this with the first batch all-reduced across workers,
    which fails under `MultiWorkerMirroredStrategy`; a local batch is all
    that is needed for the shapes.
    """
    with strategy.scope():
        # Builds compiled metrics, the compiled loss and `model.optimizer`.
        model._symbolic_build(data_batch=sample_batch)
        if hasattr(model, "build_optimizers"):  # GAN: two optimizers of its own
            model.build_optimizers()


_TEST_FUNCTIONS = weakref.WeakKeyDictionary()


def _compiled_state(model) -> tuple:
    """The objects a `compile` call replaces: the loss and metric containers
    and the optimizer (a GAN's two optimizers included)."""
    names = ("_compile_loss", "_compile_metrics", "optimizer")
    names += ("d_optimizer", "g_optimizer")
    return tuple(getattr(model, name, None) for name in names)


def evaluate(model, dataset, strategy=None) -> dict:
    """`model.evaluate(dataset)` as a dict, under any strategy.

    Args:
        model: compiled keras.Model.
        dataset: tf.data.Dataset of batches.
        strategy: tf.distribute.Strategy; default: the model's.

    Returns:
        dict metric name -> float.
    """
    strategy = strategy or model.distribute_strategy
    # Traced once per model, strategy and compilation, not once per epoch. A
    # recompile (fine-tuning) makes new loss and metric objects: a function
    # traced before it would update the old ones and report the new ones'
    # zeros.
    key = (strategy, *_compiled_state(model))
    cached = _TEST_FUNCTIONS.get(model)
    if cached is None or any(a is not b for a, b in zip(cached[0], key, strict=True)):
        cached = (key, step_function(model, strategy, model.test_step))
        _TEST_FUNCTIONS[model] = cached
    test_function = cached[1]
    model.reset_metrics()
    iterator = iter(_distribute(strategy, dataset))
    while True:
        try:
            test_function(iterator)
        except (StopIteration, tf.errors.OutOfRangeError):
            break
    return {k: float(v) for k, v in model.get_metrics_result().items()}


class _Events:
    """TensorBoard event files in `run/logs/{train,validation}`, named as Keras does."""

    def __init__(self, logdir: str):
        self.writers = {
            part: tf.summary.create_file_writer(os.path.join(logdir, part))
            for part in ("train", "validation")
        }

    def write(self, step: int, logs: dict) -> None:
        for key, value in logs.items():
            if not isinstance(value, (int, float)):
                continue
            part = "validation" if key.startswith("val_") else "train"
            name = key[4:] if part == "validation" else key
            with self.writers[part].as_default():
                tf.summary.scalar(f"epoch_{name}", value, step=step)
        for w in self.writers.values():
            w.flush()


def _first_non_finite(logs) -> str | None:
    for k, v in logs.items():
        if "loss" in k and not math.isfinite(float(v)):
            return f"{k} = {float(v)}"
    return None


def _learning_rate(model) -> float | None:
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return None
    lr = opt.learning_rate
    try:
        return float(np.asarray(lr))
    except (TypeError, ValueError):
        return None


def _reduce_learning_rate(model, factor: float) -> None:
    lr = model.optimizer.learning_rate
    if hasattr(lr, "assign"):  # a variable; a schedule sets itself
        lr.assign(lr * factor)


def _new_position(position: dict | None, phase: str) -> dict:
    pos = position or {"phases_done": [], "history": [], "batches_trained": 0}
    if pos.get("phase") != phase:
        pos.update(
            phase=phase,
            epoch=0,
            step=0,
            best=None,
            best_epoch=None,
            wait=0,
            lr_wait=0,
            stopped=False,
        )
    return pos


def fit(
    run,
    model,
    train: EpochBatches,
    *,
    epochs: int,
    strategy,
    validation=None,
    phase: str = "train",
    monitor: str | None = "val_loss",
    mode: str = "min",
    patience: int | None = None,
    reduce_lr: bool = False,
    callbacks=(),
    checkpoint_every: int = 100,
    verbose="auto",
) -> dict:
    """Train `model` on `train` for `epochs` epochs of phase `phase`.

    The best model by `monitor` is saved as `model.keras` as it is reached
    (every epoch when `monitor` is None) and its weights are restored at the
    end; early stopping after `patience` epochs without improvement; with
    `reduce_lr`, the learning rate falls by 0.3x after a plateau of
    `max(1, patience // 2 - 1)` epochs.

    Args:
        run: runs.Run. The open run folder.
        model: keras.Model. Built and compiled under `strategy.scope()`.
        train: EpochBatches. Training batches (global batch size).
        epochs: int. Epochs of this phase.
        strategy: tf.distribute.Strategy the model was built under.
        validation: tf.data.Dataset or None.
        phase: str. Name of this training phase.
        monitor, mode: str. The metric that picks the best epoch.
        patience: int or None. Early-stopping patience.
        reduce_lr: bool. Reduce the learning rate on plateaus.
        callbacks: Keras callbacks (given epoch-end logs as `fit` gives).
        checkpoint_every: int. Steps between mid-epoch checkpoints.
        verbose: "auto", 0, 1 or 2.

    Returns:
        dict metric -> per-epoch values of every phase so far.

    Raises:
        TrainingDiverged: a non-finite loss; the manifest says `failed`.
        RunInterrupted: Ctrl-C; state saved, manifest says `interrupted`.
    """
    train = train.for_replicas(strategy.num_replicas_in_sync)
    window = accumulation.accumulation_steps(model)
    accumulation.check_replicas(window, strategy)
    if window > 1 and type(model).train_step is keras.Model.train_step:
        # Keras's own train step reads sample weights; a model with a step of
        # its own (a GAN, a VAE) gets plain windows.
        train = train.weighted_windows(window)
    sample = next(iter(train.dataset(0)))
    build_for_training(model, sample, strategy)
    if run.position is None and run.resumed:
        run.position = ckpt.restore(run.source_dir, model)
    pos = run.position = _new_position(run.position, phase)
    if phase in pos["phases_done"]:
        return runs.history_dict(pos["history"])

    steps = train.steps_per_epoch
    verbose = runs.fit_verbosity(verbose) if run.chief else 0
    cb = keras.callbacks.CallbackList(
        list(callbacks),
        add_history=True,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
        model=model,
    )
    events = _Events(run.path(runs.LOGS_DIR)) if run.chief else None
    lr_patience = max(1, (patience or 2) // 2 - 1)
    model.stop_training = False
    train_function = step_function(model, strategy, model.train_step)
    consistent = True  # the model's state is the state `pos` describes

    def where() -> str:
        return f"epoch {pos['epoch'] + 1}, step {pos['step'] + 1} (phase {phase!r})"

    def save_checkpoint():
        ckpt.save(run.dir, model, pos)

    def diverged(what: str):
        last = ckpt.read_state(run.dir)
        good = (
            f"last good checkpoint: {ckpt.directory(run.dir)} (epoch "
            f"{last['epoch'] + 1}, step {last['step']})"
            if last
            else "no checkpoint was written before it"
        )
        message = (
            f"training diverged at {where()}: {what}. Lower --learning-rate or "
            f"set --clip-norm; {good}"
        )
        run.mark("failed", error=message)
        return TrainingDiverged(message)

    cb.on_train_begin()
    epoch_logs: dict = {}
    try:
        while pos["epoch"] < epochs and not pos["stopped"]:
            epoch, start = pos["epoch"], pos["step"]
            if start == 0:
                model.reset_metrics()
            cb.on_epoch_begin(epoch)
            iterator = iter(_distribute(strategy, train.dataset(epoch, start)))
            for step in range(start, steps):
                cb.on_train_batch_begin(step)
                consistent = False
                try:
                    logs = train_function(iterator)
                except (StopIteration, tf.errors.OutOfRangeError):
                    consistent = True  # input ended early (dropped files)
                    break
                bad = _first_non_finite(logs)
                if bad:
                    raise diverged(bad)
                if pos["batches_trained"] == 0 and "loss" in logs:
                    # Where training started: the diagnosis measures a
                    # blow-up against it.
                    pos["initial_loss"] = float(logs["loss"])
                pos["step"] = step + 1
                pos["batches_trained"] += 1
                consistent = True
                cb.on_train_batch_end(step, logs)
                if (
                    (step + 1) % window == 0
                    and pos["batches_trained"] % checkpoint_every < window
                    and step + 1 < steps
                ):
                    save_checkpoint()
                if model.stop_training:
                    break
            consistent = False
            if window > 1:
                # An epoch's last window is applied now, not with the next
                # epoch's first micro-batches.
                accumulation.flush_windows(model, strategy)
            epoch_logs = dict(model.get_metrics_result())
            if validation is not None:
                val = evaluate(model, validation, strategy)
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
            lr = _learning_rate(model)
            if lr is not None:
                epoch_logs["learning_rate"] = lr
            epoch_logs = {k: float(v) for k, v in epoch_logs.items()}
            # Each callback gets this very dict, so what one adds (the GAN's
            # Fréchet distance) reaches the history, as in `fit`.
            for callback in cb.callbacks:
                callback.on_epoch_end(epoch, epoch_logs)
            bad = _first_non_finite(epoch_logs)
            if bad:
                raise diverged(bad)
            _after_epoch(
                run,
                model=model,
                pos=pos,
                logs=epoch_logs,
                monitor=monitor,
                mode=mode,
                patience=patience,
                reduce_lr=reduce_lr,
                lr_patience=lr_patience,
            )
            save_checkpoint()
            consistent = True
            runs.write_history_csv(run.path(runs.HISTORY_FILE), pos["history"])
            if events is not None:
                events.write(len(pos["history"]) - 1, epoch_logs)
            if model.stop_training:
                pos["stopped"] = True
    except KeyboardInterrupt:
        if consistent:
            save_checkpoint()
        run.mark("interrupted")
        raise RunInterrupted(run.source_dir, where()) from None
    if monitor is not None and os.path.isfile(run.path(runs.MODEL_FILE)):
        model.load_weights(run.path(runs.MODEL_FILE))  # the best epoch
    pos["phases_done"].append(phase)
    save_checkpoint()
    cb.on_train_end(epoch_logs)
    return runs.history_dict(pos["history"])


def _after_epoch(
    run, *, model, pos, logs, monitor, mode, patience, reduce_lr, lr_patience
) -> None:
    """Best model, early stopping and plateau LR decay; the history row."""
    value = logs.get(monitor) if monitor else None
    if monitor is not None and value is None:
        raise ValueError(
            f"`monitor={monitor!r}` is not among the epoch's metrics: {sorted(logs)}"
        )
    best = pos["best"]
    improved = monitor is None or (
        best is None or (value < best if mode == "min" else value > best)
    )
    if improved:
        tmp = run.path(".best.tmp.keras")
        model.save(tmp)
        os.replace(tmp, run.path(runs.MODEL_FILE))
        pos.update(best=value, best_epoch=pos["epoch"] + 1, wait=0, lr_wait=0)
    else:
        pos["wait"] += 1
        pos["lr_wait"] += 1
        if reduce_lr and pos["lr_wait"] >= lr_patience:
            _reduce_learning_rate(model, 0.3)
            pos["lr_wait"] = 0
        if patience is not None and pos["wait"] >= patience:
            pos["stopped"] = True
    pos["history"].append({"epoch": pos["epoch"] + 1, "phase": pos["phase"], **logs})
    pos["epoch"] += 1
    pos["step"] = 0
