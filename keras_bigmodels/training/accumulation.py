"""Gradient accumulation: the update of one large batch from N small ones.

Keras's optimizers accumulate by themselves (`gradient_accumulation_steps`):
the gradients of N micro-batches are summed and applied, divided by N, on
the N-th. Three things are left to the caller, and are done here:

- **Schedules count updates.** The optimizer's iteration counter advances
  every micro-batch, so a warm-up or cosine schedule would run N times too
  fast; `UpdateSchedule` gives the schedule `micro_step // N`.
- **No window crosses an epoch's end.** Keras's `fit` never applies a
  partial last window, so an epoch's last micro-batches would wait for the
  next epoch (and the last window of training would be lost);
  `flush_windows` applies what is pending at the epoch's end.
- **A partial window weighs its examples as one batch would.** The last
  window of an epoch may hold fewer micro-batches, and its last micro-batch
  fewer examples; `data.batches.window_weights` gives each micro-batch a sample weight
  so that the update is the mean over the window's examples, exactly as
  one batch of those examples would give.

Under a strategy with more than one replica (several GPUs, workers or
logical devices) Keras 3.15's optimizer cannot accumulate on the TensorFlow
backend: its update-or-not `cond` holds the cross-replica sum, which
TensorFlow refuses inside `strategy.run` (keras-team/keras#20582, Keras's
own `fit` fails the same way). `check_replicas` says so before training.

Under mixed float16 Keras's `LossScaleOptimizer` refuses the setting; it is
set on the inner optimizer, and a micro-batch whose scaled gradients
overflow is dropped from its window (the window then closes one
micro-batch later, or at the flush).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_bigmodels._export import export
from keras_bigmodels.data.batches import window_weights  # noqa: F401 (public here)
from keras_bigmodels.training.resume import optimizers_of


@export
class UpdateSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule counted in updates, not micro-batches.

    Args:
        schedule: keras.optimizers.schedules.LearningRateSchedule.
        accumulation_steps: int. Micro-batches per update.

    Example:

    >>> base = keras.optimizers.schedules.PolynomialDecay(1.0, 10, 0.0)
    >>> float(UpdateSchedule(base, 4)(8))  # the third update
    0.8
    """

    def __init__(self, schedule, accumulation_steps: int):
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        self.schedule = schedule
        self.accumulation_steps = int(accumulation_steps)

    def __call__(self, step):
        return self.schedule(step // self.accumulation_steps)

    def get_config(self):
        return {
            "schedule": keras.optimizers.schedules.serialize(self.schedule),
            "accumulation_steps": self.accumulation_steps,
        }


def accumulating(optimizer, accumulation_steps: int | None):
    """`optimizer` set to apply one update every `accumulation_steps`
    micro-batches, its schedule (if any) counted in updates. 1 or None:
    `optimizer` as it is. Call before `compile` (which may wrap it in a
    `LossScaleOptimizer`)."""
    if not accumulation_steps or accumulation_steps == 1:
        return optimizer
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        raise ValueError(
            "Set gradient accumulation on the inner optimizer: Keras's "
            "LossScaleOptimizer refuses `gradient_accumulation_steps`."
        )
    config = optimizer.get_config()
    rate = optimizer._learning_rate
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        config["learning_rate"] = UpdateSchedule(rate, accumulation_steps)
    else:
        config["learning_rate"] = float(np.asarray(rate))
    config["gradient_accumulation_steps"] = int(accumulation_steps)
    return type(optimizer).from_config(config)


def check_replicas(accumulation_steps: int, strategy) -> None:
    """Refuse accumulation under more than one replica, before any step.

    Raises:
        ValueError: `accumulation_steps` > 1 and the strategy has several
            replicas (see the module's docstring for why).
    """
    replicas = strategy.num_replicas_in_sync
    if accumulation_steps > 1 and replicas > 1:
        raise ValueError(
            f"`gradient_accumulation_steps` must be 1 when training on {replicas} "
            "replicas: Keras's optimizer cannot accumulate under a tf.distribute "
            "strategy with several replicas on TensorFlow "
            "(keras-team/keras#20582). Train on one device with accumulation, or "
            "on several with a larger --batch-size. Received: "
            f"gradient_accumulation_steps={accumulation_steps}"
        )


def _inner(optimizer):
    return getattr(optimizer, "inner_optimizer", optimizer)


def accumulation_steps(model) -> int:
    """Micro-batches per update of `model`'s optimizers (1: no accumulation)."""
    steps = [
        _inner(opt).gradient_accumulation_steps or 1 for opt in optimizers_of(model)
    ]
    return max(steps, default=1)


def _pending(opt) -> int:
    """Micro-batches `opt` (an inner optimizer) holds and has not applied."""
    steps = opt.gradient_accumulation_steps
    if not steps or not opt.built:
        return 0
    return int(np.asarray(opt._iterations)) % steps


def pending(model) -> int:
    """Micro-batches accumulated and not yet applied (largest over optimizers)."""
    return max(map(_pending, map(_inner, optimizers_of(model))), default=0)


def _window_closer(opt, k: int):
    """A function that applies `opt`'s `k` pending micro-batches."""
    steps = opt.gradient_accumulation_steps
    # Only the variables that train now (a frozen body's have no gradients,
    # and Adam would still move them by its momentum).
    variables = [v for v in opt._trainable_variables if v.trainable]
    index = [opt._get_variable_index(v) for v in variables]

    def close():
        # Keras applies `(grad + accumulated) / steps` on a window's last
        # micro-batch: moved to that micro-batch, with `grad` =
        # `accumulated * (steps / k - 1)`, it applies `accumulated / k`
        # (clipping, weight decay, schedule and reset as Keras does them).
        opt._iterations.assign_add(steps - 1 - k)
        acc = opt._accumulated_gradients
        opt.apply([acc[i].value * (steps / k - 1) for i in index], variables)

    return close


def flush_windows(model, strategy) -> int:
    """Apply every optimizer's partial window now, as its window's update.

    The accumulated sum over the `k` pending micro-batches is applied
    divided by `k` (with the optimizer's clipping, weight decay and
    schedule), the accumulators are cleared and the iteration counter moves
    to the next update, so the next epoch starts a fresh window and a
    schedule sees one update more. Returns how many micro-batches were pending.
    """
    flushed = 0
    for opt in map(_inner, optimizers_of(model)):
        k = _pending(opt)
        if k:
            flushed = max(flushed, k)
            strategy.run(tf.function(_window_closer(opt, k)))
    return flushed
