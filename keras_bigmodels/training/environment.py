"""What this machine offers for training, and why a GPU is or is not used."""

from __future__ import annotations

import importlib.util
import os
import shutil

import tensorflow as tf

from keras_bigmodels.training.precision import xla_setting
from keras_bigmodels.training.runs import library_versions


def _nvidia_driver_present() -> bool:
    return os.path.exists("/proc/driver/nvidia/version") or bool(
        shutil.which("nvidia-smi")
    )


def gpu_status() -> tuple[bool, str]:
    """`(will_use_gpu, reason)`, the reason in words a user can act on."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return True, f"{len(gpus)} GPU(s) visible to TensorFlow"
    if not tf.test.is_built_with_cuda():
        return False, "this TensorFlow build has no CUDA support"
    if not _nvidia_driver_present():
        return False, "no NVIDIA GPU driver found on this machine"
    if importlib.util.find_spec("nvidia") is None:
        return False, (
            "TensorFlow's CUDA libraries are not installed: "
            "pip install 'keras-bigmodels[gpu]'"
        )
    return False, (
        "an NVIDIA driver is present but TensorFlow could not use the GPU; "
        "run with --verbose to see TensorFlow's log"
    )


def environment_report() -> dict:
    """Versions, devices and GPU status, as printed by `keras-bigmodels info`."""
    will_use, reason = gpu_status()
    return {
        "versions": library_versions(),
        "devices": [
            f"{d.device_type}: {d.name}" for d in tf.config.list_physical_devices()
        ],
        "built_with_cuda": tf.test.is_built_with_cuda(),
        "gpu": {"will_use": will_use, "reason": reason},
        # What every `train` workflow's default --jit resolves to here.
        "xla": dict(zip(("jit_compile", "reason"), xla_setting(None), strict=True)),
    }
