"""`keras-bigmodels train ARCH`: parse, call the library, report."""

from __future__ import annotations

import os

from keras_bigmodels.cli._common import parse_image_size

ARCHITECTURES = ("cnn", "rnn", "transformer", "seq2seq", "gpt", "gan", "autoencoder")
# Flags that apply to the sequence models; None means "the library's default".
SEQUENCE_FLAGS = (
    "kind",
    "level",
    "embed_dim",
    "num_heads",
    "num_layers",
    "units",
    "sequence_length",
    "max_length",
    "digits",
    "num_train",
)


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
        default=None,
        help="cnn, gan, autoencoder: 'digits' (default) or an image folder; "
        "rnn/transformer: a folder "
        "of class sub-folders of .txt files (default: the bundled order task); "
        "seq2seq: a TSV file of source<TAB>target lines (default: 3-digit "
        "addition); gpt: a UTF-8 text file (default: the bundled corpus)",
    )
    common = p.add_argument_group("all architectures (defaults depend on ARCH)")
    common.add_argument("--epochs", type=int, default=None)
    common.add_argument("--batch-size", type=int, default=None)
    common.add_argument("--learning-rate", type=float, default=None)
    common.add_argument("--dropout", type=float, default=None)
    common.add_argument(
        "--patience",
        type=int,
        default=None,
        help="epochs without validation improvement before stopping",
    )
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--out", default="runs", help="parent folder of run folders")

    cnn = p.add_argument_group("cnn")
    cnn.add_argument(
        "--labels",
        default="inferred",
        choices=("inferred", "filename"),
        help="class sub-folders, or the text before the first dot of "
        "each file name (default: inferred)",
    )
    cnn.add_argument(
        "--image-size",
        type=parse_image_size,
        default=None,
        help="N or HxW (default: 32 for digits, 224 for folders)",
    )
    cnn.add_argument(
        "--color-mode",
        default=None,
        choices=("rgb", "grayscale", "rgba"),
        help="default: grayscale for digits, rgb for folders",
    )
    cnn.add_argument("--validation-split", type=float, default=0.2)
    cnn.add_argument(
        "--test-split",
        type=float,
        default=0.1,
        help="held-out test fraction of a folder (digits has a fixed one)",
    )
    cnn.add_argument("--l2", type=float, default=0.0, help="L2 weight decay")
    cnn.add_argument("--batch-norm", action="store_true")
    cnn.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        help="turn off the light shift/rotate/zoom augmentation",
    )
    cnn.add_argument(
        "--cache",
        default="auto",
        help="auto, memory, none, or a file path for decoded images",
    )
    cnn.add_argument(
        "--strategy",
        default="auto",
        choices=("auto", "default", "one_device", "mirrored", "multi_worker"),
    )

    seq = p.add_argument_group("rnn, transformer, seq2seq, gpt")
    seq.add_argument(
        "--kind",
        default=None,
        help="seq2seq: transformer (default), lstm or gru; "
        "rnn: lstm (default), gru or simple; "
        "autoencoder: dense (default), conv, denoising or variational",
    )
    seq.add_argument(
        "--level",
        default=None,
        choices=("char", "word"),
        help="tokens of your text data (default: char)",
    )
    seq.add_argument("--embed-dim", type=int, default=None)
    seq.add_argument("--num-heads", type=int, default=None)
    seq.add_argument("--num-layers", type=int, default=None)
    seq.add_argument("--units", type=int, default=None, help="RNN state size")
    seq.add_argument(
        "--sequence-length",
        type=int,
        default=None,
        help="gpt context length (default: 128)",
    )
    seq.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="rnn/transformer sequence length (default: 48)",
    )
    seq.add_argument(
        "--digits",
        type=int,
        default=None,
        help="seq2seq addition: digits per operand (default: 3)",
    )
    seq.add_argument(
        "--num-train",
        type=int,
        default=None,
        help="bundled tasks: training examples (default: 50000 addition pairs, "
        "8000 order-task sequences)",
    )
    gen = p.add_argument_group("gan, autoencoder (also --image-size, --color-mode)")
    gen.add_argument(
        "--latent-dim",
        type=int,
        default=None,
        help="code size (default: gan 64, autoencoder 16)",
    )
    gen.add_argument(
        "--conditional",
        action="store_true",
        help="gan: condition both networks on the class label",
    )
    gen.add_argument("--filters", type=int, default=None, help="gan: network width")
    gen.add_argument(
        "--d-steps",
        type=int,
        default=None,
        help="gan: discriminator updates per generator update (default: 1)",
    )
    gen.add_argument(
        "--samples",
        type=int,
        default=None,
        help="gan: generated images judged at the end (default: 1000)",
    )
    gen.add_argument(
        "--judge-epochs",
        type=int,
        default=None,
        help="gan: most epochs of the judging classifier (default: 60)",
    )
    gen.add_argument(
        "--linear",
        action="store_true",
        help="autoencoder: no activations (its optimum is PCA)",
    )
    p.set_defaults(run=run, precheck=precheck)


def _given(args, names) -> dict:
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def _run_cnn(args) -> dict:
    from keras_bigmodels.training.image_classifier import (
        TrainConfig,
        train_image_classifier,
    )

    data = args.data or "digits"
    overrides = _given(
        args, ("epochs", "batch_size", "learning_rate", "dropout", "patience")
    )
    cfg = TrainConfig(
        data=data,
        image_size=args.image_size,
        color_mode=args.color_mode,
        labels=args.labels,
        validation_split=args.validation_split,
        test_split=args.test_split,
        seed=args.seed,
        l2=args.l2,
        batch_norm=args.batch_norm,
        augment=args.augment,
        cache=args.cache,
        strategy=args.strategy,
        out=args.out,
        **overrides,
    )
    return train_image_classifier(cfg)


def _report_cnn(result) -> None:
    m = result["metrics"]
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


def _run_sequence(args) -> dict:
    from keras_bigmodels.training import sequence

    kw = _given(args, ("epochs", "batch_size", "learning_rate", "dropout", "patience"))
    kw.update(seed=args.seed, out=args.out, data=args.data)
    given = _given(args, SEQUENCE_FLAGS)
    arch = args.architecture
    if arch in ("rnn", "transformer"):
        if "kind" in given:
            given["cell"] = given.pop("kind")
        allowed = (
            "cell",
            "level",
            "embed_dim",
            "num_heads",
            "num_layers",
            "units",
            "max_length",
            "num_train",
        )
        fn = sequence.train_sequence_classifier
        kw["architecture"] = arch
    elif arch == "seq2seq":
        allowed = (
            "kind",
            "embed_dim",
            "num_heads",
            "num_layers",
            "units",
            "digits",
            "num_train",
        )
        fn = sequence.train_seq2seq
    else:
        allowed = ("level", "embed_dim", "num_heads", "num_layers", "sequence_length")
        fn = sequence.train_gpt
    unused = sorted(set(given) - set(allowed))
    if unused:
        flags = ", ".join("--" + u.replace("_", "-") for u in unused)
        raise ValueError(f"{flags} do(es) not apply to 'train {arch}'")
    return fn(**kw, **given)


def _report_sequence(arch, result) -> None:
    m = result["metrics"]
    if arch in ("rnn", "transformer"):
        print(
            f"Held-out test accuracy: {100 * m['test']['accuracy']:.2f}%   "
            f"bag-of-tokens baseline: "
            f"{100 * m['bag_of_tokens_baseline']['accuracy']:.2f}%"
        )
    elif arch == "seq2seq":
        for ex in m["examples"]:
            print(f"  {ex['source']} -> {ex['prediction']} (target {ex['target']})")
        print(f"Held-out test exact match: {100 * m['test']['exact_match']:.2f}%")
    else:
        base = m["ngram_baseline"]
        print(f"Sample:\n{m['sample']}\n")
        print(
            f"Held-out cross-entropy: {m['validation']['cross_entropy']:.4f} "
            f"nats/token   best n-gram baseline ({base['best_order']}-gram): "
            f"{base['best_cross_entropy']:.4f}"
        )
    print(f"(trained in {result['seconds']:.0f} s)")


def _run_generative(args) -> dict:
    from keras_bigmodels.training import generative

    kw = _given(
        args,
        (
            "epochs",
            "batch_size",
            "learning_rate",
            "latent_dim",
            "image_size",
            "color_mode",
        ),
    )
    kw.update(
        data=args.data or "digits", seed=args.seed, out=args.out, strategy=args.strategy
    )
    if args.architecture == "gan":
        if args.kind is not None or args.linear:
            raise ValueError("--kind and --linear apply to 'train autoencoder'")
        kw.update(_given(args, ("filters", "d_steps", "samples", "judge_epochs")))
        return generative.train_gan(conditional=args.conditional, **kw)
    gan_only = ("conditional", "filters", "d_steps", "samples", "judge_epochs")
    if any(getattr(args, n) for n in gan_only):
        flags = ", ".join("--" + n.replace("_", "-") for n in gan_only)
        raise ValueError(f"{flags} apply to 'train gan'")
    kw.update(_given(args, ("kind", "patience")))
    return generative.train_autoencoder(linear=args.linear, **kw)


def _report_generative(arch, result) -> None:
    m = result["metrics"]
    if arch == "autoencoder":
        print(
            f"Held-out reconstruction MSE: {m['test']['reconstruction_mse']:.5f}   "
            f"PCA with {m['pca']['code_size']} components: "
            f"{m['pca']['reconstruction_mse']:.5f}   "
            f"ratio {m['ratio_to_pca']:.3f}"
        )
    elif "samples" in m:
        s, fd = m["samples"], m["frechet_distance"]
        print(
            f"Judge (a CNN trained on the real images): "
            f"{100 * m['judge_test_accuracy']:.2f}% held-out accuracy"
        )
        print(
            f"Generated samples with a class at probability >= 0.9: "
            f"{100 * s['confident_fraction']:.1f}% of {s['samples']}; "
            f"classes present: {s['classes_present']} of {len(s['class_counts'])}"
        )
        print(f"  samples per class: {s['class_counts']}")
        if "label_agreement" in s:
            print(
                "  judged class = the class asked for: "
                f"{100 * s['label_agreement']:.1f}%"
            )
        print(
            f"Frechet distance to held-out images: {fd['final']:.2f} "
            f"(best epoch {fd['best']:.2f}; real train vs held-out: "
            f"{fd['real_train_vs_test']:.2f})"
        )
    print(f"(trained in {result['seconds']:.0f} s)")


def precheck(args) -> str | None:
    arch, data = args.architecture, args.data
    if arch not in ARCHITECTURES:
        return f"unknown architecture {arch!r}; choose from: {', '.join(ARCHITECTURES)}"
    if data is None or (arch in ("cnn", "gan", "autoencoder") and data == "digits"):
        return None
    if arch in ("cnn", "rnn", "transformer", "gan", "autoencoder") and not (
        os.path.isdir(data)
    ):
        return f"--data: no such folder: {data!r}"
    if arch in ("seq2seq", "gpt") and not os.path.isfile(data):
        return f"--data: No such text file: {data!r}"
    return None


def run(args) -> int:
    arch = args.architecture
    if arch == "cnn":
        result = _run_cnn(args)
        print()
        _report_cnn(result)
    elif arch in ("gan", "autoencoder"):
        result = _run_generative(args)
        print()
        _report_generative(arch, result)
    else:
        result = _run_sequence(args)
        print()
        _report_sequence(arch, result)
    print(f"Run saved to {result['run_dir']}")
    return 0
