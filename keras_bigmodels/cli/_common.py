"""What every command shares: a quiet TensorFlow, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import re
import sys
import warnings


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, pointing to --help."""

    def error(self, message):
        if message.startswith("argument ARCH: invalid choice:"):
            choice = message.split("invalid choice:", 1)[1].split("(choose")[0]
            message = f"unknown architecture {choice.strip()}"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# The terminal's stderr while `_native_stderr_silenced` points fd 2 elsewhere.
_terminal_stderr: int | None = None


@contextlib.contextmanager
def _native_stderr_silenced():
    # TensorFlow's C++ start-up messages (CUDA probes, CPU feature notices)
    # are written straight to file descriptor 2, below Python's sys.stderr.
    global _terminal_stderr
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        _terminal_stderr = saved
        yield
    finally:
        _terminal_stderr = None
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _error_line(message: str) -> str:
    return f"keras-bigmodels: error: {message}\n"


def leave_now(message: str, code: int) -> None:
    """Print one error line to the terminal and end the process at once.

    For a signal that arrives before a command has written anything: no
    clean-up is owed, and nothing below may catch the exit.
    """
    line = _error_line(message).encode(errors="backslashreplace")
    for stream in (sys.stdout, sys.stderr):
        # A signal handler may run while a stream is mid-write (reentrant).
        with contextlib.suppress(Exception):
            stream.flush()
    os.write(2 if _terminal_stderr is None else _terminal_stderr, line)
    os._exit(code)


def start_tensorflow(verbose: bool = False):
    """Import TensorFlow and Keras and find the devices, quietly unless `verbose`."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with contextlib.nullcontext() if verbose else _native_stderr_silenced():
        import keras  # noqa: F401  (its start-up too, before a command runs)
        import tensorflow as tf

        tf.config.list_physical_devices()
    if not verbose:
        tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    return tf


def fail(message: str, code: int = 1) -> int:
    """Print one error line to stderr and return the exit code."""
    print(_error_line(message), end="", file=sys.stderr)
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


def finite_float(text: str) -> float:
    """argparse type: a finite float ('nan' and 'inf' are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def image_run_problem(args) -> str | None:
    """Precheck of the commands that open an image classifier's run folder."""
    from keras_bigmodels._paths import run_folder_problem

    return run_folder_problem(
        args.run_dir,
        ("model.keras", "manifest.json", "class_names.json"),
        args.command,
    )


def add_unsafe_load_flag(parser) -> None:
    """`--unsafe-load` for commands that open a model file."""
    parser.add_argument(
        "--unsafe-load",
        action="store_true",
        help="open the model with Keras's safe mode off (needed for Lambda "
        "layers; only for files you trust)",
    )


def plain_warnings(translate=lambda text: text) -> None:
    """Show warnings as `keras-bigmodels: warning: ...` lines, each once.

    Python's own format adds the file, line number and source line of the
    code that warned, which means nothing to someone at a terminal.
    """
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = translate(str(message).rstrip())
        if text in seen:
            return
        seen.add(text)
        print(f"keras-bigmodels: warning: {text}", file=file or sys.stderr)

    warnings.showwarning = show


def _selected_parser(parser, args):
    """The sub-parser that parsed `args` (`train gpt`'s, `predict`'s, ...)."""
    for dest in ("command", "architecture"):
        name = getattr(args, dest, None)
        subs = [
            a
            for a in parser._actions
            if isinstance(a, argparse._SubParsersAction) and name in a.choices
        ]
        if not subs:
            break
        parser = subs[0].choices[name]
    return parser


# Library arguments that a command takes under another name.
_ALIASES = {"directory": "data", "input_shape": "image_size", "num_samples": "samples"}


def _flag_names(parser) -> dict[str, str]:
    """Python argument name -> how the user wrote it (`--top-k`, `RUN`)."""
    names = {}
    for action in parser._actions:
        if action.dest in ("help", argparse.SUPPRESS):
            continue
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs:
            names[action.dest] = longs[0]
        elif not action.option_strings:
            names[action.dest] = action.metavar or action.dest.upper()
    for alias, dest in _ALIASES.items():
        if dest in names and alias not in names:
            names[alias] = names[dest]
    return names


_VALUE = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\([^)]*\)|\[[^\]]*\]|[^\s,;)]+)"""


def in_flag_terms(message: str, parser, args) -> str:
    """Rewrite a library error in the terms of the command line.

    "`top_k` must be a positive integer. Received: top_k=0" becomes
    "--top-k must be a positive integer. Received: --top-k 0", and
    "labels='filename'" becomes "--labels filename". Names that are not
    flags of the command are left as they are.
    """
    names = _flag_names(_selected_parser(parser, args))

    def value_text(v: str) -> str:
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        if re.fullmatch(r"\(\d+(, \d+)+\)", v):  # a size: (16, 16) -> 16x16
            v = "x".join(v[1:-1].split(", "))
        return v

    def assignment(m):
        name, value = m.group(1), m.group(2)
        if name not in names:
            return m.group(0)
        flag = names[name]
        if not flag.startswith("--"):
            return value_text(value)  # a positional: just the value
        if value == "True":
            return flag
        if value in ("None", "False"):
            return f"no {flag}"
        return f"{flag} {value_text(value)}"

    message = re.sub(r"`([A-Za-z_]\w*)`=" + _VALUE, assignment, message)
    message = re.sub(r"(?<![\w.-])([A-Za-z_]\w*)=" + _VALUE, assignment, message)
    message = re.sub(
        r"`([A-Za-z_]\w*)`",
        lambda m: names.get(m.group(1), m.group(0)),
        message,
    )
    # What was `labels='x'` is now `--labels x`: the backticks no longer help.
    message = re.sub(r"`(--[^`]+)`", r"\1", message)
    # Python's None is a flag left out.
    return re.sub(r"(--[\w-]+) must be None, ", r"\1 must be left out, ", message)
