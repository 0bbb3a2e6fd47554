"""Article §2.3, §2.4: `train rnn` and `train transformer`, sequence classifiers.

Trains on the bundled long-range-order task by default (only the order of
two markers decides the label, so a bag-of-tokens baseline stays at chance)
or a folder of class sub-folders of .txt files, and writes a run folder.
`explain_texts` draws a transformer run's attention over a text.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from keras_bigmodels import _validation as V
from keras_bigmodels.data.arrays import array_batches
from keras_bigmodels.data.splits import stratified_split
from keras_bigmodels.data.text import (
    Tokenizer,
    read_text_folder,
)
from keras_bigmodels.datasets.sequence_tasks import load_order_task
from keras_bigmodels.models.bag_of_tokens import build_bag_of_tokens
from keras_bigmodels.models.rnn import build_rnn
from keras_bigmodels.models.transformer import build_transformer
from keras_bigmodels.training import loop, runs
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows._common import (
    TOKENIZER_FILE,
    compile_model,
    epoch_batches,
    fit,
)
from keras_bigmodels.workflows.configs import (
    RNNClassifierConfig,
    SequenceClassifierConfig,
    TransformerClassifierConfig,
    make_config,
)


@dataclasses.dataclass
class SequenceClassifierResult(runs.TrainResult):
    """`train_sequence_classifier`'s result: held-out accuracy beside the
    bag-of-tokens baseline's."""

    accuracy: float = float("nan")
    baseline_accuracy: float = float("nan")
    class_names: list = dataclasses.field(default_factory=list)


def train_sequence_classifier(
    cfg: SequenceClassifierConfig | None = None, **overrides
) -> SequenceClassifierResult:
    """Train a Transformer or RNN sequence classifier, beside a bag-of-tokens baseline.

    Article §2.3 (RNN) and §2.4 (Transformer). Default data: the bundled
    long-range-order task, where only the order of two markers decides the
    label, so the bag-of-tokens baseline stays at chance. `data` may instead
    be a folder with one sub-folder of .txt files per class.

    Args:
        cfg: TransformerClassifierConfig (the default) or
            RNNClassifierConfig. Or pass its fields as keyword arguments,
            with `architecture="transformer"|"rnn"` to choose the config.

    Returns:
        SequenceClassifierResult.
    """
    architecture = overrides.pop("architecture", None)
    if cfg is not None:
        cls = type(cfg)
    elif architecture is not None:
        V.check_choice("architecture", architecture, ("transformer", "rnn"))
        cls = (
            RNNClassifierConfig
            if architecture == "rnn"
            else (TransformerClassifierConfig)
        )
    else:
        cls = TransformerClassifierConfig
    cfg = make_config(cls, cfg, **overrides)
    architecture = "rnn" if isinstance(cfg, RNNClassifierConfig) else "transformer"
    with session(cfg, architecture) as (run, strategy):
        cfg = run.config
        if cfg.data is None:
            (x, y), (x_test, y_test) = load_order_task(
                cfg.num_train, cfg.num_test, length=cfg.max_length, seed=cfg.seed
            )
            vocab_size, tok, classes = 24, None, ["B before A", "A before B"]
            source = "order task (bundled)"
        else:
            (x, y), (x_test, y_test), tok, classes = read_text_folder(
                cfg.data,
                level=cfg.level,
                max_length=cfg.max_length,
                seed=cfg.seed,
                too_long=cfg.too_long,
                encoding=cfg.encoding,
            )
            vocab_size, source = tok.vocab_size, os.path.abspath(cfg.data)
        train_idx, val_idx = stratified_split(y, (0.9, 0.1), seed=cfg.seed)
        train = epoch_batches((x[train_idx], y[train_idx]), cfg, strategy)
        val = array_batches((x[val_idx], y[val_idx]), cfg.batch_size)
        test = array_batches((x_test, y_test), cfg.batch_size)
        with strategy.scope():
            if architecture == "transformer":
                model = build_transformer(
                    vocab_size,
                    cfg.max_length,
                    len(classes),
                    embed_dim=cfg.embed_dim,
                    num_heads=cfg.num_heads,
                    intermediate_dim=2 * cfg.embed_dim,
                    num_layers=cfg.num_layers,
                    dropout=cfg.dropout,
                )
            else:
                model = build_rnn(
                    kind=cfg.kind,
                    vocab_size=vocab_size,
                    num_classes=len(classes),
                    units=(cfg.units,) * cfg.num_layers,
                    embed_dim=cfg.embed_dim,
                    bidirectional=True,
                )
            compile_model(
                model, run, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
            )
        run.start(
            task="sequence_classification",
            architecture=architecture,
            data={
                "source": source,
                "counts": {
                    "train": len(train_idx),
                    "validation": len(val_idx),
                    "test": len(y_test),
                },
            },
        )
        run.write_json(runs.CLASS_NAMES_FILE, classes)
        if tok is not None:
            tok.save(run.path(TOKENIZER_FILE))
        fit(run, model, train=train, validation=val)
        test_acc = loop.evaluate(model, test, strategy)["accuracy"]

        # The baseline is tiny: every process trains its own, outside the
        # strategy, with Keras's plain fit.
        baseline = compile_model(
            build_bag_of_tokens(vocab_size, len(classes)),
            run,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            learning_rate=1e-2,
        )
        baseline.fit(
            train.dataset(0).repeat(min(cfg.epochs, 10)),
            epochs=1,
            verbose=0,
            shuffle=False,  # the batches come in their seeded order already
        )
        base_acc = baseline.evaluate(test, verbose=0, return_dict=True)["accuracy"]
        return run.finish(
            model,
            {
                "test": {"accuracy": test_acc},
                "bag_of_tokens_baseline": {"accuracy": base_acc},
            },
            SequenceClassifierResult,
            held_out_inputs=x_test,
            accuracy=test_acc,
            baseline_accuracy=base_acc,
            class_names=classes,
        )


def explain_texts(run_dir, texts, out_dir, *, safe_mode: bool = True) -> list[dict]:
    """Attention maps (PNG) of a `train transformer` run, one per text.

    Challenge 1.3 (models are hard to explain) for the Transformer of article
    §2.4: for each text, the run's classifier predicts a class and every
    encoder block's attention table per head is drawn over the text's tokens
    (`insight.plot_attention`). Texts longer than the run's `max_length` are
    cut to it, as in training.

    Args:
        run_dir: a run folder of `train transformer`.
        texts: strs. With a tokenizer in the run, text; for the bundled order
            task (no tokenizer), token ids separated by spaces.
        out_dir: folder of the PNGs (created).
        safe_mode: bool. Keras's safe mode while loading the model.

    Returns:
        One dict per text: `text`, `label`, `probability`, `tokens` (the
        tokens drawn) and `attention` (the PNG's path).

    Example:

    >>> explain_texts("runs/transformer-<stamp>", ["好评如潮"], "out")  # doctest: +SKIP
    """
    from keras_bigmodels.insight.attention import attention_weights, plot_attention

    model, manifest, class_names = runs.load_run(run_dir, safe_mode)
    if manifest.get("architecture") != "transformer":
        raise ValueError(
            "Attention maps need a run of `train transformer`. Received: "
            f"run_dir={os.fspath(run_dir)!r} (architecture "
            f"{manifest.get('architecture')!r})"
        )
    if isinstance(texts, str):
        texts = [texts]
    max_length = int(manifest["config"]["max_length"])
    tok_path = os.path.join(os.fspath(run_dir), TOKENIZER_FILE)
    tok = Tokenizer.load(tok_path) if os.path.isfile(tok_path) else None
    if tok is not None:
        # (texts, max_length) ids, right-padded with 0 and cut as in training.
        batch, lengths = tok.encode_batch(texts, max_length, return_lengths=True)
        lengths = np.minimum(lengths, max_length)
    else:
        batch = np.zeros((len(texts), max_length), "int32")
        lengths = np.zeros(len(texts), "int64")
        for k, text in enumerate(texts):
            try:
                ids = [int(t) for t in text.split()][:max_length]
            except ValueError:
                raise ValueError(
                    "This run learned the bundled order task, which has no "
                    "tokenizer: give each input as token ids separated by "
                    f"spaces. Received: {text!r}"
                ) from None
            batch[k, : len(ids)], lengths[k] = ids, len(ids)
    for text, n in zip(texts, lengths, strict=True):
        if n == 0:
            raise ValueError(f"The text has no tokens to explain. Received: {text!r}")
    os.makedirs(out_dir, exist_ok=True)
    probs = np.asarray(model.predict_on_batch(batch))
    written = []
    for i, (text, ids, n, p) in enumerate(
        zip(texts, batch, lengths, probs, strict=True)
    ):
        labels = [tok.decode([t]) if tok is not None else str(t) for t in ids[:n]]
        # (heads, n, n) per block: the padding keys carry no weight.
        weights = [w[:, :n, :n] for w in attention_weights(model, ids)]
        path = plot_attention(
            weights, labels, os.path.join(out_dir, f"{i:04d}_attention.png")
        )
        k = int(np.argmax(p))
        written.append(
            {
                "text": text,
                "label": class_names[k],
                "probability": float(p[k]),
                "tokens": labels,
                "attention": path,
            }
        )
    return written
