"""The `keras-bigmodels` command: parse arguments, call the library, report.

Each command group lives in its own module with `add_parser(sub)`; nothing
here trains or loads anything itself.
"""

from __future__ import annotations

import os
import signal
import sys

from keras_bigmodels.cli import _common

COMMANDS = (
    "train",
    "evaluate",
    "predict",
    "explain",
    "generate",
    "sample",
    "transfer",
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


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def _command_name(args) -> str:
    parts = [args.command, getattr(args, "architecture", None)]
    return " ".join(p for p in parts if p)


def main(argv=None) -> int:
    # A file name that is not valid UTF-8 (GBK unpacked on Linux) holds
    # surrogate escapes; printing one must show it, never end the command.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # not when replaced by a StringIO
            stream.reconfigure(errors="backslashreplace")
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C before a command has started anything: nothing to keep.
        _common.fail("interrupted; nothing was written", 130)
        # Leave now: a signal that arrived while a module was importing can
        # otherwise end the interpreter with SIGINT instead of this status.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)


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
        return _common.fail(
            _common.in_flag_terms(problem, parser, args),
            2 if problem.startswith("unknown") else 1,
        )
    # A scheduler's SIGTERM (preemption) ends a run like Ctrl-C: state saved,
    # manifest marked, one line.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    if not args.verbose:
        _common.plain_warnings(lambda m: _common.in_flag_terms(m, parser, args))
    try:
        if getattr(args, "needs_tensorflow", True):
            _common.start_tensorflow(args.verbose)
        return args.run(args)
    except KeyboardInterrupt as e:
        run_dir = getattr(e, "run_dir", None)
        if run_dir is None:
            return _common.fail("interrupted before anything was saved", 130)
        return _common.fail(
            f"interrupted at {e.where}; run folder {run_dir} kept, continue it "
            f"with: keras-bigmodels {_command_name(args)} --resume {run_dir}",
            130,
        )
    except (ValueError, OSError, FloatingPointError, RuntimeError) as e:
        if args.verbose:
            raise
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return _common.fail(
            _common.in_flag_terms(message or type(e).__name__, parser, args)
        )


if __name__ == "__main__":
    sys.exit(main())
