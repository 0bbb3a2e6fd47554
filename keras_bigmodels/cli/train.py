"""`keras-bigmodels train ARCH`: parse, call the library, report."""

from __future__ import annotations

import os

from keras_bigmodels.cli._common import fail, parse_image_size

ARCHITECTURES = ("cnn",)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model and write a run folder",
        description="Train a model and write a run folder (model.keras, "
        "metrics.json, history.csv, manifest.json, plots).",
    )
    p.add_argument(
        "architecture",
        metavar="ARCH",
        help=f"what to train: {', '.join(ARCHITECTURES)}",
    )
    p.add_argument(
        "--data",
        default="digits",
        help="'digits' (bundled) or a folder of images (default: digits)",
    )
    p.add_argument(
        "--labels",
        default="inferred",
        choices=("inferred", "filename"),
        help="class sub-folders, or the text before the first dot of "
        "each file name (default: inferred)",
    )
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--image-size",
        type=parse_image_size,
        default=None,
        help="N or HxW (default: 32 for digits, 224 for folders)",
    )
    p.add_argument(
        "--color-mode",
        default=None,
        choices=("rgb", "grayscale", "rgba"),
        help="default: grayscale for digits, rgb for folders",
    )
    p.add_argument("--validation-split", type=float, default=0.2)
    p.add_argument(
        "--test-split",
        type=float,
        default=0.1,
        help="held-out test fraction of a folder (digits has a fixed one)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--l2", type=float, default=0.0, help="L2 weight decay")
    p.add_argument("--batch-norm", action="store_true")
    p.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        help="turn off the light shift/rotate/zoom augmentation",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=10,
        help="epochs without validation improvement before stopping",
    )
    p.add_argument(
        "--cache",
        default="auto",
        help="auto, memory, none, or a file path for decoded images",
    )
    p.add_argument(
        "--strategy",
        default="auto",
        choices=("auto", "default", "one_device", "mirrored", "multi_worker"),
    )
    p.add_argument("--out", default="runs", help="parent folder of run folders")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.architecture not in ARCHITECTURES:
        return fail(
            f"unknown architecture {args.architecture!r}; "
            f"choose from: {', '.join(ARCHITECTURES)}",
            2,
        )
    if args.data != "digits" and not os.path.isdir(args.data):
        return fail(f"--data: no such folder: {args.data!r} (or use 'digits')")
    from keras_bigmodels.training.image_classifier import (
        TrainConfig,
        train_image_classifier,
    )

    cfg = TrainConfig(
        data=args.data,
        image_size=args.image_size,
        color_mode=args.color_mode,
        labels=args.labels,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        test_split=args.test_split,
        seed=args.seed,
        learning_rate=args.learning_rate,
        dropout=args.dropout,
        l2=args.l2,
        batch_norm=args.batch_norm,
        augment=args.augment,
        patience=args.patience,
        cache=args.cache,
        strategy=args.strategy,
        out=args.out,
    )
    result = train_image_classifier(cfg)
    m = result["metrics"]
    print()
    for split in ("train", "validation", "test"):
        if split in m:
            print(
                f"{split:>10} accuracy: {100 * m[split]['accuracy']:.2f}%  "
                f"loss: {m[split]['loss']:.4f}"
            )
    held_out = "test" if "test" in m else "validation"
    print(
        f"Held-out {held_out} accuracy: {100 * m[held_out]['accuracy']:.2f}% "
        f"(trained in {result['seconds']:.0f} s)"
    )
    print(f"Run saved to {result['run_dir']}")
    return 0
