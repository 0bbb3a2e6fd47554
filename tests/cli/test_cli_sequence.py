"""train rnn|transformer|seq2seq|gpt and generate, through subprocess."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import assert_one_line_error, cli, run_dir_of


@pytest.mark.large
def test_train_transformer_and_rnn_on_the_order_task_and_explain(tmp_path):
    runs = {}
    for arch, width in (("transformer", ["--num-heads", 2]), ("rnn", ["--units", 8])):
        proc = cli(
            "train",
            arch,
            "--epochs",
            1,
            "--num-train",
            600,
            "--max-length",
            16,
            "--embed-dim",
            16,
            "--num-layers",
            1,
            *width,
            "--out",
            tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        assert "bag-of-tokens baseline" in proc.stdout
        metrics = json.load(open(os.path.join(run_dir_of(proc), "metrics.json")))
        assert {"test", "bag_of_tokens_baseline"} <= set(metrics)
        runs[arch] = run_dir_of(proc)
    # The order task has no tokenizer: its inputs are token ids.
    proc = cli("explain", runs["transformer"], "3 4 5 6 7", "--out", tmp_path / "att")
    assert proc.returncode == 0, proc.stderr
    png = tmp_path / "att" / "0000_attention.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "'3 4 5 6 7': " in proc.stdout and str(png) in proc.stdout
    bad = assert_one_line_error(cli("explain", runs["transformer"], "not ids"))
    assert "token ids separated by spaces" in bad
    line = assert_one_line_error(cli("explain", runs["rnn"], "3 4 5"))
    assert "'train rnn'" in line and "train transformer" in line


@pytest.mark.large
def test_train_seq2seq_lstm_prints_exact_match(tmp_path):
    proc = cli(
        "train",
        "seq2seq",
        "--kind",
        "lstm",
        "--digits",
        2,
        "--num-train",
        500,
        "--epochs",
        1,
        "--units",
        16,
        "--embed-dim",
        8,
        "--out",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Held-out test exact match:" in proc.stdout and " -> " in proc.stdout
    manifest = json.load(open(os.path.join(run_dir_of(proc), "manifest.json")))
    assert manifest["architecture"] == "seq2seq-lstm"


@pytest.mark.large
def test_train_gpt_then_generate(tmp_path):
    text = tmp_path / "story.txt"
    text.write_text(
        "从前有座山，山里有座庙。" * 40 + "\nThe end.\n" * 20, encoding="utf-8"
    )
    proc = cli(
        "train",
        "gpt",
        "--data",
        text,
        "--epochs",
        1,
        "--sequence-length",
        16,
        "--embed-dim",
        16,
        "--num-heads",
        2,
        "--num-layers",
        1,
        "--out",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "best n-gram baseline" in proc.stdout
    run_dir = run_dir_of(proc)
    for name in (
        "model.keras",
        "tokenizer.json",
        "sample.txt",
        "history.csv",
        "learning_curves.png",
        "manifest.json",
        "metrics.json",
    ):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    gen = cli(
        "generate", run_dir, "--prompt", "从前", "--max-new-tokens", 10, "--seed", 3
    )
    assert gen.returncode == 0, gen.stderr
    assert gen.stdout.startswith("从前")
    again = cli(
        "generate", run_dir, "--prompt", "从前", "--max-new-tokens", 10, "--seed", 3
    )
    assert again.stdout == gen.stdout
    # Characters the vocabulary lacks are counted in one warning.
    emoji = cli("generate", run_dir, "--prompt", "从前😀🙂😀", "--max-new-tokens", 5)
    assert emoji.returncode == 0, emoji.stderr
    (warned,) = [line for line in emoji.stderr.splitlines() if "warning" in line]
    assert "3 character(s)" in warned and "😀🙂" in warned
    assert emoji.stdout.startswith("从前😀🙂😀")
    # The text streams: the prompt and first tokens are out while it writes.
    args = ["generate", run_dir, "--prompt", "从前", "--max-new-tokens", 3000]
    stream = subprocess.Popen(
        [sys.executable, "-m", "keras_bigmodels", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    first = stream.stdout.read(4)
    still_writing = stream.poll() is None
    stream.kill()
    stream.communicate()
    assert first.startswith("从前") and len(first) == 4 and still_writing


def test_sequence_error_exits(tmp_path):
    line = assert_one_line_error(cli("train", "gpt", "--data", tmp_path / "none.txt"))
    assert "No such text file" in line
    line = assert_one_line_error(cli("train", "gpt", "--digits", 3))
    assert "--digits" in line
    line = assert_one_line_error(cli("generate", tmp_path, "--prompt", "x"))
    assert "not a readable" in line


def test_generate_help_documents_its_flags_with_defaults():
    text = " ".join(cli("generate", "--help").stdout.split())
    for flag, default in (
        ("--prompt", "required"),
        ("--max-new-tokens", "default: 200"),
        ("--top-k", "default: 20"),
        ("--temperature", "default: 0.8"),
    ):
        after = text.split(flag)[-1]
        assert default in after.split("--")[0], (flag, after[:120])
