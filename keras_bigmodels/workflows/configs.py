"""One config dataclass per training workflow: every setting in one place.

Each workflow (`train_image_classifier`, `train_gpt`, ...) takes one of these;
the run manifest writes it whole; the command line builds the flags of
`keras-bigmodels train <arch>` from its fields (type, default and help come
from here), so a flag that a workflow does not read cannot exist.

This module imports no TensorFlow: `--help` and flag errors stay instant.
"""

from __future__ import annotations

import dataclasses

from keras_bigmodels import _validation as V
from keras_bigmodels.training.run_config import (
    PRECISIONS,
    STRATEGIES,
    RunConfig,
    make_config,
    option,
)

__all__ = [
    "AutoencoderConfig",
    "BackboneClassifierConfig",
    "GANConfig",
    "GPTConfig",
    "ImageClassifierConfig",
    "MLPConfig",
    "OwnPretrainingConfig",
    "RNNClassifierConfig",
    "RunConfig",
    "Seq2SeqConfig",
    "SequenceClassifierConfig",
    "TextFineTuningConfig",
    "TransformerClassifierConfig",
    "make_config",
]


BATCH_HELP = (
    "examples per step, split across replicas (with "
    "--gradient-accumulation-steps N an update takes N steps)"
)


def _patience_option(default: int):
    return option(default, "epochs without validation improvement before stopping")


def _check_patience(cfg) -> None:
    V.check_positive_int("patience", cfg.patience)


# --- image classifier --------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class ImageDataConfig(RunConfig):
    """What the image classifiers share: the data, its splits, the head's dropout."""

    data: str = option("digits", "'digits' (bundled) or a folder of images")
    image_size: tuple | None = option(
        None, "N or HxW (default: 32 for digits, 224 for folders)"
    )
    color_mode: str | None = option(
        None,
        "default: grayscale for digits, rgb for folders",
        choices=("rgb", "grayscale", "rgba"),
    )
    labels: str = option(
        "inferred",
        "class sub-folders, or the text before the first dot of each file name",
        choices=("inferred", "filename"),
    )
    epochs: int = option(30, "most training epochs")
    batch_size: int = option(32, BATCH_HELP)
    learning_rate: float = option(1e-3, "Adam learning rate")
    validation_split: float = option(0.2, "held-out validation fraction")
    test_split: float = option(
        0.1, "held-out test fraction of a folder (digits has a fixed one)"
    )
    dropout: float = option(0.3, "dropout before the classifier")
    augment: bool = option(True, "light shift/rotate/zoom augmentation")
    patience: int = _patience_option(10)
    cache: str = option(
        "auto", "auto, memory, none: keep decoded training images in memory"
    )

    def check(self):
        super().check()
        V.check_fraction("validation_split", self.validation_split, allow_none=False)
        V.check_fraction("test_split", self.test_split, allow_none=False)
        V.check_fraction("dropout", self.dropout, allow_none=False)
        V.check_positive("learning_rate", self.learning_rate)
        _check_patience(self)
        V.check_choice("labels", self.labels, ("inferred", "filename"))
        if self.color_mode is None:
            self.color_mode = "grayscale" if self.data == "digits" else "rgb"
        V.check_choice("color_mode", self.color_mode, ("rgb", "grayscale", "rgba"))
        V.check_choice("cache", self.cache, ("auto", "memory", "none"))
        if self.validation_split <= 0:
            raise ValueError(
                "`validation_split` must be > 0: the best epoch is chosen "
                f"on it. Received: validation_split={self.validation_split}"
            )
        if self.image_size is not None:
            self.image_size = V.check_size("image_size", self.image_size)
        return self


@dataclasses.dataclass(kw_only=True)
class ImageClassifierConfig(ImageDataConfig):
    """`train cnn`: the article's CNN on the bundled digits or an image folder."""

    l2: float = option(0.0, "L2 weight decay")
    batch_norm: bool = option(False, "batch normalization after each convolution")

    def check(self) -> ImageClassifierConfig:
        super().check()
        V.check_non_negative("l2", self.l2)
        V.check_cnn_image_size("image_size", self.image_size)
        return self


@dataclasses.dataclass(kw_only=True)
class BackboneClassifierConfig(ImageDataConfig):
    """`train classifier`: a (pretrained) backbone with a new head, then fine-tuning."""

    backbone: str = option(
        "mobilenet_v2",
        "mobilenet_v2, efficientnet_b0, resnet50, vgg16, densenet121, cnn, or a "
        "run folder whose trained body to reuse",
    )
    weights: str | None = option(
        None, "imagenet, or a weights file (.h5 / .weights.h5); default: none"
    )
    backbone_layer: str | None = option(
        None,
        "a run folder as backbone: the layer its body ends at (default: where "
        "its feature maps become a vector, before its hidden and class layers)",
    )
    pooling: str = option(
        "avg", "pooling of the backbone's features", choices=("avg", "max", "flatten")
    )
    epochs: int = option(10, "most epochs of the head on the frozen backbone")
    fine_tune_epochs: int = option(
        0, "then most epochs with the backbone unfrozen (BatchNorm stays frozen)"
    )
    fine_tune_learning_rate: float | None = option(
        None,
        "Adam learning rate of fine-tuning (default: 1e-5 for keras.applications "
        "backbones, 1e-3 for cnn and run folders, 2e-3 with --lora-rank)",
    )
    lora_rank: int | None = option(
        None,
        "fine-tune with LoRA of this rank on the backbone's Dense, Embedding and "
        "convolution layers instead of every weight",
    )

    def check(self) -> BackboneClassifierConfig:
        super().check()
        if not isinstance(self.fine_tune_epochs, int) or self.fine_tune_epochs < 0:
            raise ValueError(
                "`fine_tune_epochs` must be an integer >= 0. "
                f"Received: fine_tune_epochs={self.fine_tune_epochs!r}"
            )
        V.check_positive(
            "fine_tune_learning_rate", self.fine_tune_learning_rate, allow_none=True
        )
        V.check_positive_int("lora_rank", self.lora_rank, allow_none=True)
        if self.backbone == "cnn":  # the article's body: its own smallest size
            V.check_cnn_image_size("image_size", self.image_size)
        return self


# --- sequence models ---------------------------------------------------------


TOO_LONG_CLASSIFIER = ("truncate", "skip", "error")
TOO_LONG_PAIRS = ("skip", "error")


def _encoding_option():
    return option(
        None,
        "text encoding of --data (default: UTF-8, then GB18030/GBK when the "
        "text is not UTF-8)",
    )


def _too_long_option(default: str, choices: tuple):
    what = {
        "skip": "skip (each reported)",
        "error": "error (refuse before training)",
        "truncate": "truncate (keep the first tokens)",
    }
    return option(
        default,
        "texts over --max-length: " + ", ".join(what[c] for c in choices),
        choices=choices,
    )


def _check_text_options(cfg, too_long_choices: tuple) -> None:
    V.check_encoding("encoding", cfg.encoding)
    V.check_choice("too_long", cfg.too_long, too_long_choices)


@dataclasses.dataclass(kw_only=True)
class SequenceClassifierConfig(RunConfig):
    """What `train transformer` and `train rnn` share."""

    data: str | None = option(
        None,
        "a folder of class sub-folders of .txt files (default: the bundled order task)",
    )
    level: str = option("char", "tokens of your text data", choices=("char", "word"))
    epochs: int = option(20, "most training epochs")
    batch_size: int = option(64, BATCH_HELP)
    learning_rate: float = option(1e-3, "Adam learning rate")
    embed_dim: int = option(64, "token embedding width")
    num_layers: int = option(2, "stacked layers")
    dropout: float = option(0.1, "dropout rate")
    max_length: int = option(48, "tokens per sequence")
    too_long: str = _too_long_option("truncate", TOO_LONG_CLASSIFIER)
    encoding: str | None = _encoding_option()
    num_train: int = option(8000, "bundled task: training sequences")
    num_test: int = option(2000, "bundled task: test sequences")
    patience: int = _patience_option(5)

    def check(self):
        super().check()
        for name in ("embed_dim", "num_layers", "max_length", "num_train", "num_test"):
            V.check_positive_int(name, getattr(self, name))
        _check_text_options(self, TOO_LONG_CLASSIFIER)
        V.check_fraction("dropout", self.dropout, allow_none=False)
        V.check_choice("level", self.level, ("char", "word"))
        _check_patience(self)
        return self


@dataclasses.dataclass(kw_only=True)
class TransformerClassifierConfig(SequenceClassifierConfig):
    """`train transformer`: a Transformer encoder classifier (article §2.4)."""

    num_heads: int = option(4, "attention heads (must divide --embed-dim)")

    def check(self):
        super().check()
        V.check_positive_int("num_heads", self.num_heads)
        V.check_divisible(
            "embed_dim", value=self.embed_dim, by_name="num_heads", by=self.num_heads
        )
        return self


@dataclasses.dataclass(kw_only=True)
class RNNClassifierConfig(SequenceClassifierConfig):
    """`train rnn`: a bidirectional recurrent classifier (article §2.3)."""

    kind: str = option("lstm", "recurrent cell", choices=("lstm", "gru", "simple"))
    units: int = option(64, "RNN state size")

    def check(self):
        super().check()
        V.check_choice("kind", self.kind, ("lstm", "gru", "simple"))
        V.check_positive_int("units", self.units)
        return self


@dataclasses.dataclass(kw_only=True)
class TextFineTuningConfig(RunConfig):
    """`train text-classifier`: a pretrained language model from a folder
    (a KerasHub preset, or a `train gpt` run) with a new head (article §2.8)."""

    backbone: str | None = option(
        None,
        "a KerasHub preset folder (save_to_preset; BERT-like or a causal LM "
        "like GPT-2) or a 'train gpt' run folder (required)",
    )
    data: str | None = option(
        None, "a folder of class sub-folders of .txt files (required)"
    )
    sequence_length: int | None = option(
        None,
        "tokens per text, special tokens included (default: the preset's "
        "preprocessor's, else the backbone's most)",
    )
    too_long: str = _too_long_option("truncate", TOO_LONG_CLASSIFIER)
    encoding: str | None = _encoding_option()
    epochs: int = option(5, "most epochs of the new head on the frozen body")
    fine_tune_epochs: int = option(
        3, "then epochs of fine-tuning the body (0: the head only)"
    )
    batch_size: int = option(16, BATCH_HELP)
    learning_rate: float = option(1e-3, "Adam learning rate of the head phase")
    fine_tune_learning_rate: float | None = option(
        None,
        "Adam learning rate of fine-tuning (default: 5e-5 for a KerasHub "
        "preset, 4e-4 with --lora-rank; 1e-3 for a gpt run)",
    )
    lora_rank: int | None = option(
        None, "fine-tune with LoRA of this rank instead of every weight"
    )
    dropout: float = option(0.1, "dropout before the new head")
    test_split: float = option(0.2, "held-out test fraction of each class")
    patience: int = _patience_option(3)
    unsafe_load: bool = option(
        False, "open a gpt run that holds Lambda layers (runs its code)"
    )

    def check(self):
        super().check()
        for name in ("backbone", "data"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(
                    f"`{name}` is required: "
                    + (
                        "a KerasHub preset folder or a 'train gpt' run"
                        if name == "backbone"
                        else "a folder of class sub-folders of .txt files"
                    )
                    + f". Received: {name}={getattr(self, name)!r}"
                )
        if self.sequence_length is not None:
            V.check_positive_int("sequence_length", self.sequence_length)
        V.check_non_negative_int("fine_tune_epochs", self.fine_tune_epochs)
        V.check_positive(
            "fine_tune_learning_rate", self.fine_tune_learning_rate, allow_none=True
        )
        V.check_positive_int("lora_rank", self.lora_rank, allow_none=True)
        _check_text_options(self, TOO_LONG_CLASSIFIER)
        V.check_fraction("dropout", self.dropout, allow_none=False)
        V.check_fraction("test_split", self.test_split, allow_none=False)
        _check_patience(self)
        return self


@dataclasses.dataclass(kw_only=True)
class Seq2SeqConfig(RunConfig):
    """`train seq2seq`: an encoder-decoder on n-digit addition or a TSV of pairs."""

    kind: str = option(
        "transformer",
        "transformer, or lstm/gru with attention",
        choices=("transformer", "lstm", "gru"),
    )
    data: str | None = option(
        None, "a TSV file of source<TAB>target lines (default: n-digit addition)"
    )
    max_length: int = option(128, "TSV data: longest source or target, in characters")
    too_long: str = _too_long_option("skip", TOO_LONG_PAIRS)
    encoding: str | None = _encoding_option()
    digits: int = option(3, "bundled addition: digits per operand")
    num_train: int = option(50000, "bundled addition: training pairs")
    num_test: int = option(
        2000, "bundled addition: test pairs (each operand's digit count drawn first)"
    )
    uniform_fraction: float = option(
        0.5,
        "bundled addition: share of training pairs whose operands are drawn "
        "uniformly (mostly full length, with carries); the rest draw each "
        "operand's digit count first",
    )
    num_uniform_test: int = option(
        2000,
        "bundled addition: pairs of a second test set drawn uniformly (0: none; "
        "fewer when --digits leaves fewer unused pairs)",
    )
    epochs: int = option(30, "most training epochs")
    batch_size: int = option(128, BATCH_HELP)
    learning_rate: float | None = option(
        None, "Adam learning rate (default: 5e-4 transformer, 1e-3 RNN)"
    )
    embed_dim: int = option(128, "token embedding width")
    num_heads: int = option(4, "transformer: attention heads")
    num_layers: int = option(2, "transformer: layers per side")
    units: int = option(256, "lstm/gru: state size")
    dropout: float = option(0.1, "transformer: dropout rate")
    patience: int = _patience_option(8)

    def check(self):
        super().check()
        V.check_choice("kind", self.kind, ("transformer", "lstm", "gru"))
        for name in (
            "digits",
            "num_train",
            "num_test",
            "embed_dim",
            "num_heads",
            "num_layers",
            "units",
            "max_length",
        ):
            V.check_positive_int(name, getattr(self, name))
        _check_text_options(self, TOO_LONG_PAIRS)
        V.check_fraction("dropout", self.dropout, allow_none=False)
        V.check_fraction("uniform_fraction", self.uniform_fraction, False, closed=True)
        V.check_non_negative_int("num_uniform_test", self.num_uniform_test)
        _check_patience(self)
        if self.learning_rate is None:
            self.learning_rate = 5e-4 if self.kind == "transformer" else 1e-3
        return self


@dataclasses.dataclass(kw_only=True)
class GPTConfig(RunConfig):
    """`train gpt`: a small GPT language model (article §3.2)."""

    data: str | None = option(None, "a text file (default: the bundled corpus)")
    backbone: str | None = option(
        None,
        "a KerasHub causal-LM preset folder (GPT-2, Gemma, Llama, ...) to "
        "fine-tune on the text instead of a new GPT (its own tokenizer; "
        "--level, --embed-dim, --num-heads, --num-layers, --dropout unused)",
    )
    encoding: str | None = _encoding_option()
    level: str = option("char", "tokens", choices=("char", "word"))
    sequence_length: int = option(64, "context length in tokens")
    epochs: int = option(4, "most training epochs")
    batch_size: int = option(64, BATCH_HELP)
    learning_rate: float = option(2e-3, "peak AdamW learning rate (warm-up + cosine)")
    embed_dim: int = option(128, "model width")
    num_heads: int = option(4, "attention heads")
    num_layers: int = option(4, "Transformer decoder blocks")
    dropout: float = option(0.1, "dropout rate")
    validation_fraction: float = option(0.1, "held-out tail of the text")
    patience: int = _patience_option(2)

    def check(self):
        super().check()
        for name in ("sequence_length", "embed_dim", "num_heads", "num_layers"):
            V.check_positive_int(name, getattr(self, name))
        V.check_encoding("encoding", self.encoding)
        V.check_fraction("dropout", self.dropout, allow_none=False)
        V.check_fraction(
            "validation_fraction", self.validation_fraction, allow_none=False
        )
        if not self.validation_fraction:
            raise ValueError(
                "`validation_fraction` must be > 0 to measure the model. "
                f"Received: validation_fraction={self.validation_fraction}"
            )
        V.check_choice("level", self.level, ("char", "word"))
        _check_patience(self)
        return self


# --- generative models -------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class GenerativeImagesConfig(RunConfig):
    """The images the generative workflows learn from."""

    data: str = option("digits", "'digits' (bundled) or a folder of images")
    image_size: tuple | None = option(None, "N or HxW (default: 8 digits, 32 folders)")
    color_mode: str | None = option(
        None,
        "default: grayscale for digits, rgb for folders",
        choices=("rgb", "grayscale"),
    )

    def check(self):
        super().check()
        V.check_positive("learning_rate", self.learning_rate)
        if self.color_mode is not None:
            V.check_choice("color_mode", self.color_mode, ("rgb", "grayscale"))
        if self.image_size is not None:
            self.image_size = V.check_size("image_size", self.image_size)
        return self


@dataclasses.dataclass(kw_only=True)
class GANConfig(GenerativeImagesConfig):
    """`train gan`: a DCGAN (article §2.5, §3.3), judged by a classifier."""

    latent_dim: int = option(64, "size of the latent vector z")
    conditional: bool | None = option(
        None,
        "condition both networks on the class label (default: yes when the data "
        "has two or more classes; --unconditional trains the article's plain GAN)",
        negative="unconditional",
    )
    epochs: int = option(200, "training epochs")
    batch_size: int = option(64, BATCH_HELP)
    learning_rate: float = option(2e-4, "Adam learning rate of both networks")
    filters: int = option(64, "network width")
    d_steps: int = option(1, "discriminator updates per generator update")
    samples: int = option(1000, "generated images judged at the end")
    judge_epochs: int = option(60, "most epochs of the judging classifier")

    def check(self):
        super().check()
        for name in ("latent_dim", "filters", "d_steps", "samples", "judge_epochs"):
            V.check_positive_int(name, getattr(self, name))
        return self


@dataclasses.dataclass(kw_only=True)
class AutoencoderConfig(GenerativeImagesConfig):
    """`train autoencoder`: dense, conv, denoising or variational (article §2.6)."""

    kind: str = option(
        "dense",
        "autoencoder kind",
        choices=("dense", "conv", "denoising", "variational"),
    )
    latent_dim: int = option(16, "code size")
    linear: bool = option(False, "no activations (its optimum is PCA)")
    epochs: int = option(300, "most training epochs")
    batch_size: int = option(64, BATCH_HELP)
    learning_rate: float = option(1e-3, "Adam learning rate")
    patience: int = _patience_option(30)

    def check(self):
        super().check()
        V.check_choice("kind", self.kind, ("dense", "conv", "denoising", "variational"))
        V.check_positive_int("latent_dim", self.latent_dim)
        _check_patience(self)
        return self


# --- tables ------------------------------------------------------------------

MISSING_STRATEGIES = ("mean", "median", "max", "constant", "drop")


@dataclasses.dataclass(kw_only=True)
class MLPConfig(RunConfig):
    """`train mlp`: a table with missing values, each FAQ 6.2 remedy side by side."""

    data: str = option(
        "breast_cancer", "'breast_cancer' (bundled with scikit-learn) or a CSV file"
    )
    target: str | None = option(None, "CSV: the column holding the class")
    delimiter: str | None = option(
        None, "CSV: the cell separator (default: comma, semicolon, tab or | as found)"
    )
    encoding: str | None = _encoding_option()
    missing_fraction: float = option(
        0.2, "bundled table: fraction of values removed at random"
    )
    impute: str = option(
        "median",
        "how the saved model fills missing values (drop: train on complete rows)",
        choices=MISSING_STRATEGIES,
    )
    compare: bool = option(True, "also train every other strategy and compare")
    hidden: int = option(64, "units of the first hidden layer (the second: half)")
    dropout: float = option(0.2, "dropout after each hidden layer")
    epochs: int = option(100, "most training epochs")
    batch_size: int = option(32, BATCH_HELP)
    learning_rate: float = option(1e-3, "Adam learning rate")
    validation_split: float = option(0.15, "validation fraction (picks the epoch)")
    test_split: float = option(0.25, "held-out test fraction")
    patience: int = _patience_option(15)

    def check(self) -> MLPConfig:
        super().check()
        V.check_encoding("encoding", self.encoding)
        if self.delimiter is not None and (
            not isinstance(self.delimiter, str) or len(self.delimiter) != 1
        ):
            raise ValueError(
                "`delimiter` must be one character. "
                f"Received: delimiter={self.delimiter!r}"
            )
        V.check_choice("impute", self.impute, MISSING_STRATEGIES)
        V.check_fraction("missing_fraction", self.missing_fraction, allow_none=False)
        V.check_fraction("dropout", self.dropout, allow_none=False)
        V.check_positive_int("hidden", self.hidden)
        for name in ("validation_split", "test_split"):
            V.check_fraction(name, getattr(self, name), allow_none=False)
            if not getattr(self, name):
                raise ValueError(f"`{name}` must be > 0. Received: {name}=0")
        if self.data != "breast_cancer" and not self.target:
            raise ValueError(
                "`target` must name the class column of a CSV file. "
                f"Received: target={self.target!r}"
            )
        _check_patience(self)
        return self


# --- own pretraining ----------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class OwnPretrainingConfig(RunConfig):
    """`keras-bigmodels transfer`: digits 0-4 pretraining reused for 5-9, offline.

    Three small networks train one after another with Keras's own `fit`, so
    the distribution, precision, XLA, clipping and resume settings of the
    other workflows do not apply here and are not flags.
    """

    shots: int = option(20, "labelled images per class of digits 5-9")
    image_size: int = option(32, "digits are resized to N x N")
    pretrain_epochs: int = option(40, "most epochs on digits 0-4 (best kept)")
    epochs: int = option(30, "epochs of the new head on the frozen body")
    fine_tune_epochs: int = option(60, "then epochs of the whole network")
    learning_rate: float = option(1e-3, "Adam learning rate")
    fine_tune_learning_rate: float = option(
        1e-3, "Adam learning rate of fine-tuning the whole network"
    )
    lora_rank: int = option(4, "LoRA rank of the LoRA row (0 leaves it out)")
    lora_learning_rate: float = option(2e-3, "Adam learning rate of LoRA")
    lora_epochs: int = option(
        250, "epochs of LoRA after the head phase (it learns slower than fine-tuning)"
    )
    batch_size: int = option(32, "batch size")
    strategy: str = option("auto", "", choices=STRATEGIES, cli=False)
    cluster_timeout: float = option(300.0, "", cli=False)
    precision: str = option("float32", "", choices=PRECISIONS, cli=False)
    jit: bool | None = option(None, "", cli=False)
    clip_norm: float | None = option(None, "", cli=False)
    checkpoint_every: int = option(100, "", cli=False)
    gradient_accumulation_steps: int = option(1, "", cli=False)
    resume: str | None = option(None, "", cli=False)

    def check(self) -> OwnPretrainingConfig:
        super().check()
        for name in (
            "shots",
            "pretrain_epochs",
            "fine_tune_epochs",
            "lora_epochs",
            "image_size",
        ):
            V.check_positive_int(name, getattr(self, name))
        V.check_cnn_image_size("image_size", (self.image_size, self.image_size))
        V.check_positive("fine_tune_learning_rate", self.fine_tune_learning_rate)
        V.check_positive("lora_learning_rate", self.lora_learning_rate)
        if self.gradient_accumulation_steps != 1:
            raise ValueError(
                "`transfer` trains with Keras's own `fit`, which does not close "
                "an accumulation window at an epoch's end; use a `train` "
                "command for gradient accumulation. Received: "
                f"gradient_accumulation_steps={self.gradient_accumulation_steps!r}"
            )
        if isinstance(self.lora_rank, bool) or not (
            isinstance(self.lora_rank, int) and self.lora_rank >= 0
        ):
            raise ValueError(
                "`lora_rank` must be a non-negative integer (0: no LoRA row). "
                f"Received: lora_rank={self.lora_rank!r}"
            )
        return self
