"""`keras-bigmodels train ARCH`: flags generated from the workflow configs.

Each architecture is one row of `WORKFLOWS`: its config dataclass (whose
fields become its flags, with their defaults and help), the workflow of
`keras_bigmodels.workflows` that takes it, and the function that prints its
result. `train gpt --help` thus
lists GPT's settings only, and a flag of another architecture is refused
before TensorFlow starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable

from keras_bigmodels.cli import _common
from keras_bigmodels.cli._common import OneLineParser, finite_float, parse_image_size
from keras_bigmodels.training.run_config import RESUME_LATEST, field_type
from keras_bigmodels.workflows import configs as C

# --- reports -------------------------------------------------------------------


def _report_cnn(r) -> None:
    for split in ("train", "validation", "test"):
        if split in r.split_metrics:
            m = r.split_metrics[split]
            print(
                f"{split:>10} accuracy: {100 * m['accuracy']:.2f}%  "
                f"loss: {m['loss']:.4f}"
            )
    per_class = r.metrics.get("per_class", [])
    if per_class and len(per_class) <= 20:
        unit = getattr(r, "unit", "images")
        print(f"{'class':>12} {'precision':>9} {'recall':>7} {'f1':>6} {unit:>6}")
        for row in per_class:
            print(
                f"{row['class'][:12]:>12} {100 * row['precision']:8.1f}% "
                f"{100 * row['recall']:6.1f}% {100 * row['f1']:5.1f}% "
                f"{row['support']:>6}"
            )
    tuned = r.metrics.get("fine_tune_parameters")
    if tuned:
        how = f"LoRA rank {tuned['lora_rank']}" if tuned["lora_rank"] else "every layer"
        print(
            f"Fine-tuning ({how}): {tuned['trainable']:,} of {tuned['total']:,} "
            f"parameters trainable ({100 * tuned['trainable'] / tuned['total']:.1f}%)"
        )
    print(f"Held-out {r.held_out} accuracy: {100 * r.accuracy:.2f}%")


def _report_mlp(r) -> None:
    print(f"{'missing values':<16}{'train rows':>11}{'test rows':>11}{'accuracy':>11}")
    for name, row in r.strategies.items():
        acc = row["accuracy"]
        shown = f"{100 * acc:10.2f}%" if acc is not None else "  too few rows"
        mark = "  <- saved model" if name == r.config.impute else ""
        print(f"{name:<16}{row['train_rows']:>11}{row['test_rows']:>11}{shown}{mark}")
    print(f"Held-out test accuracy ({r.config.impute}): {100 * r.accuracy:.2f}%")


def _report_sequence_classifier(r) -> None:
    print(
        f"Held-out test accuracy: {100 * r.accuracy:.2f}%   "
        f"bag-of-tokens baseline: {100 * r.baseline_accuracy:.2f}%"
    )


def _report_seq2seq(r) -> None:
    for ex in r.examples:
        print(f"  {ex['source']} -> {ex['prediction']} (target {ex['target']})")
    if r.exact_match_uniform is None:
        print(f"Held-out test exact match: {100 * r.exact_match:.2f}%")
        return
    print(
        f"Held-out test exact match: {100 * r.exact_match:.2f}% on the bundled "
        f"split (operand lengths drawn first), "
        f"{100 * r.exact_match_uniform:.2f}% on {r.uniform_test_size} pairs drawn "
        "uniformly (mostly full length, with carries)"
    )


def _report_gpt(r) -> None:
    print(f"Sample:\n{r.sample}\n")
    if r.pretrained_cross_entropy is not None:
        print(
            f"Held-out cross-entropy: {r.cross_entropy:.4f} nats/token   "
            f"the preset before fine-tuning: {r.pretrained_cross_entropy:.4f}"
        )
        return
    print(
        f"Held-out cross-entropy: {r.cross_entropy:.4f} nats/token   "
        f"best n-gram baseline ({r.ngram_order}-gram): {r.ngram_cross_entropy:.4f}   "
        f"ratio {r.cross_entropy / r.ngram_cross_entropy:.3f}"
    )


def _report_autoencoder(r) -> None:
    print(
        f"Held-out reconstruction MSE: {r.reconstruction_mse:.5f}   "
        f"PCA with {r.code_size} components: {r.pca_mse:.5f}   "
        f"ratio {r.ratio_to_pca:.3f}"
    )


def _report_gan(r) -> None:
    s = r.samples
    if s is None:
        return
    print(
        f"Judge (a CNN trained on the real images): "
        f"{100 * r.judge_accuracy:.2f}% held-out accuracy"
    )
    print(
        f"Generated samples with a class at probability >= 0.9: "
        f"{100 * s['confident_fraction']:.1f}% of {s['samples']}; "
        f"classes present: {s['classes_present']} of {len(s['class_counts'])}"
    )
    print(f"  samples per class: {s['class_counts']}")
    if "label_agreement" in s:
        print(
            f"  judged class = the class asked for: {100 * s['label_agreement']:.1f}%"
        )
    fd = r.frechet_distance
    print(
        f"Frechet distance to held-out images: {fd['final']:.2f} "
        f"(best epoch {fd['best']:.2f}; real train vs held-out: "
        f"{fd['real_train_vs_test']:.2f})"
    )


@dataclasses.dataclass(frozen=True)
class Workflow:
    config: type
    function: str  # its name in keras_bigmodels.workflows (loaded on first use)
    report: Callable  # prints the result
    help: str
    data_kind: str  # "images", "text_folder", "file"


WORKFLOWS = {
    "cnn": Workflow(
        C.ImageClassifierConfig,
        "train_image_classifier",
        _report_cnn,
        "the article's CNN on the bundled digits or a folder of images",
        "images",
    ),
    "classifier": Workflow(
        C.BackboneClassifierConfig,
        "train_backbone_classifier",
        _report_cnn,
        "a pretrained backbone (or a run's trained body) with a new head, then "
        "fine-tuning",
        "images",
    ),
    "text-classifier": Workflow(
        C.TextFineTuningConfig,
        "train_text_classifier",
        _report_cnn,
        "a pretrained language model from a folder (a KerasHub preset or a "
        "gpt run) with a new head, then fine-tuning or LoRA",
        "text_folder",
    ),
    "mlp": Workflow(
        C.MLPConfig,
        "train_mlp",
        _report_mlp,
        "an MLP on a table with missing values, each FAQ 6.2 remedy side by side",
        "table",
    ),
    "rnn": Workflow(
        C.RNNClassifierConfig,
        "train_sequence_classifier",
        _report_sequence_classifier,
        "a bidirectional RNN classifier (bundled order task or text folders)",
        "text_folder",
    ),
    "transformer": Workflow(
        C.TransformerClassifierConfig,
        "train_sequence_classifier",
        _report_sequence_classifier,
        "a Transformer classifier (bundled order task or text folders)",
        "text_folder",
    ),
    "seq2seq": Workflow(
        C.Seq2SeqConfig,
        "train_seq2seq",
        _report_seq2seq,
        "an encoder-decoder (bundled n-digit addition or a TSV of pairs)",
        "file",
    ),
    "gpt": Workflow(
        C.GPTConfig,
        "train_gpt",
        _report_gpt,
        "a small GPT language model (bundled corpus or a text file)",
        "file",
    ),
    "gan": Workflow(
        C.GANConfig,
        "train_gan",
        _report_gan,
        "a DCGAN on digits or a folder of images, judged by a classifier",
        "images",
    ),
    "autoencoder": Workflow(
        C.AutoencoderConfig,
        "train_autoencoder",
        _report_autoencoder,
        "an autoencoder on digits or a folder of images, beside PCA",
        "images",
    ),
}
ARCHITECTURES = tuple(WORKFLOWS)
ARCHITECTURES = tuple(WORKFLOWS)


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _add_field(p, cls, f: dataclasses.Field) -> None:
    meta = f.metadata
    base, optional = field_type(cls, f)
    help_text = meta.get("help", "")
    if f.name == "resume":
        p.add_argument(
            "--resume",
            nargs="?",
            const=RESUME_LATEST,
            default=None,
            metavar="RUN",
            help=help_text,
        )
        return
    kwargs = {"default": f.default, "dest": f.name}
    if base is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        kwargs["type"] = {int: int, float: finite_float, tuple: parse_image_size}.get(
            base, str
        )
        if meta.get("choices"):
            kwargs["choices"] = meta["choices"]
        kwargs["metavar"] = "N" if base is int else "X" if base is float else None
        if base is tuple:
            kwargs["metavar"] = "N|HxW"
        if kwargs["metavar"] is None:
            del kwargs["metavar"]
    if f.default is not None and base is not bool:
        help_text += f" (default: {f.default})"
    p.add_argument(flag_name(f.name), help=help_text, **kwargs)
    if meta.get("negative"):
        p.add_argument(
            flag_name(meta["negative"]),
            dest=f.name,
            action="store_const",
            const=False,
            help=f"the same as --no-{f.name.replace('_', '-')}",
        )


def add_config_flags(p, cls) -> None:
    """One flag per command-line field of config class `cls`."""
    for f in dataclasses.fields(cls):
        if f.metadata.get("cli", True):
            _add_field(p, cls, f)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model and write a run folder",
        description="Train a model and write a run folder (model.keras, "
        "metrics.json, history.csv, manifest.json, checkpoints/, logs/, plots). "
        "`train ARCH --help` lists the flags of ARCH.",
    )
    arch_sub = p.add_subparsers(
        dest="architecture",
        metavar="ARCH",
        required=True,
        parser_class=OneLineParser,
    )
    for name, wf in WORKFLOWS.items():
        a = arch_sub.add_parser(
            name,
            help=wf.help,
            description=f"Train {wf.help}.",
        )
        add_config_flags(a, wf.config)
        a.set_defaults(run=run, precheck=precheck)


def config_of(cls, args):
    """A config of class `cls` from the parsed flags of its fields."""
    return cls(
        **{
            f.name: getattr(args, f.name)
            for f in dataclasses.fields(cls)
            if f.metadata.get("cli", True)
        }
    )


def config_from_args(args):
    """The workflow config the parsed flags describe."""
    return config_of(WORKFLOWS[args.architecture].config, args)


def precheck(args) -> str | None:
    """Settings and path checks that need no TensorFlow."""
    wf = WORKFLOWS[args.architecture]
    try:
        config_from_args(args).check()
    except ValueError as e:
        return str(e)
    data = getattr(args, "data", None)
    bundled = {"images": "digits", "table": "breast_cancer"}.get(wf.data_kind)
    if data is None or data == bundled:
        return None
    if wf.data_kind in ("images", "text_folder") and not os.path.isdir(data):
        return f"--data: no such folder: {data!r}"
    if wf.data_kind in ("file", "table") and not os.path.isfile(data):
        return f"--data: No such text file: {data!r}"
    return None


def run(args) -> int:
    wf = WORKFLOWS[args.architecture]
    cfg = config_from_args(args)
    from keras_bigmodels import workflows

    result = getattr(workflows, wf.function)(cfg)
    print()
    wf.report(result)
    if result.diagnosis:
        from keras_bigmodels.insight.diagnose import Diagnosis

        print(Diagnosis(**result.diagnosis))
    print(f"(trained in {result.seconds:.0f} s)")
    steps = getattr(result.config, "gradient_accumulation_steps", 1)
    if steps > 1:
        b = result.config.batch_sizes()
        print(
            f"Batch per update: {b['global_batch_size']} "
            f"({b['micro_batch_size']} x {steps} accumulated steps)"
        )
    if result.run_dir:
        print(f"Run saved to {result.run_dir}")
    else:  # a multi-worker run's other workers
        print("Finished; the chief (worker 0) wrote the run folder.")
    if result.diagnosis and result.diagnosis["verdict"] == "diverging":
        # A model whose loss blew up is no result: the last line says so.
        rate = result.config.learning_rate
        was = f" (it was {rate:g})" if rate is not None else ""
        return _common.fail(
            f"training diverged: {result.diagnosis['reason_en']}; lower "
            f"--learning-rate{was} or set --clip-norm"
        )
    return 0
