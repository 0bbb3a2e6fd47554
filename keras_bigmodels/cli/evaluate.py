"""`keras-bigmodels evaluate RUN --data DIR|digits`."""

from __future__ import annotations

import json

from keras_bigmodels.cli._common import add_unsafe_load_flag, image_run_problem


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a run's model on labelled images",
        description="Evaluate a run's model on a folder of labelled "
        "images (class sub-folders) or on 'digits'.",
    )
    p.add_argument("run_dir", metavar="RUN", help="a run folder written by train")
    p.add_argument("--data", required=True, help="a folder of images, or 'digits'")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_unsafe_load_flag(p)
    p.set_defaults(run=run, precheck=image_run_problem)


def run(args) -> int:
    from keras_bigmodels.workflows.image_runs import evaluate_image_classifier

    result = evaluate_image_classifier(
        args.run_dir,
        args.data,
        batch_size=args.batch_size,
        safe_mode=not args.unsafe_load,
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"accuracy: {100 * result['accuracy']:.2f}%  loss: {result['loss']:.4f}  "
        f"({result['count']} images)"
    )
    if result["bad_files"]:
        # The files and reasons were listed as they were found.
        print(f"skipped {len(result['bad_files'])} bad file(s), listed above")
    return 0
