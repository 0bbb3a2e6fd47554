"""Article §2.4, §3.2: `train seq2seq`, an encoder-decoder end to end.

Trains on n-digit addition by default (a task whose answers can be checked
exactly) or a TSV file of source<TAB>target pairs; teacher forcing in
training, greedy decoding for the held-out exact match.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np

from keras_bigmodels.data.batches import EpochBatches
from keras_bigmodels.data.splits import stratified_split
from keras_bigmodels.data.text import (
    END,
    START,
    Tokenizer,
    read_pairs,
)
from keras_bigmodels.datasets.addition import (
    addition_tokenizer,
    load_addition,
    max_addition_pairs,
)
from keras_bigmodels.models.seq2seq import build_seq2seq, decode
from keras_bigmodels.training import runs
from keras_bigmodels.training.metrics import SequenceExactMatch
from keras_bigmodels.training.session import session
from keras_bigmodels.workflows._common import (
    TOKENIZER_FILE,
    compile_model,
    fit,
)
from keras_bigmodels.workflows.configs import (
    Seq2SeqConfig,
    make_config,
)


def seq2seq_step_bytes(cfg: Seq2SeqConfig, length: int) -> int:
    """About how many bytes one training step of `cfg`'s model takes for a
    batch of `cfg.batch_size` pairs padded to `length` tokens (float32).

    Transformer: per layer, attention weights (batch, heads, length, length)
    for the encoder's self-attention and the decoder's self- and
    cross-attention, each kept for the backward pass with its softmax and
    gradient (x3), plus about 20 activations (batch, length, embed_dim).
    LSTM/GRU: about 20 activations (batch, length, units) per side. Checked
    against the peak memory of one step on a CPU (bench/README.md).
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


def _used_length(ids: np.ndarray) -> np.ndarray:
    """Per row of end-padded ids (0 = padding): the length up to the last token."""
    positions = np.arange(1, ids.shape[1] + 1)
    return np.where(ids != 0, positions[None, :], 0).max(axis=1)


def exact_match(model, *, tok, sources, targets, src_len, tgt_len):
    """Fraction of sources whose greedy decoding equals the target exactly."""
    start, end = tok.encode(START)[0], tok.encode(END)[0]
    out = decode(
        model,
        tok.encode_batch(sources, src_len),
        start_id=start,
        end_id=end,
        max_length=tgt_len + 1,
    )
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
                num_train=cfg.num_train,
                num_test=cfg.num_test,
                seed=cfg.seed,
                uniform_fraction=cfg.uniform_fraction,
                num_uniform_test=max(0, min(cfg.num_uniform_test, unused)),
            )
            if uniform:
                uniform_src, uniform_tgt = uniform[0]
            tok, source = addition_tokenizer(), f"{cfg.digits}-digit addition (bundled)"
        else:
            sources, targets = read_pairs(
                cfg.data,
                max_length=cfg.max_length,
                too_long=cfg.too_long,
                encoding=cfg.encoding,
                cost=lambda n: (
                    "the training batch holding the longest, padded to its "
                    f"length, needs about {_bytes_text(seq2seq_step_bytes(cfg, n))} "
                    f"with `batch_size`={cfg.batch_size}"
                ),
            )
            idx_train, idx_test = stratified_split(
                None, (0.9, 0.1), seed=cfg.seed, n=len(sources)
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
            compile_model(
                model,
                run,
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True, ignore_class=0
                ),
                metrics=[SequenceExactMatch()],
            )
        run.start(
            task="seq2seq",
            architecture=f"seq2seq-{cfg.kind}",
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
        fit(
            run,
            model,
            train=train,
            validation=val,
            monitor="val_exact_match",
            mode="max",
        )
        em, preds = exact_match(
            model,
            tok=tok,
            sources=test_src,
            targets=test_tgt,
            src_len=src_len,
            tgt_len=tgt_len,
        )
        examples = [
            {"source": s, "target": t, "prediction": p}
            for s, t, p in zip(test_src[:5], test_tgt[:5], preds[:5], strict=True)
        ]
        test = {"exact_match": em}
        em_uniform = None
        if uniform_src:
            em_uniform, _ = exact_match(
                model,
                tok=tok,
                sources=uniform_src,
                targets=uniform_tgt,
                src_len=src_len,
                tgt_len=tgt_len,
            )
            test.update(exact_match_uniform=em_uniform, uniform_pairs=len(uniform_src))
        return run.finish(
            model,
            {"test": test, "examples": examples},
            Seq2SeqResult,
            held_out_inputs=(x[:n_val], dec_in[:n_val]),
            exact_match=em,
            exact_match_uniform=em_uniform,
            uniform_test_size=len(uniform_src),
            examples=examples,
        )
