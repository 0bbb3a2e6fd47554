"""`keras-bigmodels explain RUN INPUT...`: what a trained model looked at.

Image runs (train cnn|classifier): Grad-CAM heatmaps over the images.
Transformer runs (train transformer): attention maps over the texts.
"""

from __future__ import annotations

import os
import sys

from keras_bigmodels._paths import readable_name
from keras_bigmodels.cli._common import add_unsafe_load_flag, image_run_problem


def add_parser(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="what a model looked at: Grad-CAM overlays of images, attention "
        "maps of texts (PNG)",
        description="For a run of train cnn|classifier, write for each image a "
        "PNG with the Grad-CAM heatmap of the predicted class (or --class) over "
        "it. For a run of train transformer, write for each text a PNG of every "
        "block's attention weights per head over its tokens. Each prediction "
        "is printed.",
    )
    p.add_argument(
        "run_dir", metavar="RUN", help="a run of train cnn|classifier|transformer"
    )
    p.add_argument(
        "images",
        metavar="INPUT",
        nargs="+",
        help="image files or folders of them; for a transformer run, texts "
        "(or .txt files)",
    )
    p.add_argument("--class", dest="class_name", default=None, help="class to explain")
    p.add_argument("--layer", default=None, help="layer whose feature maps are used")
    p.add_argument(
        "--out", default=None, help="folder of the PNGs (default: RUN/explain)"
    )
    add_unsafe_load_flag(p)
    p.set_defaults(run=run, precheck=image_run_problem)


def _texts(args) -> int:
    from keras_bigmodels.data.text import read_text_file
    from keras_bigmodels.workflows.text_classifier import explain_texts

    if args.class_name is not None or args.layer is not None:
        raise ValueError(
            "--class and --layer apply to image runs (Grad-CAM); a transformer "
            "run draws the attention of its predicted class."
        )
    texts = [
        read_text_file(t) if t.endswith(".txt") and os.path.isfile(t) else t
        for t in args.images
    ]
    out = args.out or os.path.join(args.run_dir, "explain")
    for item in explain_texts(args.run_dir, texts, out, safe_mode=not args.unsafe_load):
        shown = item["text"] if len(item["text"]) <= 40 else item["text"][:37] + "..."
        print(
            f"{shown!r}: {item['label']} ({100 * item['probability']:.1f}%) "
            f"-> {item['attention']}"
        )
    return 0


def run(args) -> int:
    from keras_bigmodels.training.runs import MANIFEST_FILE, read_json
    from keras_bigmodels.workflows.image_runs import explain_images

    manifest = read_json(os.path.join(args.run_dir, MANIFEST_FILE))
    if manifest.get("architecture") == "transformer":
        return _texts(args)
    if manifest.get("task") != "image_classification":
        raise ValueError(
            f"explain draws Grad-CAM for image runs and attention maps for "
            f"transformer runs; {args.run_dir!r} is a "
            f"{manifest.get('architecture')!r} run."
        )
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
            f"{item['path']}: {readable_name(item['label'])} "
            f"({100 * item['probability']:.1f}%) -> {item['overlay']}"
        )
    if not bad:
        return 0
    return 3 if written else 1
