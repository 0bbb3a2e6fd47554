"""`keras-bigmodels predict RUN IMAGE|FOLDER...`: top-k labels with probabilities.

Exit status: 0 when every image was predicted, 3 when some inputs were
skipped (the others are still printed), 1 when none could be used.
"""

from __future__ import annotations

import sys

from keras_bigmodels._paths import readable_name
from keras_bigmodels.cli._common import add_unsafe_load_flag, image_run_problem


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="classify image files with a run's model",
        description="Print the top-k labels of each image with their "
        "probabilities. A folder stands for every image file under it.",
        epilog="Exit status: 0 when every image was predicted, 3 when some "
        "inputs were skipped (the rest are still printed), 1 when none could "
        "be used.",
    )
    p.add_argument("run_dir", metavar="RUN", help="a run folder written by train")
    p.add_argument(
        "images", metavar="IMAGE", nargs="+", help="image files or folders of them"
    )
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON record per file: its top-k, or why it was skipped",
    )
    add_unsafe_load_flag(p)
    p.set_defaults(run=run, precheck=image_run_problem)


PARTIAL = 3  # exit status when some inputs were skipped


def run(args) -> int:
    from keras_bigmodels.training.runs import json_text
    from keras_bigmodels.workflows.image_runs import (
        predict_images,
        prediction_records,
    )

    predictions, bad = predict_images(
        args.run_dir, args.images, top_k=args.top_k, safe_mode=not args.unsafe_load
    )
    for b in bad:
        print(f"keras-bigmodels: skipped {b}", file=sys.stderr)
    if args.json:
        print(json_text(prediction_records(args.images, predictions, bad)))
    else:
        for p in predictions:
            ranked = ", ".join(
                f"{readable_name(t['label'])} ({100 * t['probability']:.1f}%)"
                for t in p["top_k"]
            )
            print(f"{p['path']}: {ranked}")
    if not bad:
        return 0
    total = len(predictions) + len(bad)
    print(
        f"keras-bigmodels: predicted {len(predictions)} of {total} input(s); "
        f"{len(bad)} skipped (listed above)",
        file=sys.stderr,
    )
    return PARTIAL if predictions else 1
