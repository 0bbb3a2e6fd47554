"""Helpers the tests share: generated images, the CLI in-process, model checks.

Fixtures live in `conftest.py`; test modules import plain functions from here
and never from one another.
"""

import contextlib
import io
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
from PIL import Image

# --- generated images ---------------------------------------------------------


def pattern_image(label: int, size=(20, 24), seed=0) -> np.ndarray:
    """A uint8 RGB image whose mean colour depends on `label`, plus noise."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = np.zeros((h, w, 3), np.float64)
    base[..., label % 3] = 200.0
    base[: h // 2, :, (label + 1) % 3] = 120.0
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


def write_image(path, array, fmt=None, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    im = Image.fromarray(array)
    if mode:
        im = im.convert(mode)
    im.save(path, format=fmt)
    return str(path)


def make_class_folder(root, counts, ext=".png", size=(20, 24)):
    """root/<class>/<i>.<ext> for each class name -> count in `counts`."""
    paths = []
    for label, (name, n) in enumerate(counts.items()):
        for i in range(n):
            p = os.path.join(root, name, f"{i:03d}{ext}")
            paths.append(write_image(p, pattern_image(label, size, seed=i)))
    return paths


# --- training -------------------------------------------------------------------


class InterruptAt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt (a Ctrl-C) after the `at`-th training batch."""

    def __init__(self, at):
        super().__init__()
        self.count, self.at = 0, at

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
        if self.count == self.at:
            raise KeyboardInterrupt


# --- the command line ---------------------------------------------------------


def _env_without_log_level(extra=None) -> dict:
    # The CLI must hide TensorFlow's start-up noise by itself.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, **(extra or {})}


def cli(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    """Run `keras-bigmodels ARGS` in this process, as `main([...])`.

    Returns what a subprocess would: exit status, stdout and stderr text.
    `env` adds to the environment for the call and `cwd` sets the working
    folder; both are restored after. Python's warning filters and display
    are those of a fresh interpreter for the call, and restored after.
    TensorFlow is already started, so use `cli_process` for what only a new
    process shows (start-up noise, signals, a multi-worker cluster).
    """
    from keras_bigmodels.cli.__main__ import main

    _forget_what_was_said_once()
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update({k: str(v) for k, v in (env or {}).items()})
    try:
        if cwd is not None:
            os.chdir(cwd)
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            warnings.resetwarnings()
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            warnings.simplefilter("default")
            try:
                code = main(argv)
            except SystemExit as e:  # argparse: --help, usage errors
                code = (
                    e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                )
            except BaseException:  # as Python reports an uncaught error
                import traceback

                traceback.print_exc(file=sys.stderr)
                code = 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(
        ["keras-bigmodels", *argv], code or 0, out.getvalue(), err.getvalue()
    )


def _forget_what_was_said_once() -> None:
    # A new process starts without the notices said once per process.
    if "keras_bigmodels.data.text" in sys.modules:
        sys.modules["keras_bigmodels.data.text"]._told_fallback.clear()
    if "keras_bigmodels.insight.fonts" in sys.modules:
        sys.modules["keras_bigmodels.insight.fonts"]._told.clear()


def cli_process(*args, cwd=None, env=None, timeout=300) -> subprocess.CompletedProcess:
    """Run `python -m keras_bigmodels ARGS` in a new process; `env` adds to
    the environment. For what only a fresh process shows."""
    return subprocess.run(
        [sys.executable, "-m", "keras_bigmodels", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env_without_log_level(env),
        timeout=timeout,
    )


def cli_popen(*args, env=None, **kwargs) -> subprocess.Popen:
    """Start `python -m keras_bigmodels ARGS` (by default stdout and stderr
    merged, text), for a test that signals or stops it while it runs."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    return subprocess.Popen(
        [sys.executable, "-m", "keras_bigmodels", *map(str, args)],
        env=_env_without_log_level(env),
        **{**options, **kwargs},
    )


def python_process(code, *args, env=None, cwd=None, timeout=300):
    """Run `python -c CODE ARGS` in a new process and wait for it; `env` adds
    to the environment (TensorFlow's start-up log is quiet). For what only a
    fresh interpreter shows: registration on import, signal handlers, devices
    configured before TensorFlow starts.
    """
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        timeout=timeout,
    )


def assert_one_line_error(proc) -> str:
    """The one error line of a failed command (no traceback, nothing else)."""
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def run_dir_of(proc) -> str:
    """The run folder a `train` command printed last."""
    return proc.stdout.strip().splitlines()[-1].removeprefix("Run saved to ").strip()


# --- models and layers --------------------------------------------------------


def run_model_checks(model, x, y, tmp_path, loss="sparse_categorical_crossentropy"):
    """Symbolic call, config round trip, `.keras` round trip, one `fit` step.

    Returns the reloaded model.
    """
    # Symbolic call with a None batch dimension.
    sym = keras.Input(shape=model.input_shape[1:], batch_size=None)
    out = model(sym)
    assert out.shape[0] is None
    # get_config / from_config rebuilds the same architecture.
    clone = model.__class__.from_config(model.get_config())
    assert [type(layer) for layer in clone.layers] == [
        type(layer) for layer in model.layers
    ]
    assert clone.count_params() == model.count_params()
    # .keras round trip gives equal outputs.
    before = model.predict(x, verbose=0)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    from keras_bigmodels import load_model

    loaded = load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), before, rtol=1e-6, atol=1e-6
    )
    # One training step runs and moves the weights. Plain SGD: the step is
    # what is checked, and Keras's Adam takes seconds to trace on a large body.
    model.compile(optimizer="sgd", loss=loss)
    w0 = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=len(x), verbose=0)
    assert any(
        not np.allclose(a, b) for a, b in zip(w0, model.get_weights(), strict=True)
    )
    return loaded


def run_layer_checks(model, x, tmp_path):
    """For a small functional model wrapping one custom layer: config round trip,
    `.keras` round trip with equal outputs, and one fit step on a regression target.
    """
    rebuilt = model.__class__.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(
        rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    path = os.path.join(tmp_path, f"{model.name}.keras")
    model.save(path)
    from keras_bigmodels import load_model

    loaded = load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )
    if model.trainable_weights:
        model.compile(optimizer="sgd", loss="mse")
        y = np.zeros_like(model.predict(x, verbose=0))
        model.fit(x, y, epochs=1, batch_size=len(x), verbose=0)
    return loaded


# --- tiny KerasHub presets, built from a config -------------------------------

WORDS = {
    "animals": ["cat", "dog", "bird", "fish", "horse"],
    "colors": ["red", "blue", "green", "yellow", "white"],
    "numbers": ["one", "two", "three", "four", "five"],
}


# The size of every tiny preset's backbone.
TINY_BACKBONE = dict(num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32)


def make_text_folder(root, per_class=12, seed=0, long_every=None):
    """root/<class>/<i>.txt: sentences of each class's own words (3 classes);
    with `long_every`, every that many texts is 60 words long."""
    rng = np.random.default_rng(seed)
    for name, words in WORDS.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            n = 60 if long_every and i % long_every == 0 else int(rng.integers(3, 7))
            text = "the " + " ".join(rng.choice(words, n)) + " a"
            with open(os.path.join(root, name, f"{i:03d}.txt"), "w") as f:
                f.write(text)
    return str(root)


def make_bert_preset(path, max_sequence_length=32, sequence_length=16):
    """A tiny BERT backbone and its preprocessor, saved with save_to_preset;
    the WordPiece vocabulary is written here."""
    import keras_hub

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a"]
    vocab += [w for words in WORDS.values() for w in words]
    keras.utils.set_random_seed(0)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=True)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocab),
        max_sequence_length=max_sequence_length,
        **TINY_BACKBONE,
    )
    backbone.save_to_preset(str(path))
    keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length
    ).save_to_preset(str(path))
    return str(path)


def make_gpt2_preset(path, max_sequence_length=128, sequence_length=64):
    """A tiny GPT-2 causal LM (byte-level BPE vocabulary and merges written
    here), saved with save_to_preset."""
    import keras_hub
    from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode

    _, chars = bytes_to_unicode()
    vocab = {}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    merges = ["Ġ t", "h e", "Ġt he", "Ġ a"]
    for m in merges:
        vocab.setdefault(m.replace(" ", ""), len(vocab))
    vocab["<|endoftext|>"] = len(vocab)  # last, as in GPT-2's own vocabulary
    keras.utils.set_random_seed(0)
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=vocab, merges=merges)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(vocab),
        max_sequence_length=max_sequence_length,
        **TINY_BACKBONE,
    )
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(
        tokenizer, sequence_length=sequence_length
    )
    keras_hub.models.GPT2CausalLM(backbone, preprocessor).save_to_preset(str(path))
    return str(path)
