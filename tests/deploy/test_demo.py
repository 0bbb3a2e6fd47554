"""The demo page: every run kind through gradio_client, the image classifier
in a real browser (Debian's Chromium driven by Playwright). Nothing leaves
the loopback address."""

import json
import os

import numpy as np
import pytest

from keras_bigmodels.deploy.demo import build_demo, launch_demo

pytestmark = pytest.mark.large
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def serve():
    apps = []

    def start(run_dir):
        app = launch_demo(run_dir, host="127.0.0.1", port=None, block=False)
        apps.append(app)
        assert app.local_url.startswith("http://127.0.0.1:")
        return app.local_url

    yield start
    for app in apps:
        app.close()


def client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def test_text_classifier_page_gives_the_models_label(trained_runs, serve):
    import keras_bigmodels as kb

    run_dir = trained_runs("transformer")
    label, attention = client(serve(run_dir)).predict("3 1 4 1 5", api_name="/classify")
    model = kb.load_model(run_dir)
    ids = np.zeros((1, 48), "int32")
    ids[0, :5] = [3, 1, 4, 1, 5]
    probs = model.predict(ids, verbose=0)[0]
    with open(os.path.join(run_dir, "class_names.json"), encoding="utf-8") as f:
        classes = json.load(f)
    assert label["label"] == classes[int(np.argmax(probs))]
    assert os.path.isfile(attention)


def test_gpt_page_continues_the_prompt(trained_runs, serve):
    text = client(serve(trained_runs("gpt"))).predict(
        "The ", 12, 0.0, 0, 0, api_name="/generate"
    )
    assert text.startswith("The ") and len(text) > len("The ")


def test_gan_page_draws_a_grid(trained_runs, serve):
    from PIL import Image

    grid = client(serve(trained_runs("gan"))).predict(1, "3", api_name="/sample")
    assert Image.open(grid).size[0] >= 4 * 8


def test_autoencoder_page_scores_an_image(trained_runs, serve, tmp_path):
    from gradio_client import handle_file
    from PIL import Image

    path = tmp_path / "digit.png"
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(path)
    pair, score = client(serve(trained_runs("autoencoder"))).predict(
        handle_file(str(path)), api_name="/reconstruct"
    )
    assert os.path.isfile(pair) and score > 0


def test_an_unsafe_model_file_is_refused(tmp_path):
    import keras

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    model.save(tmp_path / "model.keras")
    (tmp_path / "manifest.json").write_text(
        json.dumps({"task": "tabular_classification"})
    )
    with pytest.raises(ValueError):
        build_demo(str(tmp_path))
    (tmp_path / "manifest.json").write_text(json.dumps({"task": "autoencoder"}))
    with pytest.raises(ValueError, match="(?i)lambda|unsafe|safe_mode"):
        build_demo(str(tmp_path))


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Chromium at /usr/bin")
def test_a_browser_upload_shows_predicts_label(trained_runs, serve, tmp_path):
    from playwright.sync_api import sync_playwright

    from keras_bigmodels.datasets import export_digits
    from keras_bigmodels.workflows import predict_images

    run_dir = trained_runs("cnn")
    export_digits(tmp_path / "digits", image_size=24)
    image = str(
        tmp_path
        / "digits"
        / "test"
        / "7"
        / sorted(os.listdir(tmp_path / "digits" / "test" / "7"))[0]
    )
    expected = predict_images(run_dir, [image], top_k=1)[0][0]["top_k"][0]["label"]
    url = serve(run_dir)
    outside = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()

        def keep_on_loopback(route):
            # Any request that would leave the machine is refused and noted.
            host = route.request.url.split("/")[2].split(":")[0]
            if host in ("127.0.0.1", "localhost") or route.request.url.startswith(
                ("data:", "blob:")
            ):
                return route.continue_()
            outside.append(route.request.url)
            return route.abort()

        page.route("**/*", keep_on_loopback)
        page.goto(url)
        page.locator("input[type=file]").first.set_input_files(image)
        top = page.locator("#top")
        top.get_by_text(expected, exact=True).first.wait_for(timeout=60_000)
        shown = top.locator("h2, .output-class").first.inner_text(timeout=60_000)
        page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
        browser.close()
    assert shown.strip() == expected
    assert os.path.getsize(tmp_path / "demo.png") > 0
