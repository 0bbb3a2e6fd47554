"""Export every format of three runs and print each check's figures.

Trains `train cnn` on the digits (augmentation on, as by default), the
Transformer classifier on the order task and the GPT on the bundled corpus,
then exports each to SavedModel, ONNX and LiteRT, float and int8, checked in
its own runtime on the run's held-out examples. Prints top-1 agreement, the
largest probability difference, the file size (and the int8/float ratio)
and the export time.

    .venv/bin/python bench/export.py [--epochs N]
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_bigmodels import workflows as W  # noqa: E402
from keras_bigmodels.deploy import export_run  # noqa: E402
from keras_bigmodels.deploy.formats import UnsupportedOpError  # noqa: E402

VARIANTS = [
    ("saved_model", None),
    ("onnx", None),
    ("litert", None),
    ("onnx", "int8"),
    ("litert", "int8"),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)
    out = tempfile.mkdtemp(prefix="bench-export-")
    runs = {
        "cnn": W.train_image_classifier(
            W.ImageClassifierConfig(
                data="digits", epochs=args.epochs, out=out, verbose=0
            )
        ),
        "transformer": W.train_sequence_classifier(
            W.TransformerClassifierConfig(epochs=args.epochs, out=out, verbose=0)
        ),
        "gpt": W.train_gpt(W.GPTConfig(epochs=1, out=out, verbose=0)),
    }
    print(
        f"{'run':12} {'format':18} {'top-1':>8} {'max diff':>9} {'kB':>9} "
        f"{'int8/float':>10} {'seconds':>8}"
    )
    for kind, run in runs.items():
        for fmt, quantize in VARIANTS:
            name = fmt + (" int8" if quantize else "")
            try:
                r = export_run(run.run_dir, fmt, quantize=quantize)
            except UnsupportedOpError as error:
                print(f"{kind:12} {name:18} {error}")
                continue
            ratio = f"{r.bytes / r.float_bytes:.2f}" if r.float_bytes else ""
            agreement = "n/a" if r.top1_agreement is None else f"{r.top1_agreement:.4f}"
            print(
                f"{kind:12} {name:18} {agreement:>8} {r.max_abs_difference:9.2e} "
                f"{r.bytes / 1e3:9.1f} {ratio:>10} {r.seconds:8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
