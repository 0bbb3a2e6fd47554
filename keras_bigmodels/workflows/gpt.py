"""Article §2.3, §3.2: train RNNs, Transformers, seq2seq and GPT end to end.

What `keras-bigmodels train rnn|transformer|seq2seq|gpt` runs. Each function
trains on a bundled task by default (or the user's data), measures the model
on held-out data against the obvious baseline, and writes a run folder.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings

import keras
import numpy as np

from keras_bigmodels import _validation as V
from keras_bigmodels.data.arrays import array_batches
from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.data.images import stratified_split
from keras_bigmodels.data.text import (
    END,
    START,
    Tokenizer,
    next_token_windows,
    read_text_file,
)
from keras_bigmodels.datasets.addition import (
    addition_tokenizer,
    load_addition,
    max_addition_pairs,
)
from keras_bigmodels.datasets.corpus import load_corpus
from keras_bigmodels.datasets.sequence_tasks import load_order_task
from keras_bigmodels.insight.ngram import (
    model_cross_entropy,
    ngram_baselines,
    stream_cross_entropy,
)
from keras_bigmodels.models.bag_of_tokens import build_bag_of_tokens
from keras_bigmodels.models.gpt import build_gpt, generate
from keras_bigmodels.models.rnn import build_rnn
from keras_bigmodels.models.seq2seq import build_seq2seq, decode
from keras_bigmodels.models.transformer import build_transformer
from keras_bigmodels.training import loop, runs
from keras_bigmodels.training.distribute import describe_devices
from keras_bigmodels.training.metrics import SequenceExactMatch
from keras_bigmodels.training.precision import optimizer, resolve_jit
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows.configs import (
    GPTConfig,
    RNNClassifierConfig,
    Seq2SeqConfig,
    SequenceClassifierConfig,
    TransformerClassifierConfig,
    make_config,
)

TOKENIZER_FILE = "tokenizer.json"


def _compile(model, cfg, loss, metrics=None, learning_rate=None):
    model.compile(
        optimizer=optimizer("Adam", learning_rate or cfg.learning_rate, cfg.clip_norm),
        loss=loss,
        metrics=metrics,
        jit_compile=resolve_jit(cfg.jit),
    )
    return model


def _fit(run, model, cfg, strategy, train, val, **kwargs):
    kwargs.setdefault("reduce_lr", True)
    return loop.fit(
        run,
        model,
        train,
        epochs=cfg.epochs,
        strategy=strategy,
        validation=val,
        patience=cfg.patience,
        checkpoint_every=cfg.checkpoint_every,
        verbose=cfg.verbose,
        **kwargs,
    )


def _batches(data, cfg, strategy) -> EpochBatches:
    # As the loop will serve them (GPT's schedule counts their steps).
    return EpochBatches.from_arrays(data, cfg.batch_size, seed=cfg.seed).for_replicas(
        strategy.num_replicas_in_sync
    )


# --- sequence classification -------------------------------------------------


class TooLongWarning(UserWarning):
    """Texts over the length cap were skipped or cut; the message names them."""


def _over_the_cap(items, max_length, too_long, unit, what_is_done, cost=None) -> None:
    """Refuse, or report once, the texts longer than `max_length`.

    `items` is a list of `(where, length)`: a file, or `file:line`.
    `cost(length)`, when given, says what keeping the longest would take.
    """
    if not items:
        return
    where, length = max(items, key=lambda item: item[1])
    if too_long == "error":
        raise ValueError(
            f"{len(items)} text(s) are longer than `max_length`={max_length} "
            f"{unit}, the longest {where} ({length} {unit}); raise `max_length`, "
            "or choose what happens to them with `too_long`"
        )
    shown = ", ".join(f"{w} ({n} {unit})" for w, n in items[:20])
    more = f" and {len(items) - 20} more" if len(items) > 20 else ""
    needs = f" ({cost(length)})" if cost else ""
    warnings.warn(
        f"{what_is_done} {len(items)} text(s) longer than `max_length`="
        f"{max_length} {unit}: {shown}{more}. Raise `max_length` to keep them "
        f"whole{needs}, or pass `too_long`='error' to stop instead.",
        TooLongWarning,
        stacklevel=3,
    )


def _text_folder(
    directory,
    level,
    max_length,
    seed,
    too_long="truncate",
    encoding=None,
    test_fraction=0.2,
):
    """Class sub-folders of .txt files -> padded ids, labels, tokenizer, classes."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"No such folder: {directory!r}")
    texts, labels, paths, classes = (
        [],
        [],
        [],
        sorted(
            d
            for d in os.listdir(directory)
            if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")
        ),
    )
    for c, name in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(directory, name))):
            if f.endswith(".txt"):
                paths.append(os.path.join(directory, name, f))
                texts.append(read_text_file(paths[-1], encoding))
                labels.append(c)
    if len(classes) < 2 or not texts:
        raise ValueError(
            f"{directory!r} needs at least two class sub-folders of .txt "
            f"files; found classes {classes} and {len(texts)} files"
        )
    labels = np.array(labels, "int64")
    train_idx, test_idx = stratified_split(
        labels, len(labels), (1 - test_fraction, test_fraction), seed
    )
    tok = Tokenizer.adapt([texts[i] for i in train_idx], level=level)
    x, lengths = tok.encode_batch(texts, max_length, return_lengths=True)
    long = [(paths[i], int(n)) for i, n in enumerate(lengths) if n > max_length]
    done = "Skipped" if too_long == "skip" else f"Kept the first {max_length} tokens of"
    _over_the_cap(long, max_length, too_long, "tokens", done)
    if too_long == "skip":
        keep = lengths <= max_length
        train_idx, test_idx = train_idx[keep[train_idx]], test_idx[keep[test_idx]]
        if not len(train_idx) or not len(test_idx):
            raise ValueError(
                f"No texts of {directory!r} are left for training and testing "
                f"after skipping those over `max_length`={max_length} tokens"
            )
    return (
        (x[train_idx], labels[train_idx]),
        (x[test_idx], labels[test_idx]),
        tok,
        classes,
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
    if "cell" in overrides:  # the RNN's cell, as `build_rnn` names it
        overrides["kind"] = overrides.pop("cell")
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
            (x, y), (x_test, y_test), tok, classes = _text_folder(
                cfg.data,
                cfg.level,
                cfg.max_length,
                cfg.seed,
                too_long=cfg.too_long,
                encoding=cfg.encoding,
            )
            vocab_size, source = tok.vocab_size, os.path.abspath(cfg.data)
        train_idx, val_idx = stratified_split(y, len(y), (0.9, 0.1), cfg.seed)
        train = _batches((x[train_idx], y[train_idx]), cfg, strategy)
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
                    cfg.kind,
                    vocab_size=vocab_size,
                    num_outputs=len(classes),
                    units=(cfg.units,) * cfg.num_layers,
                    embed_dim=cfg.embed_dim,
                    bidirectional=True,
                )
            _compile(model, cfg, "sparse_categorical_crossentropy", ["accuracy"])
        run.start(
            task="sequence_classification",
            architecture=architecture,
            devices=describe_devices(strategy),
            jit_compile=resolve_jit(cfg.jit),
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
        _fit(run, model, cfg, strategy, train, val)
        test_acc = loop.evaluate(model, test, strategy)["accuracy"]

        # The baseline is tiny: every process trains its own, outside the
        # strategy, with Keras's plain fit.
        baseline = _compile(
            build_bag_of_tokens(vocab_size, len(classes)),
            cfg,
            "sparse_categorical_crossentropy",
            ["accuracy"],
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
            accuracy=test_acc,
            baseline_accuracy=base_acc,
            class_names=classes,
        )


# --- sequence to sequence ----------------------------------------------------


def seq2seq_step_bytes(cfg: Seq2SeqConfig, length: int) -> int:
    """About how many bytes one training step of `cfg`'s model takes for a
    batch of `cfg.batch_size` pairs padded to `length` tokens (float32).

    Transformer: per layer, attention weights (batch, heads, length, length)
    for the encoder's self-attention and the decoder's self- and
    cross-attention, each kept for the backward pass with its softmax and
    gradient (x3), plus about 20 activations (batch, length, embed_dim).
    LSTM/GRU: about 20 activations (batch, length, units) per side. Checked
    against the peak memory of one step on a CPU: within 15% for a
    transformer at 400 and 800 tokens and a GRU at 400.
    """
    batch, n = cfg.batch_size, int(length)
    if cfg.kind == "transformer":
        attention = 3 * 3 * batch * cfg.num_heads * n * n
        activations = 2 * 20 * batch * n * cfg.embed_dim
        return 4 * cfg.num_layers * (attention + activations)
    return 4 * 2 * 20 * batch * n * cfg.units


def _bytes_text(size: float) -> str:
    for unit in ("bytes", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _pairs_file(path, max_length=None, too_long="skip", encoding=None, cost=None):
    """A TSV file of `source<TAB>target` lines -> two lists of str.

    Pairs with a side longer than `max_length` characters are skipped and
    reported by line number (`too_long="skip"`), or refused (`"error"`), so
    that one stray long line cannot set the padded length of every batch.
    """
    sources, targets, long = [], [], []
    for n, line in enumerate(read_text_file(path, encoding).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            shown = line if len(line) <= 60 else line[:60] + "..."
            raise ValueError(f"{path}:{n}: expected 'source<TAB>target', got {shown!r}")
        length = max(map(len, parts))
        if max_length is not None and length > max_length:
            long.append((f"{path}:{n}", length))
            continue
        sources.append(parts[0])
        targets.append(parts[1])
    _over_the_cap(long, max_length, too_long, "characters", "Skipped", cost)
    if len(sources) < 2:
        raise ValueError(
            f"{path!r} has {len(sources)} usable source<TAB>target pair(s)"
            + (f" after skipping {len(long)} over `max_length`" if long else "")
            + "; at least 2 are needed (one to train on, one to test)"
        )
    return sources, targets


def _used_length(ids: np.ndarray) -> np.ndarray:
    """Per row of end-padded ids (0 = padding): the length up to the last token."""
    positions = np.arange(1, ids.shape[1] + 1)
    return np.where(ids != 0, positions[None, :], 0).max(axis=1)


def exact_match(model, tok, sources, targets, src_len, tgt_len):
    """Fraction of sources whose greedy decoding equals the target exactly."""
    start, end = tok.encode(START)[0], tok.encode(END)[0]
    out = decode(model, tok.encode_batch(sources, src_len), start, end, tgt_len + 1)
    preds = [tok.decode(row).split(END)[0] for row in out]
    return float(np.mean([p == t for p, t in zip(preds, targets, strict=True)])), preds


@dataclasses.dataclass
class Seq2SeqResult(runs.TrainResult):
    """`train_seq2seq`'s result: held-out exact match and a few examples; on
    the bundled addition also the exact match on uniformly drawn pairs."""

    exact_match: float = float("nan")
    # Bundled addition: the second test set, operands drawn uniformly.
    exact_match_uniform: float | None = None
    uniform_test_size: int = 0
    examples: list = dataclasses.field(default_factory=list)


def train_seq2seq(cfg: Seq2SeqConfig | None = None, **overrides) -> Seq2SeqResult:
    """Train an encoder–decoder on n-digit addition (default) or a TSV of pairs.

    Article §2.4 and §3.2. Teacher forcing in training; greedy `decode` for
    the held-out exact-match accuracy (the whole answer must be right).

    Args:
        cfg: Seq2SeqConfig. Or pass its fields as keyword arguments.

    Returns:
        Seq2SeqResult.
    """
    cfg = make_config(Seq2SeqConfig, cfg, **overrides)
    with session(cfg, "seq2seq", f"seq2seq-{cfg.kind}") as (run, strategy):
        cfg = run.config
        uniform_src, uniform_tgt = [], []
        if cfg.data is None:
            # Few digits leave few unused pairs: the uniform test takes what is left.
            unused = max_addition_pairs(cfg.digits) - cfg.num_train - cfg.num_test
            (src, tgt), (test_src, test_tgt), *uniform = load_addition(
                cfg.digits,
                cfg.num_train,
                cfg.num_test,
                cfg.seed,
                uniform_fraction=cfg.uniform_fraction,
                num_uniform_test=max(0, min(cfg.num_uniform_test, unused)),
            )
            if uniform:
                uniform_src, uniform_tgt = uniform[0]
            tok, source = addition_tokenizer(), f"{cfg.digits}-digit addition (bundled)"
        else:
            sources, targets = _pairs_file(
                cfg.data,
                cfg.max_length,
                cfg.too_long,
                cfg.encoding,
                cost=lambda n: (
                    "the training batch holding the longest, padded to its "
                    f"length, needs about {_bytes_text(seq2seq_step_bytes(cfg, n))} "
                    f"with `batch_size`={cfg.batch_size}"
                ),
            )
            idx_train, idx_test = stratified_split(
                None, len(sources), (0.9, 0.1), cfg.seed
            )
            src, tgt = [sources[i] for i in idx_train], [targets[i] for i in idx_train]
            test_src = [sources[i] for i in idx_test]
            test_tgt = [targets[i] for i in idx_test]
            tok = Tokenizer.adapt(src + tgt + [START + END], level="char")
            source = os.path.abspath(cfg.data)
        src_len = max(map(len, src + test_src + uniform_src))
        tgt_len = max(map(len, tgt + test_tgt + uniform_tgt)) + 1  # + the end token
        x = tok.encode_batch(src, src_len)
        full = tok.encode_batch([START + t + END for t in tgt], tgt_len + 1)
        dec_in, dec_out = full[:, :-1], full[:, 1:]
        n_val = max(1, len(src) // 20)
        # Batches of pairs of like length, each padded to its own longest.
        # The decoder's input and target share one length (its output's).
        used_x, used_in = _used_length(x), _used_length(dec_in)
        used_out = used_in
        train = EpochBatches.bucketed(
            ((x[n_val:], dec_in[n_val:]), dec_out[n_val:]),
            ((used_x[n_val:], used_in[n_val:]), used_out[n_val:]),
            cfg.batch_size,
            seed=cfg.seed,
        ).for_replicas(strategy.num_replicas_in_sync)
        val = EpochBatches.bucketed(
            ((x[:n_val], dec_in[:n_val]), dec_out[:n_val]),
            ((used_x[:n_val], used_in[:n_val]), used_out[:n_val]),
            cfg.batch_size,
            shuffle=False,
        ).dataset(0)
        with strategy.scope():
            model = build_seq2seq(
                tok.vocab_size,
                tok.vocab_size,
                max_length=max(src_len, tgt_len) + 1,
                kind=cfg.kind,
                embed_dim=cfg.embed_dim,
                num_heads=cfg.num_heads,
                intermediate_dim=2 * cfg.embed_dim,
                num_layers=cfg.num_layers,
                units=cfg.units,
                dropout=cfg.dropout if cfg.kind == "transformer" else 0.0,
            )
            _compile(
                model,
                cfg,
                keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True, ignore_class=0
                ),
                [SequenceExactMatch()],
            )
        run.start(
            task="seq2seq",
            architecture=f"seq2seq-{cfg.kind}",
            devices=describe_devices(strategy),
            jit_compile=resolve_jit(cfg.jit),
            data={
                "source": source,
                "source_length": src_len,
                "target_length": tgt_len,
                "counts": {
                    "train": len(src) - n_val,
                    "validation": n_val,
                    "test": len(test_src),
                },
            },
        )
        tok.save(run.path(TOKENIZER_FILE))
        # Keep the epoch with the best whole-answer accuracy, not the lowest
        # token loss: the two part ways once the model is nearly right.
        _fit(
            run, model, cfg, strategy, train, val, monitor="val_exact_match", mode="max"
        )
        em, preds = exact_match(model, tok, test_src, test_tgt, src_len, tgt_len)
        examples = [
            {"source": s, "target": t, "prediction": p}
            for s, t, p in zip(test_src[:5], test_tgt[:5], preds[:5], strict=True)
        ]
        test = {"exact_match": em}
        em_uniform = None
        if uniform_src:
            em_uniform, _ = exact_match(
                model, tok, uniform_src, uniform_tgt, src_len, tgt_len
            )
            test.update(exact_match_uniform=em_uniform, uniform_pairs=len(uniform_src))
        return run.finish(
            model,
            {"test": test, "examples": examples},
            Seq2SeqResult,
            exact_match=em,
            exact_match_uniform=em_uniform,
            uniform_test_size=len(uniform_src),
            examples=examples,
        )


# --- language model ----------------------------------------------------------


@dataclasses.dataclass
class GPTResult(runs.TrainResult):
    """`train_gpt`'s result: held-out cross-entropy beside the best n-gram's."""

    cross_entropy: float = float("nan")
    ngram_cross_entropy: float = float("nan")
    ngram_order: int = 0
    sample: str = ""


def _check_enough_text(characters, train_tokens, val_tokens, cfg) -> None:
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
        tok = Tokenizer.adapt(text[:cut], level=cfg.level)
        train_ids, val_ids = tok.encode(text[:cut]), tok.encode(text[cut:])
        seq = cfg.sequence_length
        _check_enough_text(len(text), len(train_ids), len(val_ids), cfg)
        vx, vy = next_token_windows(val_ids, seq, seq)
        # Overlapping training windows are cut out batch by batch: holding
        # them all would take 16x the memory of the text's token ids.
        train = EpochBatches.windows(
            train_ids, seq, max(1, seq // 8), cfg.batch_size, seed=cfg.seed
        ).for_replicas(strategy.num_replicas_in_sync)
        val = array_batches((vx, vy), cfg.batch_size)
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
            total_steps = cfg.epochs * train.steps_per_epoch
            warmup = min(100, total_steps // 10)
            schedule = keras.optimizers.schedules.CosineDecay(
                cfg.learning_rate * 0.1,
                max(1, total_steps - warmup),
                alpha=0.05,
                warmup_target=cfg.learning_rate,
                warmup_steps=warmup,
            )
            model.compile(
                optimizer=optimizer(
                    "AdamW", schedule, cfg.clip_norm, weight_decay=0.01, beta_2=0.99
                ),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=resolve_jit(cfg.jit),
            )
        run.start(
            task="language_model",
            architecture="gpt",
            devices=describe_devices(strategy),
            jit_compile=resolve_jit(cfg.jit),
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
        _fit(run, model, cfg, strategy, train, val, reduce_lr=False)  # scheduled
        # Scored on exactly the tokens the n-gram models see, every validation
        # token after the first, each with the text before it as context (at
        # least half a window; an n-gram sees its n-1 tokens).
        model_ce = stream_cross_entropy(model, val_ids, seq)
        windowed_ce = model_cross_entropy(model, vx, vy)
        ngram = ngram_baselines(train_ids, val_ids, tok.vocab_size)
        sample = generate(
            model,
            text[cut : cut + 40],
            200,
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
            cross_entropy=model_ce,
            ngram_cross_entropy=ngram["best"][1],
            ngram_order=ngram["best"][0],
            sample=sample,
        )


def generate_from_run(
    run_dir,
    prompt: str,
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
        max_new_tokens,
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
