"""Where batches live: prefetch onto the accelerator when there is exactly one."""

from __future__ import annotations

import tensorflow as tf


def accelerator_name() -> str | None:
    """The one GPU batches should be prefetched onto, or None.

    None on a CPU-only machine, with several GPUs (a `tf.distribute` strategy
    places batches itself there), or inside a strategy scope.
    """
    if tf.distribute.has_strategy():
        return None
    gpus = tf.config.list_logical_devices("GPU")
    return gpus[0].name if len(gpus) == 1 else None


def prefetch_to_accelerator(
    dataset: tf.data.Dataset, device: str | bool | None = "auto"
) -> tf.data.Dataset:
    """Prefetch batches onto the GPU so its next step never waits for a copy.

    Args:
        dataset: tf.data.Dataset. The finished input pipeline.
        device: `"auto"` (the single visible GPU, if any), a device name such
            as `"/GPU:0"`, or False/None to prefetch in host memory only.

    Returns:
        The dataset with a final prefetch stage. On a machine without a GPU it
        is a plain `prefetch(AUTOTUNE)`, so the same code runs unchanged.
        A dataset prefetched to a device must not be transformed further.
    """
    if device == "auto":
        device = accelerator_name()
    if not device:
        return dataset.prefetch(tf.data.AUTOTUNE)
    return dataset.apply(tf.data.experimental.prefetch_to_device(device))
