"""`keras-bigmodels predict RUN IMAGE...`: top-k labels with probabilities."""

from __future__ import annotations

import json
import sys

from keras_bigmodels._paths import run_folder_problem
from keras_bigmodels.cli._common import add_unsafe_load_flag


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="classify image files with a run's model",
        description="Print the top-k labels of each image with their probabilities.",
    )
    p.add_argument("run_dir", metavar="RUN", help="a run folder written by train")
    p.add_argument("images", metavar="IMAGE", nargs="+")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_unsafe_load_flag(p)
    p.set_defaults(run=run, precheck=precheck)


def precheck(args) -> str | None:
    return run_folder_problem(
        args.run_dir, ("model.keras", "manifest.json", "class_names.json")
    )


def run(args) -> int:
    from keras_bigmodels.training.image_classifier import predict_images

    predictions, bad = predict_images(
        args.run_dir, args.images, args.top_k, safe_mode=not args.unsafe_load
    )
    for b in bad:
        print(f"keras-bigmodels: skipped {b}", file=sys.stderr)
    if args.json:
        print(json.dumps(predictions, indent=2))
    else:
        for p in predictions:
            ranked = ", ".join(
                f"{t['label']} ({100 * t['probability']:.1f}%)" for t in p["top_k"]
            )
            print(f"{p['path']}: {ranked}")
    return 0 if predictions else 1
