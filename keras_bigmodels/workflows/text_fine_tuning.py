"""Article §2.8 for text: `train text-classifier`, a pretrained language
model from a folder on disk with a new head, then fine-tuned (or LoRA).

The body is a KerasHub preset (BERT and its kin, or a causal LM such as
GPT-2, Gemma, Llama: `models.hub`) or this package's own GPT from a
`train gpt` run. Texts are turned into ids by the preset's own tokenizer
and preprocessor (the run's tokenizer for a GPT run), once, before
training; a text over the sequence length is cut, skipped or refused by
`too_long` and named. The run folder, resume, metrics, diagnosis and plots
are those of every `train` command.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import numpy as np

from keras_bigmodels._paths import PRESET_FILES
from keras_bigmodels.data.arrays import array_batches
from keras_bigmodels.data.splits import stratified_split
from keras_bigmodels.data.text import read_class_texts, report_too_long
from keras_bigmodels.insight import plots
from keras_bigmodels.insight.report import per_class_report
from keras_bigmodels.models.hub import OWN_GPT, open_text_body
from keras_bigmodels.models.transfer import fine_tune_learning_rate, unfreeze
from keras_bigmodels.training import loop, resume, runs
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows._common import (
    TOKENIZER_FILE,
    compile_model,
    epoch_batches,
    fit,
    predict_labels,
    run_optimizer,
)
from keras_bigmodels.workflows.configs import TextFineTuningConfig, make_config

PREPROCESSOR_DIR = "preprocessor"
# KerasHub presets' default fine-tuning rates: every weight at 5e-5 (the
# usual rate for BERT-like models), LoRA at 4e-4 (the LoRA paper's rate for
# RoBERTa-base). A `train gpt` run's body takes `fine_tune_learning_rate`'s.
HUB_FINE_TUNE_LEARNING_RATE = 5e-5
HUB_LORA_LEARNING_RATE = 4e-4


@dataclasses.dataclass
class TextClassifierResult(runs.TrainResult):
    """`train_text_classifier`'s result: held-out test accuracy."""

    accuracy: float = float("nan")
    class_names: list = dataclasses.field(default_factory=list)
    held_out: str = "test"
    split_metrics: dict = dataclasses.field(default_factory=dict)
    unit: str = "texts"


def _take(inputs: dict, idx) -> dict:
    return {k: v[idx] for k, v in inputs.items()}


def _fine_tune_rate(cfg, body, model) -> float:
    if cfg.fine_tune_learning_rate:
        return cfg.fine_tune_learning_rate
    if body.kind == OWN_GPT:
        return fine_tune_learning_rate(model, cfg.lora_rank)
    return HUB_LORA_LEARNING_RATE if cfg.lora_rank else HUB_FINE_TUNE_LEARNING_RATE


def train_text_classifier(
    cfg: TextFineTuningConfig | None = None, **overrides
) -> TextClassifierResult:
    """Fine-tune a pretrained language model from a folder to classify texts.

    Article §2.8 (pretrained models). The head trains first on the frozen
    body, then the body is fine-tuned at a low rate, or with LoRA of rank
    `lora_rank` (`unfreeze`), in the same run folder.

    Args:
        cfg: TextFineTuningConfig, or its fields as keyword arguments
            (`backbone` and `data` are required).

    Returns:
        TextClassifierResult.

    Example:

    >>> r = train_text_classifier(
    ...     backbone="presets/bert_tiny_en_uncased", data="reviews/"
    ... )  # doctest: +SKIP
    >>> r.accuracy  # doctest: +SKIP
    """
    cfg = make_config(TextFineTuningConfig, cfg, **overrides)
    with session(cfg, "text-classifier") as (run, strategy):
        cfg = run.config
        texts, labels, paths, classes = read_class_texts(cfg.data, cfg.encoding)
        with strategy.scope():
            body = open_text_body(
                cfg.backbone, cfg.sequence_length, safe_mode=not cfg.unsafe_load
            )
        length = body.sequence_length
        counts = body.lengths(texts)
        report_too_long(
            [(paths[i], int(n)) for i, n in enumerate(counts) if n > length],
            max_length=length,
            too_long=cfg.too_long,
            unit="tokens",
            name="sequence_length",
            what_is_done="Skipped"
            if cfg.too_long == "skip"
            else f"Kept the first {length} tokens of",
        )
        kept = np.flatnonzero(
            counts <= length if cfg.too_long == "skip" else counts >= 0
        )
        if len(kept) < 2 * len(classes):
            raise ValueError(
                f"Too few texts of {cfg.data!r} are left to train and test "
                f"({len(kept)} for {len(classes)} classes)"
            )
        y = labels
        fit_idx, test_idx = stratified_split(
            y[kept], (1 - cfg.test_split, cfg.test_split), seed=cfg.seed
        )
        fit_idx, test_idx = kept[fit_idx], kept[test_idx]
        train_idx, val_idx = stratified_split(y[fit_idx], (0.9, 0.1), seed=cfg.seed)
        train_idx, val_idx = fit_idx[train_idx], fit_idx[val_idx]
        x = body.encode(texts)
        train = epoch_batches((_take(x, train_idx), y[train_idx]), cfg, strategy)
        val = array_batches((_take(x, val_idx), y[val_idx]), cfg.batch_size)
        test = array_batches((_take(x, test_idx), y[test_idx]), cfg.batch_size)
        with strategy.scope():
            model = body.build_classifier(len(classes), cfg.dropout)
            body.backbone.trainable = False
            compile_model(
                model, run, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
            )
        run.start(
            task="text_classification",
            architecture="text-classifier",
            backbone={
                "source": body.source,
                "kind": body.kind,
                "class": type(body.backbone).__name__,
                "sequence_length": length,
            },
            data={
                "source": os.path.abspath(cfg.data),
                "train": len(train_idx),
                "validation": len(val_idx),
                "test": len(test_idx),
            },
        )
        run.write_json(runs.CLASS_NAMES_FILE, classes)
        if body.kind == OWN_GPT:
            body.tokenizer.save(run.path(TOKENIZER_FILE))
        else:  # the preset's own tokenizer and preprocessor, for predictions
            folder = run.path(PREPROCESSOR_DIR)
            body.preprocessor.save_to_preset(folder)
            # KerasHub finds a preprocessor's class through the backbone's
            # config: the config files go along (the weights do not).
            for name in PRESET_FILES:
                shutil.copy(os.path.join(body.source, name), folder)
        # A checkpoint holds the optimizer of its phase: a run stopped while
        # fine-tuning resumes straight into that phase.
        state = resume.read_state(run.source_dir) if run.resumed else None
        if not (state and state.get("phase") == "fine_tune"):
            fit(run, model, train=train, validation=val, phase="head")
        parameters = None
        if cfg.fine_tune_epochs:
            with strategy.scope():
                rate = _fine_tune_rate(cfg, body, model)
                unfreeze(
                    model,
                    lora_rank=cfg.lora_rank,
                    optimizer=run_optimizer(cfg, learning_rate=rate),
                    jit_compile=run.jit_compile,
                )
            parameters = {
                "lora_rank": cfg.lora_rank,
                "learning_rate": rate,
                "trainable": int(
                    sum(np.prod(w.shape) for w in model.trainable_weights)
                ),
                "total": model.count_params(),
            }
            fit(
                run,
                model,
                train=train,
                validation=val,
                phase="fine_tune",
                epochs=cfg.fine_tune_epochs,
            )
        evaluated = {
            "validation": loop.evaluate(model, val, strategy),
            "test": loop.evaluate(model, test, strategy),
        }
        y_true, y_pred = predict_labels(model, test)
        matrix = plots.confusion_matrix(y_true, y_pred, len(classes))
        plots.plot_confusion_matrix(
            matrix,
            classes,
            run.path("confusion_matrix.png"),
            title="Confusion matrix (test)",
        )
        return run.finish(
            model,
            {
                **evaluated,
                "confusion_matrix": {"split": "test", "matrix": matrix},
                "per_class": per_class_report(matrix, classes),
                **({"fine_tune_parameters": parameters} if parameters else {}),
            },
            TextClassifierResult,
            held_out_inputs=test,
            accuracy=evaluated["test"]["accuracy"],
            class_names=classes,
            split_metrics=evaluated,
        )
