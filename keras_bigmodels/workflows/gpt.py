"""Article §3.2: `train gpt`, a small GPT language model, and `generate`.

Trains on the bundled corpus by default (or a text file), measures the
held-out cross-entropy against the best n-gram model of the same text, and
writes a run folder; `generate_from_run` continues a prompt with it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings

import keras
import numpy as np

from keras_bigmodels.data.arrays import array_batches
from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.data.text import (
    Tokenizer,
    next_token_windows,
    read_text_file,
)
from keras_bigmodels.datasets.corpus import load_corpus
from keras_bigmodels.insight.ngram import (
    model_cross_entropy,
    ngram_baselines,
    stream_cross_entropy,
)
from keras_bigmodels.models.gpt import build_gpt, generate
from keras_bigmodels.training import runs
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows._common import (
    TOKENIZER_FILE,
    fit,
    run_optimizer,
)
from keras_bigmodels.workflows.configs import (
    GPTConfig,
    make_config,
)

# --- language model ----------------------------------------------------------

PRESET_DIR = "preset"  # a fine-tuned KerasHub preset, in its run folder


@dataclasses.dataclass
class GPTResult(runs.TrainResult):
    """`train_gpt`'s result: held-out cross-entropy beside the best n-gram's."""

    cross_entropy: float = float("nan")
    ngram_cross_entropy: float = float("nan")
    ngram_order: int = 0
    sample: str = ""
    # A fine-tuned preset: its held-out cross-entropy before fine-tuning.
    pretrained_cross_entropy: float | None = None


def language_model_batches(train_ids, val_ids, cfg, strategy, *, characters: int):
    """Next-token batches of a text's token ids: `(train, validation, (vx, vy))`.

    Refuses a text too short for one window in either part. Training windows
    start every `sequence_length // 8` tokens and are cut out batch by batch
    (holding them all would take 16x the memory of the ids); the held-out
    windows `(vx, vy)` are disjoint.
    """
    seq = cfg.sequence_length
    _check_enough_text(
        characters, train_tokens=len(train_ids), val_tokens=len(val_ids), cfg=cfg
    )
    vx, vy = next_token_windows(val_ids, seq, seq)
    train = EpochBatches.windows(
        train_ids,
        length=seq,
        stride=max(1, seq // 8),
        batch_size=cfg.batch_size,
        seed=cfg.seed,
    ).for_replicas(strategy.num_replicas_in_sync)
    return train, array_batches((vx, vy), cfg.batch_size), (vx, vy)


def compile_language_model(model, run, train) -> None:
    """AdamW (beta_2 0.99, weight decay 0.01) at the run's peak rate, warmed up
    over the first tenth of training (at most 100 updates), then a cosine
    decay to 5%, counted in updates; next-token cross-entropy on logits."""
    cfg = run.config
    # Counted in updates: with accumulation, every epoch ends on a (maybe
    # partial) window of its own.
    updates = -(-train.steps_per_epoch // cfg.gradient_accumulation_steps)
    total_steps = cfg.epochs * updates
    warmup = min(100, total_steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate * 0.1,
        max(1, total_steps - warmup),
        alpha=0.05,
        warmup_target=cfg.learning_rate,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=run_optimizer(cfg, "AdamW", schedule, weight_decay=0.01, beta_2=0.99),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=run.jit_compile,
    )


def _check_enough_text(characters, *, train_tokens, val_tokens, cfg) -> None:
    """Say which part of the text is too short, by how much, and what to change."""
    seq, vf = cfg.sequence_length, cfg.validation_fraction
    need = seq + 1  # a window and the token after it
    short = [
        name
        for name, n in (("training", train_tokens), ("held-out", val_tokens))
        if n < need
    ]
    if not short:
        return
    unit = "characters" if cfg.level == "char" else "words"
    remedy = "Lower `sequence_length`"
    if short == ["held-out"]:
        remedy = "Raise `validation_fraction` or lower `sequence_length`"
    enough = math.ceil(need / min(vf, 1 - vf) * 1.05)
    raise ValueError(
        f"Too little text: {characters} characters give {train_tokens} training "
        f"and {val_tokens} held-out tokens (the held-out part is the last "
        f"`validation_fraction`={vf} of the text), but windows of "
        f"`sequence_length`={seq} need at least {need} tokens in each part; "
        f"the {' and '.join(short)} {'parts are' if len(short) > 1 else 'part is'} "
        f"short. {remedy}, or give more text (about {enough} {unit})."
    )


def train_gpt(cfg: GPTConfig | None = None, **overrides) -> GPTResult:
    """Train `build_gpt` on the bundled corpus (default) or a UTF-8 text file.

    Article §3.2. The last `validation_fraction` of the text is held out.
    Training windows start every `sequence_length // 8` tokens (overlapping
    crops, as nanoGPT samples them); the learning rate warms up for 100
    steps, then follows a cosine decay to 5% (AdamW, β₂ = 0.99). Dropout
    0.1 by default: without it the model overfits the bundled corpus after
    its second of four epochs; with it the held-out loss still falls in the
    fourth. Beside the model's held-out cross-entropy (every held-out token,
    predicted from the text before it) it reports Witten–Bell n-gram
    baselines (orders 1 to 6) fitted on the same training text and scored on
    the same tokens, and a generated sample.

    Args:
        cfg: GPTConfig. Or pass its fields as keyword arguments.

    Returns:
        GPTResult.
    """
    cfg = make_config(GPTConfig, cfg, **overrides)
    with session(cfg, "gpt") as (run, strategy):
        cfg = run.config
        text = (
            load_corpus()
            if cfg.data is None
            else read_text_file(cfg.data, cfg.encoding)
        )
        cut = int(len(text) * (1 - cfg.validation_fraction))
        if cfg.backbone is not None:
            from keras_bigmodels.workflows.preset_lm import fine_tune_preset_lm

            return fine_tune_preset_lm(run, strategy, text, cut)
        tok = Tokenizer.adapt(text[:cut], level=cfg.level)
        train_ids, val_ids = tok.encode(text[:cut]), tok.encode(text[cut:])
        seq = cfg.sequence_length
        train, val, (vx, vy) = language_model_batches(
            train_ids, val_ids, cfg, strategy, characters=len(text)
        )
        with strategy.scope():
            model = build_gpt(
                tok.vocab_size,
                max_length=seq,
                embed_dim=cfg.embed_dim,
                num_heads=cfg.num_heads,
                num_layers=cfg.num_layers,
                intermediate_dim=4 * cfg.embed_dim,
                dropout=cfg.dropout,
            )
            compile_language_model(model, run, train)
        run.start(
            task="language_model",
            architecture="gpt",
            data={
                "source": "pydoc_data.topics (bundled)"
                if cfg.data is None
                else os.path.abspath(cfg.data),
                "characters": len(text),
                "train_tokens": len(train_ids),
                "validation_tokens": len(val_ids),
                "vocab_size": tok.vocab_size,
            },
        )
        tok.save(run.path(TOKENIZER_FILE))
        # The learning rate follows its own schedule: no reduction on plateaus.
        fit(
            run,
            model,
            train=train,
            validation=val,
            reduce_lr=False,
        )
        # Scored on exactly the tokens the n-gram models see, every validation
        # token after the first, each with the text before it as context (at
        # least half a window; an n-gram sees its n-1 tokens).
        model_ce = stream_cross_entropy(model, val_ids, seq)
        windowed_ce = model_cross_entropy(model, vx, vy)
        ngram = ngram_baselines(train_ids, val_ids, tok.vocab_size)
        sample = generate(
            model,
            text[cut : cut + 40],
            max_new_tokens=200,
            temperature=0.8,
            top_k=20,
            seed=cfg.seed,
            tokenizer=tok,
        )
        with open(run.path("sample.txt"), "w", encoding="utf-8") as f:
            f.write(sample)
        return run.finish(
            model,
            {
                "validation": {
                    "cross_entropy": model_ce,
                    # Disjoint windows: each window's first tokens have
                    # little context (the loss `fit` reports as val_loss).
                    "windowed_cross_entropy": windowed_ce,
                },
                "ngram_baseline": {
                    "cross_entropy": {
                        str(k): v for k, v in ngram.items() if k != "best"
                    },
                    "best_order": ngram["best"][0],
                    "best_cross_entropy": ngram["best"][1],
                },
                "sample": sample,
            },
            GPTResult,
            held_out_inputs=vx,
            cross_entropy=model_ce,
            ngram_cross_entropy=ngram["best"][1],
            ngram_order=ngram["best"][0],
            sample=sample,
        )


def generate_from_run(
    run_dir,
    prompt: str,
    *,
    max_new_tokens: int = 200,
    temperature: float = 0.8,
    top_k: int | None = 20,
    seed: int | None = None,
    safe_mode: bool = True,
    on_token=None,
) -> str:
    """Continue `prompt` with the language model of a `train gpt` run folder.

    Characters (or words) of the prompt that the run's vocabulary lacks, an
    emoji say, are read as the unknown token; one warning counts and shows
    them. `on_token` is called with each new piece of text as it is
    sampled (see `models.generate`).
    """
    from keras_bigmodels.saving import load_model

    run_dir = os.fspath(run_dir)
    preset = os.path.join(run_dir, PRESET_DIR)
    if os.path.isdir(preset):  # a fine-tuned KerasHub preset
        from keras_bigmodels.models.hub import generate_from_preset

        text = generate_from_preset(
            preset,
            prompt,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            seed=seed,
        )
        if on_token is not None:
            on_token(text[len(prompt) :] if text.startswith(prompt) else text)
        return text
    if not os.path.isfile(os.path.join(run_dir, TOKENIZER_FILE)):
        raise ValueError(
            f"{run_dir!r} is not a readable language-model run folder: "
            f"missing {TOKENIZER_FILE}"
        )
    tok = Tokenizer.load(os.path.join(run_dir, TOKENIZER_FILE))
    _warn_unknown(tok, prompt)
    model = load_model(run_dir, safe_mode=safe_mode)
    return generate(
        model,
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        seed=seed,
        tokenizer=tok,
        on_token=on_token,
    )


def _warn_unknown(tok: Tokenizer, prompt: str) -> None:
    unknown = int(np.sum(tok.encode(prompt) == 1)) if prompt else 0
    if not unknown:
        return
    unit = "character" if tok.level == "char" else "word"
    known = set(tok.vocabulary)
    pieces = prompt if tok.level == "char" else prompt.split()
    shown = "".join(dict.fromkeys(p for p in pieces if p not in known))[:40]
    warnings.warn(
        f"{unknown} {unit}(s) of the prompt are not in the run's vocabulary "
        f"({shown}); the model reads each as unknown ([UNK])",
        stacklevel=3,
    )
