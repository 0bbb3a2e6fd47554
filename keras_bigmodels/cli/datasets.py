"""`keras-bigmodels datasets export digits DIR`."""

from __future__ import annotations

from keras_bigmodels.cli._common import parse_image_size

DATASETS = ("digits",)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "datasets",
        help="bundled datasets",
        description="Work with the bundled datasets.",
    )
    actions = p.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(p)
    )
    e = actions.add_parser(
        "export",
        help="write a bundled dataset as image files",
        description="Write a bundled dataset as PNG files in "
        "DIR/train/<class>/ and DIR/test/<class>/.",
    )
    e.add_argument("name", choices=DATASETS)
    e.add_argument("directory", metavar="DIR")
    e.add_argument(
        "--image-size",
        type=parse_image_size,
        default=(32, 32),
        help="N or HxW (default: 32)",
    )
    e.set_defaults(run=run_export)


def run_export(args) -> int:
    from keras_bigmodels.datasets import export_digits

    paths = export_digits(args.directory, args.image_size)
    print(f"Wrote digits to {paths['train']} and {paths['test']}")
    return 0
