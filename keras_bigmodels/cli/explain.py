"""`keras-bigmodels explain RUN IMAGE...`: Grad-CAM heatmaps over the images."""

from __future__ import annotations

import os
import sys

from keras_bigmodels.cli._common import add_unsafe_load_flag, image_run_problem


def add_parser(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="where an image classifier looked: Grad-CAM overlays (PNG)",
        description="Write, for each image, a PNG with the Grad-CAM heatmap of "
        "the predicted class (or --class) over it, and print the prediction.",
    )
    p.add_argument("run_dir", metavar="RUN", help="a run of train cnn|classifier")
    p.add_argument(
        "images", metavar="IMAGE", nargs="+", help="image files or folders of them"
    )
    p.add_argument("--class", dest="class_name", default=None, help="class to explain")
    p.add_argument("--layer", default=None, help="layer whose feature maps are used")
    p.add_argument(
        "--out", default=None, help="folder of the PNGs (default: RUN/explain)"
    )
    add_unsafe_load_flag(p)
    p.set_defaults(run=run, precheck=image_run_problem)


def run(args) -> int:
    from keras_bigmodels.training.image_classifier import explain_images

    out = args.out or os.path.join(args.run_dir, "explain")
    written, bad = explain_images(
        args.run_dir,
        args.images,
        out,
        class_name=args.class_name,
        layer=args.layer,
        safe_mode=not args.unsafe_load,
    )
    for b in bad:
        print(f"keras-bigmodels: skipped {b}", file=sys.stderr)
    for item in written:
        print(
            f"{item['path']}: {item['label']} ({100 * item['probability']:.1f}%) "
            f"-> {item['overlay']}"
        )
    if not bad:
        return 0
    return 3 if written else 1
