"""`keras-bigmodels export RUN --format saved_model|onnx|litert [--quantize int8]`."""

from __future__ import annotations

from keras_bigmodels._paths import run_folder_problem
from keras_bigmodels.cli._common import add_unsafe_load_flag

FORMATS = ("saved_model", "onnx", "litert")  # as deploy.formats.FORMATS


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a run's model (SavedModel, ONNX, LiteRT), checked against it",
        description="Write the inference graph of a run's model (augmentation "
        "and dropout off, preprocessing inside) to RUN/exports/, then open it in "
        "its own runtime and compare it with the trained model on the run's "
        "held-out examples; the figures go to RUN/exports/export.json. An "
        "export that fails its check is removed. Formats need the [export] "
        'extra: pip install -e ".[export]".',
    )
    p.add_argument("run_dir", metavar="RUN", help="a finished run folder")
    p.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        help="saved_model (TensorFlow Serving), onnx (ONNX Runtime) or litert "
        "(phones, TensorFlow Lite)",
    )
    p.add_argument(
        "--quantize",
        choices=("int8",),
        default=None,
        help="store the weights as 8-bit integers (onnx and litert)",
    )
    add_unsafe_load_flag(p)
    p.set_defaults(run=run, precheck=precheck)


def precheck(args) -> str | None:
    if args.quantize and args.format == "saved_model":
        return (
            "--quantize int8 is for onnx and litert; a SavedModel keeps float "
            "weights. Received: --format saved_model"
        )
    return run_folder_problem(args.run_dir, ("model.keras", "manifest.json"))


def run(args) -> int:
    from keras_bigmodels.cli._common import fail
    from keras_bigmodels.deploy.export import ExportCheckError, export_run
    from keras_bigmodels.deploy.formats import UnsupportedOpError

    try:
        report = export_run(
            args.run_dir,
            args.format,
            quantize=args.quantize,
            safe_mode=not args.unsafe_load,
        )
    except UnsupportedOpError as error:
        return fail(str(error))
    except ExportCheckError as error:
        print(error.report.summary())
        return fail(str(error))
    print(report.summary())
    for path in report.extra_files:
        print(f"  beside it: {path}")
    print(f"  recorded in {report.record}")
    return 0
