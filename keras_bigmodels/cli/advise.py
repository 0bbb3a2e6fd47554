"""`keras-bigmodels advise TASK --samples N`: FAQ 6.1's answer for your problem."""

from __future__ import annotations

import argparse
import json


def _shape(text: str) -> tuple[int, ...]:
    """'224x224x3' -> (224, 224, 3); '100x8' -> (100, 8); '30' -> (30,)."""
    try:
        parts = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        parts = ()
    if not parts or min(parts) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected positive integers joined by x, got {text!r}"
        )
    return parts


def add_parser(sub) -> None:
    from keras_bigmodels.insight.advisor import COMPUTE, TASKS

    p = sub.add_parser(
        "advise",
        help="which architecture for your task, data size and compute (FAQ 6.1)",
        description="Recommend a builder, its arguments and the command that "
        "trains it, with the reasons in English and Chinese.",
    )
    p.add_argument("task", choices=TASKS, metavar="TASK", help=", ".join(TASKS))
    p.add_argument("--samples", type=int, required=True, help="labelled examples")
    p.add_argument(
        "--input-shape",
        type=_shape,
        default=None,
        help="HxWxC for images, TxF for series, F for tables",
    )
    p.add_argument("--compute", choices=COMPUTE, default="cpu")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run, needs_tensorflow=False)


def run(args) -> int:
    from keras_bigmodels.insight.advisor import recommend_architecture

    answer = recommend_architecture(
        args.task, args.samples, input_shape=args.input_shape, compute=args.compute
    )
    print(
        json.dumps(answer.to_dict(), ensure_ascii=False, indent=2)
        if args.json
        else answer
    )
    return 0
