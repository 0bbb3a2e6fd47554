"""Bad input at the edges, through the command line.

Fonts, signals and start-up are process-wide: those tests start a new
process (and are `large`); the rest call the CLI in-process.

Each case gets one clear line in the user's terms, a non-zero exit where it
fails, and loses nothing.
"""

import glob
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import (
    assert_one_line_error,
    cli,
    cli_popen,
    cli_process,
    make_class_folder,
    pattern_image,
    python_process,
    run_dir_of,
    write_image,
)

CHINESE_CLASSES = {"猫": 8, "狗": 8}


def _run_dir_of(proc) -> str:
    return run_dir_of(proc)


def _cjk_font_file() -> str:
    """The Noto Sans CJK SC font that the dev extras install (mplfonts)."""
    spec = importlib.util.find_spec("mplfonts")
    assert spec is not None, "install the dev extras: pip install -e '.[dev]'"
    (root,) = spec.submodule_search_locations
    return os.path.join(root, "fonts", "NotoSansCJKsc-Regular.otf")


def _home_with_font(tmp_path) -> dict:
    """Environment of a user who put a CJK font in ~/.fonts."""
    home = tmp_path / "home"
    (home / ".fonts").mkdir(parents=True)
    os.symlink(_cjk_font_file(), home / ".fonts" / "NotoSansCJKsc-Regular.otf")
    return {"HOME": str(home), "MPLCONFIGDIR": str(tmp_path / "mpl")}


def _warnings_are_plain(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert "UserWarning" not in stderr and "warnings.warn" not in stderr
    assert ".py:" not in stderr  # no "file.py:123:" warning locations


@pytest.fixture(scope="module")
def chinese_run(tmp_path_factory):
    """A CNN trained on class folders named 猫 and 狗."""
    tmp = tmp_path_factory.mktemp("chinese")
    proc = _train_on_chinese_classes(tmp, run=cli)
    return proc, _run_dir_of(proc), tmp


def _train_on_chinese_classes(tmp, env=None, run=cli_process):
    # Which fonts matplotlib knows is process-wide: a font test starts its own.
    make_class_folder(tmp / "data", CHINESE_CLASSES, size=(24, 24))
    proc = run(
        *("train", "cnn", "--data", tmp / "data", "--epochs", 1, "--image-size", 24),
        *("--out", tmp / "runs"),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


# --- 8. Chinese labels in pictures ---------------------------------------------


@pytest.mark.large
def test_chinese_class_names_are_drawn_with_an_installed_cjk_font(tmp_path):
    proc = _train_on_chinese_classes(tmp_path, _home_with_font(tmp_path))
    run_dir = _run_dir_of(proc)
    assert "Glyph" not in proc.stderr and "font" not in proc.stderr, proc.stderr
    assert json.load(open(os.path.join(run_dir, "class_names.json"))) == ["狗", "猫"]
    assert os.path.getsize(os.path.join(run_dir, "confusion_matrix.png")) > 0


@pytest.mark.large
def test_class_folders_named_in_gbk_train_predict_and_show_their_names(tmp_path):
    # Folders named on a Chinese Windows and unpacked on Linux keep GBK bytes
    # for names, which are not UTF-8: Python lists them with surrogate escapes.
    data = os.fsencode(tmp_path / "data")
    gbk = {b"\xb9\xb7": "狗", b"\xcd\xc3": "兔"}
    for label, cls in enumerate(gbk):
        for i in range(8):
            path = os.path.join(data, cls, b"%d.png" % i)
            try:
                write_image(path, pattern_image(label, (24, 24), seed=i))
            except (OSError, UnicodeError):
                pytest.skip("this file system takes only UTF-8 names")
    proc = cli_process(
        *("train", "cnn", "--data", tmp_path / "data", "--epochs", 1),
        *("--image-size", 24, "--out", tmp_path / "runs"),
        env=_home_with_font(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Glyph" not in proc.stderr, proc.stderr  # drawn as 狗 and 兔
    run_dir = _run_dir_of(proc)
    listed = {os.fsdecode(cls) for cls in gbk}
    assert set(json.load(open(os.path.join(run_dir, "class_names.json")))) == listed
    photo = os.path.join(os.fsdecode(data), os.fsdecode(b"\xb9\xb7"), "0.png")
    proc = cli("predict", run_dir, photo, "--json")
    assert proc.returncode == 0, proc.stderr
    (record,) = json.loads(proc.stdout)
    assert record["path"] == photo
    assert {t["label"] for t in record["top_k"]} == listed
    proc = cli("predict", run_dir, photo)
    assert proc.returncode == 0, proc.stderr
    assert "狗 (" in proc.stdout and "兔 (" in proc.stdout, proc.stdout


@pytest.mark.large
def test_the_picture_shows_the_characters_not_boxes(tmp_path):
    # With the characters drawn, swapping the two labels changes the picture;
    # as empty boxes, both pictures would be the same.
    code = f"""
import numpy as np
from matplotlib import font_manager
font_manager.fontManager.addfont({_cjk_font_file()!r})
from keras_bigmodels.insight.plots import plot_confusion_matrix
import warnings
warnings.simplefilter("error")  # a missing glyph fails the test
m = np.eye(2, dtype=int)
plot_confusion_matrix(m, ["猫", "狗"], {str(tmp_path / "a.png")!r})
plot_confusion_matrix(m, ["狗", "猫"], {str(tmp_path / "b.png")!r})
plot_confusion_matrix(m, ["A", "B"], {str(tmp_path / "c.png")!r})
"""
    proc = python_process(
        code, env={"HOME": str(tmp_path), "MPLCONFIGDIR": str(tmp_path / "mpl")}
    )
    assert proc.returncode == 0, proc.stderr
    a, b, c = (open(tmp_path / f"{n}.png", "rb").read() for n in "abc")
    assert a != b and a != c


@pytest.mark.large
def test_without_a_cjk_font_one_plain_line_says_how_to_get_one(tmp_path):
    # As on a machine with no CJK font (this one has none) and without the
    # [zh] extra: an empty `mplfonts` package shadows the installed one.
    (tmp_path / "shadow" / "mplfonts").mkdir(parents=True)
    (tmp_path / "shadow" / "mplfonts" / "__init__.py").write_text("")
    env = {
        "HOME": str(tmp_path),
        "MPLCONFIGDIR": str(tmp_path / "mpl"),
        "PYTHONPATH": str(tmp_path / "shadow"),
    }
    proc = _train_on_chinese_classes(tmp_path, env)
    _warnings_are_plain(proc.stderr)
    font_lines = [line for line in proc.stderr.splitlines() if "font" in line]
    assert len(font_lines) == 1, proc.stderr
    assert "keras-bigmodels[zh]" in font_lines[0]
    assert "fonts-noto-cjk" in font_lines[0] and "~/.fonts" in font_lines[0]
    assert "Glyph" not in proc.stderr


# --- 4, 5, 10. evaluate and predict ---------------------------------------------


def test_predict_a_folder_recursively_with_one_json_record_per_file(chinese_run):
    _, run_dir, tmp = chinese_run
    photos = tmp / "photos"
    write_image(str(photos / "a.png"), pattern_image(0, (24, 24)))
    write_image(str(photos / "deeper" / "b.png"), pattern_image(1, (24, 24)))
    (photos / "notes.txt").write_text("not an image")
    proc = cli("predict", run_dir, photos, "--json")
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert sorted(os.path.relpath(r["path"], photos) for r in records) == [
        "a.png",
        os.path.join("deeper", "b.png"),
    ]
    for r in records:
        assert {t["label"] for t in r["top_k"]} == {"猫", "狗"}
        assert sum(t["probability"] for t in r["top_k"]) == pytest.approx(1, abs=1e-4)


def test_predict_with_bad_images_predicts_the_rest_and_exits_non_zero(chinese_run):
    _, run_dir, tmp = chinese_run
    good = write_image(str(tmp / "mixed" / "good.png"), pattern_image(0, (24, 24)))
    broken = tmp / "mixed" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    proc = cli("predict", run_dir, tmp / "mixed", tmp / "missing.png")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.startswith(f"{good}: ")  # the good one is still predicted
    _warnings_are_plain(proc.stderr)
    assert str(broken) in proc.stderr and "missing.png" in proc.stderr
    assert "predicted 1 of 3 input(s); 2 skipped" in proc.stderr.splitlines()[-1]
    records = json.loads(cli("predict", run_dir, tmp / "mixed", "--json").stdout)
    # In the order of the inputs: the folder's files sorted, broken.png first.
    assert [r["path"] for r in records] == [str(broken), good]
    assert [("error" in r) for r in records] == [True, False]


def test_evaluate_names_what_went_wrong(chinese_run, tmp_path):
    _, run_dir, _ = chinese_run
    # Good extensions, but every file is corrupt.
    for c in ("猫", "狗"):
        for i in range(2):
            (tmp_path / "corrupt" / c).mkdir(parents=True, exist_ok=True)
            (tmp_path / "corrupt" / c / f"{i}.png").write_bytes(b"junk" * 10)
    proc = cli("evaluate", run_dir, "--data", tmp_path / "corrupt")
    assert proc.returncode == 1
    _warnings_are_plain(proc.stderr)
    last = proc.stderr.strip().splitlines()[-1]
    assert "4 could not be read as images" in last and "must end in" not in last
    # Each bad file is reported once, not twice.
    assert proc.stderr.count(os.path.join("corrupt", "猫", "0.png")) == 1

    # Classes that are not the run's.
    make_class_folder(tmp_path / "other", {"cat": 2, "dog": 2}, size=(24, 24))
    line = assert_one_line_error(cli("evaluate", run_dir, "--data", tmp_path / "other"))
    assert "('cat', 'dog')" in line and "('狗', '猫')" in line
    assert "must end in" not in line
    line = assert_one_line_error(cli("evaluate", run_dir, "--data", "digits"))
    assert "('狗', '猫')" in line

    # A folder with one bad file among good ones: listed once, then counted.
    make_class_folder(tmp_path / "mostly", CHINESE_CLASSES, size=(24, 24))
    (tmp_path / "mostly" / "猫" / "bad.png").write_bytes(b"junk")
    proc = cli("evaluate", run_dir, "--data", tmp_path / "mostly")
    assert proc.returncode == 0, proc.stderr
    _warnings_are_plain(proc.stderr)
    assert (proc.stderr + proc.stdout).count("bad.png") == 1
    assert "(16 images)" in proc.stdout


def test_a_folder_without_image_files_gets_the_extension_hint(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.txt").write_text("hi")
    line = assert_one_line_error(cli("train", "cnn", "--data", tmp_path))
    assert "No image files found" in line and "'.png'" in line


# --- 3. errors in the user's terms -----------------------------------------------


def test_errors_name_flags_from_the_cli_and_arguments_from_python(
    chinese_run, tmp_path
):
    _, run_dir, tmp = chinese_run
    line = assert_one_line_error(cli("train", "cnn", "--epochs", 0))
    assert line.endswith("--epochs must be a positive integer. Received: --epochs 0")
    line = assert_one_line_error(
        cli("predict", run_dir, tmp / "photos" / "a.png", "--top-k", 0)
    )
    assert "--top-k must be a positive integer" in line and "top_k" not in line
    flat = tmp_path / "flat"
    write_image(str(flat / "3.0001.png"), pattern_image(0))
    line = assert_one_line_error(cli("train", "cnn", "--data", flat))
    assert "--labels inferred" in line and "--labels filename" in line
    assert "labels=" not in line and "`" not in line
    line = assert_one_line_error(cli("train", "cnn", "--image-size", 16))
    assert "--image-size must be at least 22" in line and "16x16" in line

    from keras_bigmodels.workflows.configs import ImageClassifierConfig

    with pytest.raises(ValueError, match=r"`epochs`.*Received: epochs=0"):
        ImageClassifierConfig(epochs=0).check()


# --- 2. non-finite numbers ------------------------------------------------------


@pytest.mark.parametrize(
    "args, flag",
    [
        (["train", "cnn", "--learning-rate", "nan"], "--learning-rate"),
        (["train", "gpt", "--dropout", "inf"], "--dropout"),
        (["train", "seq2seq", "--clip-norm=-inf"], "--clip-norm"),
        (["generate", "run", "--prompt", "a", "--temperature", "nan"], "--temperature"),
    ],
)
def test_non_finite_numbers_are_refused(args, flag):
    proc = cli(*args)
    line = assert_one_line_error(proc)
    assert proc.returncode == 2 and "finite" in line and flag in line


def test_non_finite_numbers_are_refused_from_python():
    from keras_bigmodels import build_cnn
    from keras_bigmodels.workflows.configs import GPTConfig

    with pytest.raises(ValueError, match="learning_rate"):
        GPTConfig(learning_rate=float("nan")).check()
    with pytest.raises(ValueError, match="clip_norm"):
        GPTConfig(clip_norm=float("inf")).check()
    with pytest.raises(ValueError, match="l2"):
        build_cnn(l2=float("nan"))


# --- 1, 6, 7. text: long lines, too little text, encodings ----------------------


def _pairs(path, n=120, long_line=None):
    lines = [f"{i}+{i % 7}\t{i + i % 7}" for i in range(n)]
    if long_line is not None:
        lines[long_line - 1] = "1+1\t" + "2" * 3000
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SMALL_SEQ2SEQ = ["--epochs", 1, "--embed-dim", 16, "--num-layers", 1, "--num-heads", 2]


@pytest.mark.large
def test_one_long_seq2seq_line_is_skipped_by_line_number(tmp_path):
    pairs = _pairs(tmp_path / "pairs.tsv", long_line=17)
    proc = cli(
        "train", "seq2seq", "--data", pairs, *SMALL_SEQ2SEQ, "--out", tmp_path / "r"
    )
    assert proc.returncode == 0, proc.stderr
    _warnings_are_plain(proc.stderr)
    (warning,) = [line for line in proc.stderr.splitlines() if "pairs.tsv:17" in line]
    assert "3000 characters" in warning and "--max-length 128" in warning
    manifest = json.load(open(os.path.join(_run_dir_of(proc), "manifest.json")))
    assert manifest["data"]["target_length"] <= 128 + 1
    assert (
        manifest["data"]["counts"]["train"]
        + manifest["data"]["counts"]["validation"]
        + manifest["data"]["counts"]["test"]
        == 119
    )


def test_a_long_line_can_be_refused_before_training(tmp_path):
    pairs = _pairs(tmp_path / "pairs.tsv", long_line=5)
    out = tmp_path / "r"
    line = assert_one_line_error(
        cli("train", "seq2seq", "--data", pairs, "--too-long", "error", "--out", out)
    )
    assert "pairs.tsv:5" in line and "--max-length" in line and "--too-long" in line
    assert glob.glob(str(out / "*")) == []  # no half-made run folder is left


@pytest.mark.large
def test_long_classifier_texts_are_cut_and_reported_or_refused(tmp_path):
    for c, word in (("pos", "good"), ("neg", "bad")):
        (tmp_path / "txt" / c).mkdir(parents=True)
        for i in range(6):
            (tmp_path / "txt" / c / f"{i}.txt").write_text(f"{word} film {i}")
    (tmp_path / "txt" / "pos" / "long.txt").write_text("good " * 2000)
    small = ["--epochs", 1, "--embed-dim", 8, "--num-layers", 1, "--units", 8]
    args = ["train", "rnn", "--data", tmp_path / "txt", *small]
    proc = cli(*args, "--out", tmp_path / "r")
    assert proc.returncode == 0, proc.stderr
    (warning,) = [line for line in proc.stderr.splitlines() if "long.txt" in line]
    assert "--max-length 48" in warning and "10000 tokens" in warning
    line = assert_one_line_error(cli(*args, "--too-long", "error"))
    assert "long.txt" in line and "--max-length" in line


def test_too_little_text_says_how_much_is_needed_and_which_flag(tmp_path):
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("abcdefghij")
    line = assert_one_line_error(cli("train", "gpt", "--data", tiny))
    assert "10 characters" in line and "--sequence-length 64" in line
    assert "training and held-out parts are short" in line
    line = assert_one_line_error(
        cli("train", "gpt", "--data", tiny, "--sequence-length", 4)
    )
    assert "the held-out part is short" in line and "--validation-fraction" in line
    assert "`" not in line


@pytest.mark.large
def test_gbk_text_is_read_as_gb18030_and_said_once(tmp_path):
    text = "床前明月光，疑是地上霜。举头望明月，低头思故乡。" * 40
    (tmp_path / "poem.txt").write_bytes(text.encode("gbk"))
    small = ["--epochs", 1, "--embed-dim", 16, "--num-layers", 1, "--num-heads", 2]
    args = ["train", "gpt", "--data", tmp_path / "poem.txt", *small]
    args += ["--sequence-length", 16, "--out", tmp_path / "r"]
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    _warnings_are_plain(proc.stderr)
    told = [line for line in proc.stderr.splitlines() if "GB18030" in line]
    assert len(told) == 1 and "--encoding" in told[0]
    tok = json.load(open(os.path.join(_run_dir_of(proc), "tokenizer.json")))
    assert "月" in tok["vocabulary"]  # decoded right, not as mojibake

    proc = cli(*args, "--encoding", "gbk")
    assert proc.returncode == 0 and "GB18030" not in proc.stderr, proc.stderr

    (tmp_path / "latin.txt").write_bytes(bytes(range(128, 256)) * 20)
    line = assert_one_line_error(cli("train", "gpt", "--data", tmp_path / "latin.txt"))
    assert "neither UTF-8 nor GB18030" in line and "--encoding" in line
    line = assert_one_line_error(cli(*args, "--encoding", "klingon"))
    assert "--encoding" in line and "klingon" in line


@pytest.mark.large
def test_gbk_text_folders_for_the_classifiers(tmp_path):
    for c, word in (("好", "喜欢"), ("坏", "讨厌")):
        (tmp_path / "txt" / c).mkdir(parents=True)
        for i in range(6):
            (tmp_path / "txt" / c / f"{i}.txt").write_bytes(
                f"我{word}它{i}".encode("gbk")
            )
    small = ["--epochs", 1, "--embed-dim", 8, "--num-layers", 1, "--units", 8]
    proc = cli("train", "rnn", "--data", tmp_path / "txt", *small, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sum("GB18030" in line for line in proc.stderr.splitlines()) == 1


# --- 9. Ctrl-C --------------------------------------------------------------------


def _stdout_after_ctrl_c(script_body: str, cwd) -> str:
    """Run `script_body` with the command's Ctrl-C handler; its stdout."""
    script = (
        "import os, signal, sys, time\n"
        "from keras_bigmodels.cli import __main__ as cli\n"
        "cli._on_interrupt(cli._interrupt_when_safe)\n" + script_body
    )
    proc = python_process(
        script, cwd=cwd, env={"PYTHONPATH": os.pathsep.join(sys.path)}, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.large
def test_ctrl_c_inside_an_import_waits_for_the_import_to_finish(tmp_path):
    # Python turns a KeyboardInterrupt raised inside an extension module's
    # import into an ImportError, which guards like TensorFlow's `try: import
    # ssl / except ImportError` swallow, and the command trained on. Once a
    # command runs, Ctrl-C inside an import is sent again after it.
    (tmp_path / "slow_module.py").write_text(
        "import os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "for _ in range(20):\n"
        "    time.sleep(0.01)\n"
        "DONE = True\n"
    )
    body = (
        "try:\n"
        "    import slow_module\n"
        "except ImportError:\n"
        "    sys.exit('swallowed')\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit('raised inside the import')\n"
        "try:\n"
        "    time.sleep(5)\n"
        "except KeyboardInterrupt:\n"
        "    print('after the import', slow_module.DONE)\n"
    )
    assert _stdout_after_ctrl_c(body, tmp_path) == "after the import True"


@pytest.mark.large
def test_ctrl_c_while_tensorflow_traces_waits_for_the_trace(tmp_path):
    # Raised inside tf.function tracing, a KeyboardInterrupt comes out as a
    # StagingError or SystemError with a traceback; the command raises it
    # once the trace is built.
    body = (
        "import tensorflow as tf\n"
        "@tf.function\n"
        "def traced(x):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    for _ in range(20):\n"
        "        time.sleep(0.01)\n"
        "    return x + 1\n"
        "try:\n"
        "    traced(tf.constant(1))\n"
        "    time.sleep(5)\n"
        "except KeyboardInterrupt:\n"
        "    print('after the trace', traced.experimental_get_tracing_count())\n"
    )
    assert _stdout_after_ctrl_c(body, tmp_path) == "after the trace 1"


@pytest.mark.large
@pytest.mark.parametrize("delay", [0.15, 0.5, 1.5])
def test_ctrl_c_during_start_up_is_one_line(tmp_path, delay):
    proc = cli_popen("train", "cnn", "--out", tmp_path, stderr=subprocess.PIPE)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) <= 1, err
    # Before training started nothing is kept: no empty run folder.
    assert not any(os.scandir(tmp_path)) or all(
        json.load(open(os.path.join(d, "manifest.json")))["status"] == "interrupted"
        for d in glob.glob(str(tmp_path / "*"))
    )
