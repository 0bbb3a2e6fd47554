"""A Gradio page to try a run's model in a browser: `keras-bigmodels demo RUN`.

One page per kind of run, labelled in Chinese and English: an image
classifier (an image in; the top classes and the Grad-CAM overlay out), a
text classifier (text in; the label, and for a Transformer its attention
map), a GPT (a prompt in; the continuation, with temperature and top-k), a
GAN (a seed and a class in; a grid of samples) and an autoencoder (an image
in; its reconstruction and anomaly score). The page is served on the
loopback address unless asked otherwise, fetches nothing from the internet,
and opens models with Keras's safe mode on, as every other command does.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from keras_bigmodels.training import runs

DEFAULT_HOST = "127.0.0.1"
KINDS = {
    "image_classification": "image classifier 图像分类",
    "sequence_classification": "text classifier 文本分类",
    "language_model": "GPT 语言模型",
    "gan": "GAN 生成对抗网络",
    "autoencoder": "autoencoder 自编码器",
}


def _gradio():
    # No usage report leaves the machine, and the page's theme uses the
    # system's fonts instead of downloading web fonts.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio as gr
    except ImportError:
        raise ImportError(
            'the demo page needs Gradio: pip install -e ".[demo]"'
        ) from None
    return gr


def build_demo(run_dir, *, safe_mode: bool = True):
    """A Gradio app (`gradio.Blocks`) for the model of a run folder.

    Args:
        run_dir: str. A finished run of `train cnn`, `classifier`,
            `transformer`, `rnn`, `gpt`, `gan` or `autoencoder`.
        safe_mode: bool. Keras's safe mode when loading the model (a file
            with a `Lambda` layer is refused unless False).

    Returns:
        The app; `launch_demo` serves it.

    Raises:
        ValueError: a run of a kind the page cannot show, or an unsafe model
            file.

    Example:

    >>> app = build_demo("runs/cnn-20261207-101500")  # doctest: +SKIP
    >>> app.launch(server_name="127.0.0.1")  # doctest: +SKIP
    """
    from keras_bigmodels.saving import load_model

    run_dir = runs.check_run_dir(run_dir, (runs.MODEL_FILE, runs.MANIFEST_FILE))
    manifest = runs.read_json(os.path.join(run_dir, runs.MANIFEST_FILE))
    task = manifest.get("task")
    if task not in KINDS:
        raise ValueError(
            f"{run_dir!r} is a run of task {task!r}; the demo page shows runs "
            f"of {', '.join(k.split(' ')[0] for k in KINDS.values())}"
        )
    # Opened now: an unsafe or broken file is refused before the page starts.
    model = load_model(run_dir, safe_mode=safe_mode)
    gr = _gradio()
    title = f"keras-bigmodels · {KINDS[task]} · {os.path.basename(run_dir)}"
    page = _PAGES[task]
    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(f"# {title}")
        page(gr, run_dir, manifest, model, safe_mode)
    return app


def launch_demo(
    run_dir,
    *,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    safe_mode: bool = True,
    block: bool = True,
):
    """Serve `build_demo(run_dir)` at `http://host:port/`; returns the app.

    `block=False` returns once the server is up (for tests and notebooks);
    `app.close()` stops it.
    """
    app = build_demo(run_dir, safe_mode=safe_mode)
    app.queue(default_concurrency_limit=1)
    gr = _gradio()
    app.launch(
        # The system's fonts: the default theme would fetch web fonts.
        theme=gr.themes.Default(font=["system-ui", "sans-serif"]),
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        show_error=True,
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return app


def _image_classifier_page(gr, run_dir, manifest, model, safe_mode):
    from keras_bigmodels.workflows.image_runs import explain_images, predict_images

    classes = runs.read_json(os.path.join(run_dir, runs.CLASS_NAMES_FILE))
    work = tempfile.mkdtemp(prefix="kbm-demo-")

    def classify(path):
        if path is None:
            return None, None
        predictions, bad = predict_images(
            run_dir, [path], top_k=min(5, len(classes)), safe_mode=safe_mode
        )
        if bad:
            raise gr.Error(f"{bad[0].reason}")
        top = {t["label"]: t["probability"] for t in predictions[0]["top_k"]}
        written, _ = explain_images(run_dir, [path], work, safe_mode=safe_mode)
        return top, written[0]["overlay"] if written else None

    with gr.Row():
        image = gr.Image(type="filepath", label="图片 Image (upload or drop)")
        with gr.Column():
            label = gr.Label(label="预测 Prediction (top classes)", elem_id="top")
            overlay = gr.Image(label="Grad-CAM 热力图 Grad-CAM overlay")
    button = gr.Button("识别 Classify", variant="primary")
    button.click(classify, image, [label, overlay], api_name="classify")
    image.upload(classify, image, [label, overlay])


def _text_classifier_page(gr, run_dir, manifest, model, safe_mode):
    from keras_bigmodels.data.text import Tokenizer
    from keras_bigmodels.workflows._common import TOKENIZER_FILE
    from keras_bigmodels.workflows.text_classifier import explain_texts

    classes = runs.read_json(os.path.join(run_dir, runs.CLASS_NAMES_FILE))
    attention = manifest.get("architecture") == "transformer"
    tok_path = os.path.join(run_dir, TOKENIZER_FILE)
    tok = Tokenizer.load(tok_path) if os.path.isfile(tok_path) else None
    max_length = int(manifest["config"]["max_length"])
    work = tempfile.mkdtemp(prefix="kbm-demo-")

    def ids_of(text):
        if tok is not None:
            return tok.encode_batch([text], max_length)
        # The bundled order task has no tokenizer: its inputs are token ids.
        try:
            found = [int(t) for t in text.split()][:max_length]
        except ValueError:
            raise gr.Error("请输入用空格分隔的词元编号 Enter token ids") from None
        ids = np.zeros((1, max_length), "int32")
        ids[0, : len(found)] = found
        return ids

    def classify(text):
        if not text or not text.strip():
            raise gr.Error("请输入文本 Enter some text")
        probs = np.asarray(model.predict_on_batch(ids_of(text)))[0]
        picture = None
        if attention:
            found = explain_texts(run_dir, [text], work, safe_mode=safe_mode)
            picture = found[0]["attention"]
        return {c: float(p) for c, p in zip(classes, probs, strict=True)}, picture

    hint = (
        "文本 Text"
        if tok is not None
        else "词元编号，用空格分隔 Token ids separated by spaces"
    )
    text = gr.Textbox(label=hint, lines=3)
    label = gr.Label(label="类别 Label", elem_id="top")
    picture = gr.Image(label="注意力 Attention map", visible=attention)
    gr.Button("分类 Classify", variant="primary").click(
        classify, text, [label, picture], api_name="classify"
    )


def _gpt_page(gr, run_dir, manifest, model, safe_mode):
    from keras_bigmodels.data.text import Tokenizer
    from keras_bigmodels.models.gpt import generate
    from keras_bigmodels.workflows._common import TOKENIZER_FILE

    tok = Tokenizer.load(os.path.join(run_dir, TOKENIZER_FILE))

    def complete(prompt, max_new_tokens, temperature, top_k, seed):
        if not prompt:
            raise gr.Error("请输入开头 Enter a prompt")
        return generate(
            model,
            prompt,
            max_new_tokens=int(max_new_tokens),
            temperature=float(temperature),
            top_k=int(top_k) or None,
            seed=None if seed is None else int(seed),
            tokenizer=tok,
        )

    prompt = gr.Textbox(label="开头 Prompt", lines=3)
    with gr.Row():
        length = gr.Slider(1, 500, value=200, step=1, label="新词元数 New tokens")
        temperature = gr.Slider(0, 2, value=0.8, step=0.05, label="温度 Temperature")
        top_k = gr.Slider(0, 100, value=20, step=1, label="top-k (0 = 全部 all)")
        seed = gr.Number(value=0, precision=0, label="随机种子 Seed")
    output = gr.Textbox(label="续写 Continuation", lines=8, elem_id="continuation")
    gr.Button("生成 Generate", variant="primary").click(
        complete,
        [prompt, length, temperature, top_k, seed],
        output,
        api_name="generate",
    )


def _gan_page(gr, run_dir, manifest, model, safe_mode):
    from keras_bigmodels.insight.plots import save_image_grid

    classes = runs.read_json(os.path.join(run_dir, runs.CLASS_NAMES_FILE))
    conditional = model.num_classes is not None
    work = tempfile.mkdtemp(prefix="kbm-demo-")

    def draw(seed, name):
        labels = classes.index(name) if conditional else None
        images = model.generate(16, seed=int(seed), labels=labels)
        path = os.path.join(work, f"samples-{int(seed)}-{labels}.png")
        return save_image_grid(images, path, (-1, 1), ncols=4)

    with gr.Row():
        seed = gr.Number(value=0, precision=0, label="随机种子 Seed")
        name = gr.Dropdown(
            classes, value=classes[0], label="类别 Class", visible=conditional
        )
    grid = gr.Image(label="生成的样本 Samples")
    gr.Button("生成 Generate", variant="primary").click(
        draw, [seed, name], grid, api_name="sample"
    )


def _autoencoder_page(gr, run_dir, manifest, model, safe_mode):
    from keras_bigmodels.data.images import load_image
    from keras_bigmodels.insight.plots import save_image_grid
    from keras_bigmodels.models.autoencoder import reconstruction_error

    height, width, channels = manifest["data"]["image_shape"]
    color_mode = "grayscale" if channels == 1 else "rgb"
    work = tempfile.mkdtemp(prefix="kbm-demo-")

    def reconstruct(path):
        if path is None:
            return None, None
        x = load_image(path, image_size=(height, width), color_mode=color_mode)
        x = x[None].astype("float32") / 255.0
        error = float(reconstruction_error(model, x)[0])
        pair = np.concatenate([x, model.predict_on_batch(x)])
        out = os.path.join(work, f"{os.path.basename(path)}-reconstruction.png")
        return save_image_grid(pair, out, (0, 1), ncols=2), error

    image = gr.Image(type="filepath", label="图片 Image")
    pair = gr.Image(label="原图与重建 Input and reconstruction")
    score = gr.Number(label="异常分数（重建误差） Anomaly score (reconstruction error)")
    gr.Button("重建 Reconstruct", variant="primary").click(
        reconstruct, image, [pair, score], api_name="reconstruct"
    )


_PAGES = {
    "image_classification": _image_classifier_page,
    "sequence_classification": _text_classifier_page,
    "language_model": _gpt_page,
    "gan": _gan_page,
    "autoencoder": _autoencoder_page,
}
