"""What every command shares: a quiet TensorFlow, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, pointing to --help."""

    def error(self, message):
        if message.startswith("argument ARCH: invalid choice:"):
            choice = message.split("invalid choice:", 1)[1].split("(choose")[0]
            message = f"unknown architecture {choice.strip()}"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


@contextlib.contextmanager
def _native_stderr_silenced():
    # TensorFlow's C++ start-up messages (CUDA probes, CPU feature notices)
    # are written straight to file descriptor 2, below Python's sys.stderr.
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def start_tensorflow(verbose: bool = False):
    """Import TensorFlow and find its devices, quietly unless `verbose`."""
    if verbose:
        import tensorflow as tf

        tf.config.list_physical_devices()
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices()
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return tf


def fail(message: str, code: int = 1) -> int:
    """Print one error line to stderr and return the exit code."""
    print(f"keras-bigmodels: error: {message}", file=sys.stderr)
    return code


def parse_image_size(text: str) -> tuple[int, int]:
    """'32' -> (32, 32); '48x64' -> (48, 64) (height x width)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected N or HxW with positive integers, got {text!r}"
        )
    return tuple(parts)


def add_unsafe_load_flag(parser) -> None:
    """`--unsafe-load` for commands that open a model file."""
    parser.add_argument(
        "--unsafe-load",
        action="store_true",
        help="open the model with Keras's safe mode off (needed for Lambda "
        "layers; only for files you trust)",
    )
