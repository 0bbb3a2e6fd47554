"""The sequence workflows at reduced size: the same checks the CLI reports."""

import json
import os

import numpy as np
import pytest

from keras_bigmodels import workflows


@pytest.mark.large
def test_transformer_beats_bag_of_tokens_on_the_order_task(tmp_path):
    r = workflows.train_sequence_classifier(
        architecture="transformer",
        epochs=4,
        num_train=3000,
        num_test=500,
        max_length=24,
        embed_dim=32,
        num_layers=1,
        out=str(tmp_path),
        verbose=0,
    )
    m = r.metrics
    assert m["test"]["accuracy"] >= 0.9
    assert m["bag_of_tokens_baseline"]["accuracy"] < 0.65  # order-blind: near chance
    saved = json.load(open(os.path.join(r.run_dir, "metrics.json")))
    assert saved["test"]["accuracy"] == pytest.approx(m["test"]["accuracy"])


def _text_classes(data, words: dict, count: int, variants: int, sep=" "):
    """A folder of class sub-folders, `count` .txt files each: words + a digit."""
    for label, word in words.items():
        (data / label).mkdir(parents=True)
        for i in range(count):
            text = f"{word}{sep}{i % variants}"
            (data / label / f"{i}.txt").write_text(text, encoding="utf-8")
    return str(data)


@pytest.mark.large
def test_rnn_on_a_folder_of_text_files(tmp_path):
    data = _text_classes(
        tmp_path / "texts", {"pos": "good great fine", "neg": "bad awful poor"}, 30, 7
    )
    r = workflows.train_sequence_classifier(
        architecture="rnn",
        data=data,
        level="word",
        epochs=8,
        units=16,
        num_layers=1,
        embed_dim=16,
        max_length=8,
        out=str(tmp_path / "runs"),
        verbose=0,
    )
    assert r.metrics["test"]["accuracy"] >= 0.9
    assert os.path.isfile(os.path.join(r.run_dir, "tokenizer.json"))


@pytest.mark.large
def test_seq2seq_learns_two_digit_addition(tmp_path):
    # Reduced size: 2 digits, 4,500 pairs, a GRU with attention for 10 short
    # epochs (about 1,400 steps); one run reached 79% exact match.
    r = workflows.train_seq2seq(
        kind="gru",
        digits=2,
        num_train=4500,
        num_test=300,
        epochs=10,
        batch_size=32,
        embed_dim=32,
        units=64,
        learning_rate=5e-3,
        patience=20,
        out=str(tmp_path),
        verbose=0,
    )
    assert r.metrics["test"]["exact_match"] >= 0.5
    # 2 digits leave 10,000 // 2 - 4,800 unused pairs for the uniform test.
    assert r.uniform_test_size == 200 == r.metrics["test"]["uniform_pairs"]
    assert 0.0 <= r.exact_match_uniform <= 1.0
    ex = r.metrics["examples"][0]
    assert set(ex) == {"source", "target", "prediction"}


@pytest.mark.large
def test_seq2seq_from_a_tsv_file(tmp_path):
    pairs = "\n".join(
        f"{w}\t{w[::-1]}"
        for w in ["abc", "hello", "model", "keras", "train", "tensor"] * 20
    )
    (tmp_path / "pairs.tsv").write_text(pairs, encoding="utf-8")
    r = workflows.train_seq2seq(
        kind="lstm",
        data=str(tmp_path / "pairs.tsv"),
        epochs=1,
        units=16,
        embed_dim=8,
        out=str(tmp_path),
        verbose=0,
    )
    assert 0.0 <= r.metrics["test"]["exact_match"] <= 1.0
    (tmp_path / "bad.tsv").write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv:1"):
        workflows.train_seq2seq(data=str(tmp_path / "bad.tsv"), out=str(tmp_path))


@pytest.mark.large
def test_gpt_run_reports_ngram_baselines_and_generates(tmp_path):
    text = "".join(
        f"line {i % 10} says {'abcdefghij'[i % 10] * 3}.\n" for i in range(400)
    )
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    r = workflows.train_gpt(
        data=str(tmp_path / "t.txt"),
        sequence_length=32,
        epochs=3,
        embed_dim=32,
        num_heads=2,
        num_layers=1,
        out=str(tmp_path),
        verbose=0,
    )
    m = r.metrics
    base = m["ngram_baseline"]
    assert set(base["cross_entropy"]) == {"1", "2", "3", "4", "5", "6"}
    # Three epochs on this regular text already beat the unigram model.
    assert m["validation"]["cross_entropy"] < base["cross_entropy"]["1"]
    out = workflows.generate_from_run(r.run_dir, "line 3", max_new_tokens=20, seed=0)
    assert out.startswith("line 3") and len(out) == 26
    assert out == workflows.generate_from_run(
        r.run_dir, "line 3", max_new_tokens=20, seed=0
    )


def test_teacher_forced_exact_match_equals_greedy_decoding():
    import numpy as np

    import keras_bigmodels as kb
    from keras_bigmodels.training.metrics import SequenceExactMatch

    model = kb.build_seq2seq(12, 12, max_length=8, kind="gru", units=16, embed_dim=8)
    rng = np.random.default_rng(0)
    src = rng.integers(3, 12, (64, 5)).astype("int32")
    # Targets: the model's own greedy output for half, random for the rest.
    greedy = kb.decode(model, src, start_id=2, end_id=3, max_length=4)
    tgt = greedy.copy()
    tgt[32:] = rng.integers(4, 12, (32, 4))
    dec_in = np.concatenate([np.full((64, 1), 2), tgt[:, :-1]], axis=1)
    metric = SequenceExactMatch()
    metric.update_state(tgt, model.predict([src, dec_in], verbose=0))
    decoded = kb.decode(model, src, start_id=2, end_id=3, max_length=4)
    expected = np.mean(
        [(d == t)[t != 0].all() for d, t in zip(decoded, tgt, strict=True)]
    )
    assert float(metric.result()) == pytest.approx(expected)
    assert expected >= 0.5


@pytest.mark.large
def test_explain_texts_draws_each_blocks_attention_over_the_texts_tokens(tmp_path):
    from unittest import mock

    from keras_bigmodels.insight import attention

    words = {"好": "好评如潮", "差": "差评太差"}
    data = _text_classes(tmp_path / "texts", words, 20, 5, sep="")
    r = workflows.train_sequence_classifier(
        architecture="transformer",
        data=data,
        epochs=1,
        embed_dim=16,
        num_heads=2,
        num_layers=2,
        max_length=8,
        out=str(tmp_path / "runs"),
        verbose=0,
    )
    drawn = []
    real_plot = attention.plot_attention

    def spy(weights, labels, path):
        drawn.append((weights, labels))
        return real_plot(weights, labels, path)

    long_text = "好评如潮好评如潮好评"  # 10 characters: cut to max_length 8
    with mock.patch.object(attention, "plot_attention", spy):
        out = workflows.explain_texts(r.run_dir, ["差评3", long_text], tmp_path / "x")
    assert [o["tokens"] for o in out] == [list("差评3"), list(long_text[:8])]
    for o, (weights, labels) in zip(out, drawn, strict=True):
        assert o["label"] in ("好", "差") and 0.5 <= o["probability"] <= 1.0
        assert labels == o["tokens"] and len(weights) == 2  # one per block
        for w in weights:
            n = len(labels)
            assert w.shape == (2, n, n)
            # Padding keys take no weight: each row over the text sums to 1.
            np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
        assert os.path.getsize(o["attention"]) > 1000
    with pytest.raises(ValueError, match="no tokens"):
        workflows.explain_texts(r.run_dir, [""], tmp_path / "x")
