"""`export_run`: a run's model as a SavedModel, ONNX or LiteRT file, checked.

An export is only as good as its agreement with the model that was trained.
Each artifact is written beside the run (`RUN/exports/`), opened at once in
its own runtime and compared with the Keras model on the run's own held-out
examples; the figures go to `RUN/exports/export.json`. An artifact that
fails its check is deleted, and the failure is recorded.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time

import numpy as np

from keras_bigmodels.deploy import formats
from keras_bigmodels.deploy.serving import call_in_batches, serving_of
from keras_bigmodels.training import runs

EXPORTS_DIR = "exports"
EXPORT_JSON = "export.json"
VOCABULARY_FILE = "vocabulary.json"
# What an artifact must show against the Keras model to be kept.
THRESHOLDS = {
    None: {"top1_agreement": 1.0, "max_abs_difference": 1e-4},
    "int8": {
        "top1_agreement": 0.98,
        "max_abs_difference": 0.05,
        "size_ratio_to_float": 0.5,
    },
}


class ExportCheckError(RuntimeError):
    """An artifact did not give the trained model's answers; it was removed."""

    def __init__(self, report):
        self.report = report
        super().__init__(
            f"the {report.format}{' int8' if report.quantize else ''} export does "
            f"not behave like the trained model ({'; '.join(report.failures)}); "
            f"it was removed, the figures are in {report.record}"
        )


@dataclasses.dataclass
class ExportReport:
    """One export and its check.

    Attributes:
        path: the artifact (a folder for saved_model).
        format, quantize: what was asked.
        bytes: the artifact's size; `float_bytes` the float model's (int8).
        seconds: time to write the artifact (conversion and quantization).
        examples: held-out examples it was checked on.
        top1_agreement: fraction of examples (and positions, for a language
            model) whose most probable class matches the Keras model's;
            None for outputs that are not probabilities.
        max_abs_difference: largest absolute output difference.
        repeatable: two calls on the same inputs gave the same output.
        passed: the thresholds were met; `failures` says which were not.
        record: the `export.json` that holds this report.
    """

    path: str
    format: str
    quantize: str | None
    runtime: str
    bytes: int
    float_bytes: int | None
    seconds: float
    examples: int
    top1_agreement: float | None
    max_abs_difference: float
    repeatable: bool
    passed: bool
    failures: list
    thresholds: dict
    record: str
    extra_files: list

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        agreement = (
            "n/a"
            if self.top1_agreement is None
            else f"{100 * self.top1_agreement:.2f}%"
        )
        return (
            f"{self.path}: {self.bytes / 1e6:.3f} MB in {self.seconds:.1f} s; "
            f"checked in {self.runtime} on {self.examples} held-out examples: "
            f"top-1 agreement {agreement}, largest probability difference "
            f"{self.max_abs_difference:.2e}, repeatable "
            f"{'yes' if self.repeatable else 'NO'}"
        )


def artifact_name(fmt: str, quantize: str | None) -> str:
    return "model" + (f"-{quantize}" if quantize else "") + formats.SUFFIX[fmt]


def export_run(
    run_dir,
    format: str,
    *,
    quantize: str | None = None,
    safe_mode: bool = True,
) -> ExportReport:
    """Export a run's model and check it against the trained model.

    The artifact holds the inference graph (`training=False`) with the
    preprocessing inside: uint8 images in and probabilities out for an image
    classifier, token ids in for a text model (the run's vocabulary is
    written beside it as `vocabulary.json`). Float formats must agree with
    the Keras model on every held-out example (top-1) within 1e-4; int8 on at
    least 98% within 0.05, in at most half the float size.

    Args:
        run_dir: str. A finished run folder.
        format: `"saved_model"`, `"onnx"` or `"litert"`.
        quantize: None, or `"int8"` (onnx and litert): 8-bit weights.
        safe_mode: bool. Keras's safe mode when loading the model.

    Returns:
        An `ExportReport` (also recorded in `RUN/exports/export.json`).

    Raises:
        ValueError: a bad `format` or `quantize`, or a run that cannot be
            exported.
        formats.UnsupportedOpError: the format has no mapping for an op.
        ExportCheckError: the artifact failed its check (and was removed).

    Example:

    >>> report = export_run("runs/cnn-20261207-101500", "litert")  # doctest: +SKIP
    >>> report.top1_agreement  # doctest: +SKIP
    1.0
    """
    if format not in formats.FORMATS:
        raise ValueError(
            f"`format` must be one of {formats.FORMATS}. Received: format={format!r}"
        )
    if quantize not in (None, "int8"):
        raise ValueError(f"`quantize` must be None or 'int8'. Received: {quantize=}")
    if quantize and format not in formats.QUANTIZABLE:
        raise ValueError(
            f"int8 quantization is for {' and '.join(formats.QUANTIZABLE)}; a "
            f"SavedModel keeps float weights. Received: format={format!r}, "
            f"quantize={quantize!r}"
        )
    run_dir = os.fspath(run_dir)
    serving = serving_of(run_dir, safe_mode=safe_mode)
    out_dir = os.path.join(run_dir, EXPORTS_DIR)
    os.makedirs(out_dir, exist_ok=True)
    name = artifact_name(format, quantize)
    final = os.path.join(out_dir, name)
    # Written under a temporary name, renamed only once its check passes.
    partial = os.path.join(out_dir, f".partial-{name}")
    formats.remove(partial)
    started = time.perf_counter()
    try:
        formats.write(format, serving, partial, quantize=quantize)
    except formats.UnsupportedOpError as error:
        formats.remove(partial)
        error.working = _formats_that_convert(serving, out_dir, but=format)
        raise
    except BaseException:
        formats.remove(partial)
        raise
    seconds = time.perf_counter() - started
    float_bytes = None
    if quantize:
        float_bytes = _float_size(format, serving, out_dir)
    report = _check(
        serving,
        fmt=format,
        quantize=quantize,
        path=partial,
        seconds=seconds,
        float_bytes=float_bytes,
        record=os.path.join(out_dir, EXPORT_JSON),
    )
    if report.passed:
        formats.remove(final)
        os.replace(partial, final)
        report.path = final
        report.extra_files = _write_beside(run_dir, out_dir)
    else:
        # Neither this artifact nor an earlier one of the same name is left
        # beside a record that says the export failed.
        formats.remove(partial)
        formats.remove(final)
        report.path = final + " (removed: failed its check)"
    _record(report)
    if not report.passed:
        raise ExportCheckError(report)
    return report


def _formats_that_convert(serving, out_dir, *, but: str) -> list:
    """The other formats this model converts to (written, then deleted)."""
    working = []
    for fmt in formats.FORMATS:
        if fmt == but:
            continue
        scratch = os.path.join(out_dir, f".try{formats.SUFFIX[fmt]}")
        try:
            formats.write(fmt, serving, scratch)
            working.append(fmt)
        except Exception:  # noqa: S112  (any failure: not a working format)
            continue
        finally:
            formats.remove(scratch)
    return working


def _float_size(fmt, serving, out_dir) -> int:
    """Size of the float artifact, for int8's size ratio."""
    float_path = os.path.join(out_dir, artifact_name(fmt, None))
    if os.path.exists(float_path):
        return formats.size_of(float_path)
    scratch = os.path.join(out_dir, f".float-size{formats.SUFFIX[fmt]}")
    try:
        formats.write(fmt, serving, scratch)
        return formats.size_of(scratch)
    finally:
        formats.remove(scratch)


def _check(serving, *, fmt, quantize, path, seconds, float_bytes, record):
    run = formats.runner(fmt, path)
    got = call_in_batches(run, serving.held_out)
    again = call_in_batches(run, serving.held_out)
    reference = serving.reference
    difference = float(np.max(np.abs(got.astype("float64") - reference)))
    agreement = None
    if serving.classes_last:
        agreement = float(np.mean(got.argmax(-1) == reference.argmax(-1)))
    size = formats.size_of(path)
    thresholds = THRESHOLDS[quantize]
    failures = []
    if agreement is not None and agreement < thresholds["top1_agreement"]:
        failures.append(
            f"top-1 agreement {agreement:.4f} < {thresholds['top1_agreement']}"
        )
    if not difference <= thresholds["max_abs_difference"]:
        failures.append(
            f"largest difference {difference:.3g} > {thresholds['max_abs_difference']}"
        )
    repeatable = bool(np.array_equal(got, again))
    if not repeatable:
        failures.append("two calls on the same inputs differ")
    if float_bytes and size > thresholds["size_ratio_to_float"] * float_bytes:
        failures.append(
            f"{size} bytes is more than {thresholds['size_ratio_to_float']} of "
            f"the float model's {float_bytes}"
        )
    return ExportReport(
        path=path,
        format=fmt,
        quantize=quantize,
        runtime=formats.RUNTIME[fmt],
        bytes=size,
        float_bytes=float_bytes,
        seconds=round(seconds, 2),
        examples=len(serving.held_out[0]),
        top1_agreement=agreement,
        max_abs_difference=difference,
        repeatable=repeatable,
        passed=not failures,
        failures=failures,
        thresholds=thresholds,
        record=record,
        extra_files=[],
    )


def _write_beside(run_dir, out_dir) -> list:
    """The class names and the vocabulary a user of the artifact needs."""
    from keras_bigmodels.workflows._common import TOKENIZER_FILE

    written = []
    for source, name in (
        (runs.CLASS_NAMES_FILE, runs.CLASS_NAMES_FILE),
        (TOKENIZER_FILE, VOCABULARY_FILE),
    ):
        if os.path.isfile(os.path.join(run_dir, source)):
            shutil.copyfile(os.path.join(run_dir, source), os.path.join(out_dir, name))
            written.append(os.path.join(out_dir, name))
    return written


def _record(report: ExportReport) -> None:
    """Add `report` to `export.json`, keyed by the artifact's file name."""
    path = report.record
    records = runs.read_json(path) if os.path.isfile(path) else {}
    key = artifact_name(report.format, report.quantize)
    records[key] = report.to_dict()
    runs.write_json(path, records)
