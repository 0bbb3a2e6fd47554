"""The `keras-bigmodels` command: parse arguments, call the library, report.

Each command group lives in its own module with `add_parser(sub)`; nothing
here trains or loads anything itself.
"""

from __future__ import annotations

import re
import signal
import sys
import threading

from keras_bigmodels.cli import _common

COMMANDS = (
    "train",
    "evaluate",
    "predict",
    "explain",
    "generate",
    "sample",
    "transfer",
    "export",
    "demo",
    "advise",
    "datasets",
    "info",
)


def build_parser() -> _common.OneLineParser:
    import importlib

    parser = _common.OneLineParser(
        prog="keras-bigmodels",
        description="Train, evaluate and use the models of 'How to train your own "
        "AI model'.",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's own start-up log and full tracebacks",
    )
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        required=True,
        parser_class=_common.OneLineParser,
    )
    for name in COMMANDS:
        importlib.import_module(f"keras_bigmodels.cli.{name}").add_parser(sub)
    return parser


# The signal that ended the command: its exit status is 128 + its number, as
# a shell reports a process a signal ended (130 for Ctrl-C, 143 for SIGTERM).
_received = {"signal": signal.SIGINT}


def _exit_status() -> int:
    return 128 + int(_received["signal"])


def _leave_during_start_up(signum, frame):
    # Ctrl-C (or a scheduler's SIGTERM) while the arguments are read and
    # TensorFlow and Keras import: nothing is written yet, so leave at once.
    # A KeyboardInterrupt raised here would land inside an extension module's
    # import, which Python reports as an ImportError; the libraries' guards
    # around optional imports swallow that, and the command went on to train.
    _common.leave_now("interrupted; nothing was written", 128 + signum)


def _interrupt_when_safe(signum, frame):
    # Once the command runs, Ctrl-C and SIGTERM raise KeyboardInterrupt, so
    # that a run folder is saved and marked; but not where Python or
    # TensorFlow turn it into another error: inside an import (see above) or
    # while TensorFlow traces a function (a StagingError or SystemError that
    # ends the command with a traceback). There the signal is sent again
    # shortly, once the import or the tracing is over.
    if _importing(frame) or _tracing():
        again = threading.Timer(0.05, signal.raise_signal, (signum,))
        again.daemon = True
        again.start()
        return
    _received["signal"] = signum
    raise KeyboardInterrupt


def _importing(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _tracing() -> bool:
    tf = sys.modules.get("tensorflow")
    # Building a graph: a tf.function, a tf.data map, a Keras train step.
    return tf is not None and tf.inside_function()


def _on_interrupt(handler) -> dict:
    """Route SIGINT and SIGTERM to `handler`; returns the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # only the main thread may set handlers (main() in a thread)
    return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}


def _command_name(args) -> str:
    parts = [args.command, getattr(args, "architecture", None)]
    return " ".join(p for p in parts if p)


def main(argv=None) -> int:
    # A file name that is not valid UTF-8 (GBK unpacked on Linux) holds
    # surrogate escapes; printing one must show it, never end the command.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # not when replaced by a StringIO
            stream.reconfigure(errors="backslashreplace")
    previous = _on_interrupt(_leave_during_start_up)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C before a command has started anything: nothing to keep.
        _common.leave_now("interrupted; nothing was written", _exit_status())
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _main(argv) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        name = _command_name(args)
        flags = " ".join(extra)
        return _common.fail(
            f"{flags}: not an argument of '{name}' (see keras-bigmodels {name} --help)",
            2,
        )
    # Cheap checks first, so a mistyped path fails at once, before TensorFlow
    # spends seconds starting up.
    problem = args.precheck(args) if hasattr(args, "precheck") else None
    if problem:
        return _fail_in_flag_terms(problem, parser, args)
    if not args.verbose:
        _common.plain_warnings(lambda m: _common.in_flag_terms(m, parser, args))
    if getattr(args, "needs_tensorflow", True):
        _common.start_tensorflow(args.verbose)
    # From here a scheduler's SIGTERM (preemption) ends a run like Ctrl-C:
    # state saved, manifest marked, one line.
    _on_interrupt(_interrupt_when_safe)
    try:
        return args.run(args)
    except KeyboardInterrupt as e:
        run_dir = getattr(e, "run_dir", None)
        if run_dir is None:
            return _common.fail("interrupted before anything was saved", _exit_status())
        return _common.fail(
            f"interrupted at {e.where}; run folder {run_dir} kept, continue it "
            f"with: keras-bigmodels {_command_name(args)} --resume {run_dir}",
            _exit_status(),
        )
    except (ValueError, OSError, FloatingPointError, RuntimeError) as e:
        if args.verbose:
            raise
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return _fail_in_flag_terms(message or type(e).__name__, parser, args)


def _fail_in_flag_terms(message: str, parser, args) -> int:
    """One error line in the command line's terms. A value given to a flag
    that cannot work (the line ends `Received: --flag VALUE`) is a usage
    error, exit status 2 as argparse gives; anything else failed, status 1."""
    line = _common.in_flag_terms(message, parser, args)
    usage = line.startswith("unknown") or re.search(r"Received: --[\w-]+", line)
    return _common.fail(line, 2 if usage else 1)


if __name__ == "__main__":
    sys.exit(main())
