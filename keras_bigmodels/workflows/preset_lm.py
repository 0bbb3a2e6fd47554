"""`train gpt --backbone PRESET_DIR`: a KerasHub causal language model
(GPT-2, Gemma, Llama, ...) from a folder, fine-tuned on a text file
(article §2.8, §3.2).

The text is cut into next-token windows with the preset's own tokenizer; the
model trains with the GPT workflow's schedule, loop and run folder. Before
and after, its cross-entropy on the held-out tail is measured, so the run
says what fine-tuning gained; the fine-tuned model is saved as a preset
(`RUN/preset/`), which `generate RUN` and `generate RUN/preset` continue.
"""

from __future__ import annotations

import os

import numpy as np

from keras_bigmodels.insight.ngram import stream_cross_entropy
from keras_bigmodels.models.hub import (
    PresetError,
    generate_from_preset,
    load_causal_lm,
    token_ids_model,
)
from keras_bigmodels.workflows._common import fit
from keras_bigmodels.workflows.gpt import (
    PRESET_DIR,
    GPTResult,
    compile_language_model,
    language_model_batches,
)


def fine_tune_preset_lm(run, strategy, text: str, cut: int) -> GPTResult:
    """Fine-tune the preset `run.config.backbone` on `text[:cut]`; hold out
    `text[cut:]`. Called by `train_gpt` inside its session."""
    cfg = run.config
    with strategy.scope():
        lm = load_causal_lm(cfg.backbone)
    tokenizer = lm.preprocessor.tokenizer
    most = lm.backbone.get_config().get("max_sequence_length")
    seq = cfg.sequence_length
    if most and seq > most:
        raise PresetError(
            f"`sequence_length`={seq} is over the {type(lm.backbone).__name__}'s "
            f"max_sequence_length of {most} in {cfg.backbone!r}"
        )
    train_ids = np.asarray(tokenizer(text[:cut]), "int32")
    val_ids = np.asarray(tokenizer(text[cut:]), "int32")
    train, val, (vx, vy) = language_model_batches(
        train_ids, val_ids, cfg, strategy, characters=len(text)
    )
    with strategy.scope():
        model = token_ids_model(lm)
        compile_language_model(model, run, train)
    before = stream_cross_entropy(model, val_ids, seq)
    run.start(
        task="language_model",
        architecture="gpt",
        backbone={
            "source": os.path.abspath(cfg.backbone),
            "class": type(lm.backbone).__name__,
            "parameters": lm.backbone.count_params(),
        },
        data={
            "source": os.path.abspath(cfg.data) if cfg.data else "bundled corpus",
            "characters": len(text),
            "train_tokens": len(train_ids),
            "validation_tokens": len(val_ids),
            "vocab_size": lm.backbone.get_config().get("vocabulary_size"),
        },
    )
    fit(run, model, train=train, validation=val, reduce_lr=False)
    after = stream_cross_entropy(model, val_ids, seq)
    preset = run.path(PRESET_DIR)
    lm.save_to_preset(preset)
    sample = generate_from_preset(
        preset,
        text[cut : cut + 40],
        max_new_tokens=50,
        temperature=0.8,
        seed=cfg.seed,
        too_long="truncate",
    )
    with open(run.path("sample.txt"), "w", encoding="utf-8") as f:
        f.write(sample)
    return run.finish(
        model,
        {
            "validation": {"cross_entropy": after},
            "pretrained": {"cross_entropy": before},
            "sample": sample,
        },
        GPTResult,
        held_out_inputs=vx,
        cross_entropy=after,
        pretrained_cross_entropy=before,
        sample=sample,
    )
