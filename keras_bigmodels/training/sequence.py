"""Article §2.3, §3.2: train RNNs, Transformers, seq2seq and GPT end to end.

What `keras-bigmodels train rnn|transformer|seq2seq|gpt` runs. Each function
trains on a bundled task by default (or the user's data), measures the model
on held-out data against the obvious baseline, and writes a run folder.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from keras_bigmodels import _validation as V
from keras_bigmodels.data.arrays import array_batches
from keras_bigmodels.data.images import stratified_split
from keras_bigmodels.data.text import (
    END,
    START,
    Tokenizer,
    next_token_windows,
    read_text_file,
)
from keras_bigmodels.datasets.addition import addition_tokenizer, load_addition
from keras_bigmodels.datasets.corpus import load_corpus
from keras_bigmodels.datasets.sequence_tasks import load_order_task
from keras_bigmodels.insight.ngram import model_cross_entropy, ngram_baselines
from keras_bigmodels.models.bag_of_tokens import build_bag_of_tokens
from keras_bigmodels.models.gpt import build_gpt, generate
from keras_bigmodels.models.rnn import build_rnn
from keras_bigmodels.models.seq2seq import build_seq2seq, decode
from keras_bigmodels.models.transformer import build_transformer
from keras_bigmodels.training import runs
from keras_bigmodels.training.distribute import describe_devices, get_strategy
from keras_bigmodels.training.metrics import SequenceExactMatch
from keras_bigmodels.training.seed import set_seed

TOKENIZER_FILE = "tokenizer.json"


def jit_default() -> bool:
    """XLA only where it pays: on a GPU. On CPU, bench/gpt.py measures it slower."""
    return bool(tf.config.list_logical_devices("GPU"))


def _compile(model, learning_rate, loss, metrics=None):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=loss,
        metrics=metrics,
        jit_compile=jit_default(),
    )
    return model


# --- sequence classification -------------------------------------------------


def _text_folder(directory, level, max_length, seed, test_fraction=0.2):
    """Class sub-folders of .txt files -> padded ids, labels, tokenizer, classes."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"No such folder: {directory!r}")
    texts, labels, classes = (
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
                texts.append(read_text_file(os.path.join(directory, name, f)))
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
    x = tok.encode_batch(texts, max_length)
    return (
        (x[train_idx], labels[train_idx]),
        (x[test_idx], labels[test_idx]),
        tok,
        classes,
    )


def train_sequence_classifier(
    architecture: str = "transformer",
    data: str | None = None,
    level: str = "char",
    cell: str = "lstm",
    epochs: int = 20,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    embed_dim: int = 64,
    num_heads: int = 4,
    num_layers: int = 2,
    units: int = 64,
    dropout: float = 0.1,
    max_length: int = 48,
    num_train: int = 8000,
    num_test: int = 2000,
    patience: int = 5,
    seed: int = 0,
    out: str = "runs",
    verbose="auto",
) -> dict:
    """Train a Transformer or RNN sequence classifier, beside a bag-of-tokens baseline.

    Default data: the bundled long-range-order task, where only the order of
    two markers decides the label, so the bag-of-tokens baseline stays at
    chance. `data` may instead be a folder with one sub-folder of .txt files
    per class.

    Returns:
        dict with `run_dir`, `metrics` (test accuracy of the model and the
        baseline) and `seconds`.
    """
    V.check_choice("architecture", architecture, ("transformer", "rnn"))
    V.check_positive_int("epochs", epochs)
    set_seed(seed)
    if data is None:
        (x, y), (x_test, y_test) = load_order_task(
            num_train, num_test, length=max_length, seed=seed
        )
        vocab_size, tok, classes = 24, None, ["B before A", "A before B"]
        source = "order task (bundled)"
    else:
        (x, y), (x_test, y_test), tok, classes = _text_folder(
            data, level, max_length, seed
        )
        vocab_size, source = tok.vocab_size, os.path.abspath(data)
    train_idx, val_idx = stratified_split(y, len(y), (0.9, 0.1), seed)
    train = array_batches((x[train_idx], y[train_idx]), batch_size, True, seed)
    val = array_batches((x[val_idx], y[val_idx]), batch_size)
    test = array_batches((x_test, y_test), batch_size)

    strategy = get_strategy()
    with strategy.scope():
        if architecture == "transformer":
            model = build_transformer(
                vocab_size,
                max_length,
                len(classes),
                embed_dim,
                num_heads,
                2 * embed_dim,
                num_layers,
                dropout,
            )
        else:
            model = build_rnn(
                cell,
                vocab_size=vocab_size,
                num_outputs=len(classes),
                units=(units,) * num_layers,
                embed_dim=embed_dim,
                bidirectional=True,
            )
        _compile(model, learning_rate, "sparse_categorical_crossentropy", ["accuracy"])
    run = runs.Run(
        out,
        architecture,
        {
            "task": "sequence_classification",
            "architecture": architecture,
            "arguments": {
                "data": data,
                "level": level,
                "cell": cell,
                "epochs": epochs,
                "batch_size": batch_size,
                "learning_rate": learning_rate,
                "embed_dim": embed_dim,
                "num_heads": num_heads,
                "num_layers": num_layers,
                "units": units,
                "dropout": dropout,
                "max_length": max_length,
            },
            "seed": seed,
            "devices": describe_devices(strategy),
            "data": {
                "source": source,
                "counts": {
                    "train": len(train_idx),
                    "validation": len(val_idx),
                    "test": len(y_test),
                },
            },
        },
    )
    runs.write_json(run.path(runs.CLASS_NAMES_FILE), classes)
    if tok is not None:
        tok.save(run.path(TOKENIZER_FILE))
    history = run.fit(model, train, val, epochs, patience, verbose)
    test_acc = model.evaluate(test, verbose=0, return_dict=True)["accuracy"]

    baseline = _compile(
        build_bag_of_tokens(vocab_size, len(classes)),
        1e-2,
        "sparse_categorical_crossentropy",
        ["accuracy"],
    )
    baseline.fit(
        train, validation_data=val, epochs=min(epochs, 10), verbose=0, shuffle=False
    )
    base_acc = baseline.evaluate(test, verbose=0, return_dict=True)["accuracy"]
    return run.finish(
        model,
        history,
        {
            "test": {"accuracy": test_acc},
            "bag_of_tokens_baseline": {"accuracy": base_acc},
        },
    )


# --- sequence to sequence ----------------------------------------------------


def _pairs_file(path):
    """A TSV file of `source<TAB>target` lines -> two lists of str."""
    sources, targets = [], []
    for n, line in enumerate(read_text_file(path).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected 'source<TAB>target', got {line!r}")
        sources.append(parts[0])
        targets.append(parts[1])
    return sources, targets


def exact_match(model, tok, sources, targets, src_len, tgt_len):
    """Fraction of sources whose greedy decoding equals the target exactly."""
    start, end = tok.encode(START)[0], tok.encode(END)[0]
    out = decode(model, tok.encode_batch(sources, src_len), start, end, tgt_len + 1)
    preds = [tok.decode(row).split(END)[0] for row in out]
    return float(np.mean([p == t for p, t in zip(preds, targets, strict=True)])), preds


def train_seq2seq(
    kind: str = "transformer",
    data: str | None = None,
    digits: int = 3,
    num_train: int = 50000,
    num_test: int = 2000,
    epochs: int = 30,
    batch_size: int = 128,
    learning_rate: float | None = None,
    embed_dim: int = 128,
    num_heads: int = 4,
    num_layers: int = 2,
    units: int = 256,
    dropout: float = 0.1,
    patience: int = 8,
    seed: int = 0,
    out: str = "runs",
    verbose="auto",
) -> dict:
    """Train an encoder–decoder on n-digit addition (default) or a TSV of pairs.

    Teacher forcing in training; greedy `decode` for the held-out exact-match
    accuracy (the whole answer must be right).

    Returns:
        dict with `run_dir`, `metrics` (test exact match, a few examples) and
        `seconds`.
    """
    V.check_positive_int("epochs", epochs)
    set_seed(seed)
    if data is None:
        (src, tgt), (test_src, test_tgt) = load_addition(
            digits, num_train, num_test, seed
        )
        tok, source = addition_tokenizer(), f"{digits}-digit addition (bundled)"
    else:
        sources, targets = _pairs_file(data)
        idx_train, idx_test = stratified_split(None, len(sources), (0.9, 0.1), seed)
        src, tgt = [sources[i] for i in idx_train], [targets[i] for i in idx_train]
        test_src = [sources[i] for i in idx_test]
        test_tgt = [targets[i] for i in idx_test]
        tok = Tokenizer.adapt(src + tgt + [START + END], level="char")
        source = os.path.abspath(data)
    src_len = max(map(len, src + test_src))
    tgt_len = max(map(len, tgt + test_tgt)) + 1  # + the end token
    x = tok.encode_batch(src, src_len)
    full = tok.encode_batch([START + t + END for t in tgt], tgt_len + 1)
    dec_in, dec_out = full[:, :-1], full[:, 1:]
    n_val = max(1, len(src) // 20)
    train = array_batches(
        ((x[n_val:], dec_in[n_val:]), dec_out[n_val:]), batch_size, True, seed
    )
    val = array_batches(((x[:n_val], dec_in[:n_val]), dec_out[:n_val]), batch_size)
    strategy = get_strategy()
    with strategy.scope():
        model = build_seq2seq(
            tok.vocab_size,
            tok.vocab_size,
            max(src_len, tgt_len) + 1,
            kind,
            embed_dim,
            num_heads,
            2 * embed_dim,
            num_layers,
            units,
            dropout if kind == "transformer" else 0.0,
        )
        lr = learning_rate or (5e-4 if kind == "transformer" else 1e-3)
        _compile(
            model,
            lr,
            keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, ignore_class=0
            ),
            [SequenceExactMatch()],
        )
    run = runs.Run(
        out,
        f"seq2seq-{kind}",
        {
            "task": "seq2seq",
            "architecture": f"seq2seq-{kind}",
            "arguments": {
                "data": data,
                "digits": digits,
                "epochs": epochs,
                "batch_size": batch_size,
                "learning_rate": lr,
                "embed_dim": embed_dim,
                "num_heads": num_heads,
                "num_layers": num_layers,
                "units": units,
                "dropout": dropout,
            },
            "seed": seed,
            "devices": describe_devices(strategy),
            "data": {
                "source": source,
                "source_length": src_len,
                "target_length": tgt_len,
                "counts": {
                    "train": len(src) - n_val,
                    "validation": n_val,
                    "test": len(test_src),
                },
            },
        },
    )
    tok.save(run.path(TOKENIZER_FILE))
    # Keep the epoch with the best whole-answer accuracy, not the lowest
    # token loss: the two part ways once the model is nearly right.
    history = run.fit(
        model,
        train,
        val,
        epochs,
        patience,
        verbose,
        monitor="val_exact_match",
        mode="max",
    )
    em, preds = exact_match(model, tok, test_src, test_tgt, src_len, tgt_len)
    examples = [
        {"source": s, "target": t, "prediction": p}
        for s, t, p in zip(test_src[:5], test_tgt[:5], preds[:5], strict=True)
    ]
    return run.finish(
        model, history, {"test": {"exact_match": em}, "examples": examples}
    )


# --- language model ----------------------------------------------------------


def train_gpt(
    data: str | None = None,
    level: str = "char",
    sequence_length: int = 64,
    epochs: int = 4,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    embed_dim: int = 128,
    num_heads: int = 4,
    num_layers: int = 4,
    dropout: float = 0.0,
    validation_fraction: float = 0.1,
    patience: int = 2,
    jit_compile: bool | None = None,
    seed: int = 0,
    out: str = "runs",
    verbose="auto",
) -> dict:
    """Train `build_gpt` on the bundled corpus (default) or a UTF-8 text file.

    The last `validation_fraction` of the text is held out. Training windows
    start every `sequence_length // 8` tokens (overlapping crops, as nanoGPT
    samples them); the learning rate warms up for 100 steps, then follows a
    cosine decay to 5% (AdamW, β₂ = 0.99). Beside the model's held-out
    cross-entropy it reports Witten–Bell n-gram baselines (orders 1 to 6)
    fitted on the same training text, and a generated sample.

    Returns:
        dict with `run_dir`, `metrics` and `seconds`.
    """
    V.check_positive_int("epochs", epochs)
    V.check_fraction("validation_fraction", validation_fraction, allow_none=False)
    if not validation_fraction:
        raise ValueError("`validation_fraction` must be > 0 to measure the model.")
    set_seed(seed)
    text = load_corpus() if data is None else read_text_file(data)
    cut = int(len(text) * (1 - validation_fraction))
    tok = Tokenizer.adapt(text[:cut], level=level)
    train_ids, val_ids = tok.encode(text[:cut]), tok.encode(text[cut:])
    x, y = next_token_windows(train_ids, sequence_length, max(1, sequence_length // 8))
    vx, vy = next_token_windows(val_ids, sequence_length, sequence_length)
    train = array_batches((x, y), batch_size, True, seed)
    val = array_batches((vx, vy), batch_size)
    strategy = get_strategy()
    with strategy.scope():
        model = build_gpt(
            tok.vocab_size,
            sequence_length,
            embed_dim,
            num_heads,
            num_layers,
            4 * embed_dim,
            dropout,
        )
        total_steps = epochs * -(-len(x) // batch_size)
        warmup = min(100, total_steps // 10)
        schedule = keras.optimizers.schedules.CosineDecay(
            learning_rate * 0.1,
            max(1, total_steps - warmup),
            alpha=0.05,
            warmup_target=learning_rate,
            warmup_steps=warmup,
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01, beta_2=0.99),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_default() if jit_compile is None else jit_compile,
        )
    run = runs.Run(
        out,
        "gpt",
        {
            "task": "language_model",
            "architecture": "gpt",
            "arguments": {
                "data": data,
                "level": level,
                "sequence_length": sequence_length,
                "epochs": epochs,
                "batch_size": batch_size,
                "learning_rate": learning_rate,
                "embed_dim": embed_dim,
                "num_heads": num_heads,
                "num_layers": num_layers,
                "dropout": dropout,
            },
            "seed": seed,
            "devices": describe_devices(strategy),
            "data": {
                "source": "pydoc_data.topics (bundled)"
                if data is None
                else os.path.abspath(data),
                "characters": len(text),
                "train_tokens": len(train_ids),
                "validation_tokens": len(val_ids),
                "vocab_size": tok.vocab_size,
            },
        },
    )
    tok.save(run.path(TOKENIZER_FILE))
    history = run.fit(model, train, val, epochs, patience, verbose, reduce_lr=False)
    # Scored on exactly the tokens the n-gram models see: every validation
    # token after the first, through the model's windows.
    model_ce = model_cross_entropy(model, vx, vy)
    scored = val_ids[: len(vx) * sequence_length + 1]
    ngram = ngram_baselines(train_ids, scored, tok.vocab_size)
    sample = generate(
        model,
        text[cut : cut + 40],
        200,
        temperature=0.8,
        top_k=20,
        seed=seed,
        tokenizer=tok,
    )
    with open(run.path("sample.txt"), "w", encoding="utf-8") as f:
        f.write(sample)
    return run.finish(
        model,
        history,
        {
            "validation": {"cross_entropy": model_ce},
            "ngram_baseline": {
                "cross_entropy": {str(k): v for k, v in ngram.items() if k != "best"},
                "best_order": ngram["best"][0],
                "best_cross_entropy": ngram["best"][1],
            },
            "sample": sample,
        },
    )


def generate_from_run(
    run_dir,
    prompt: str,
    max_new_tokens: int = 200,
    temperature: float = 0.8,
    top_k: int | None = 20,
    seed: int | None = None,
) -> str:
    """Continue `prompt` with the language model of a `train gpt` run folder."""
    from keras_bigmodels.saving import load_model

    run_dir = os.fspath(run_dir)
    if not os.path.isfile(os.path.join(run_dir, TOKENIZER_FILE)):
        raise ValueError(
            f"{run_dir!r} is not a readable language-model run folder: "
            f"missing {TOKENIZER_FILE}"
        )
    tok = Tokenizer.load(os.path.join(run_dir, TOKENIZER_FILE))
    model = load_model(run_dir)
    return generate(model, prompt, max_new_tokens, temperature, top_k, seed, tok)
