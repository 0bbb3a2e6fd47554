"""KerasHub presets from a folder: checks, bodies, pooling, generation."""

import json
import os
import shutil

import keras
import numpy as np
import pytest

from keras_bigmodels.models.hub import (
    CAUSAL,
    ENCODER,
    PresetError,
    TokenPooling,
    generate_from_preset,
    open_text_body,
    preset_kind,
)
from keras_bigmodels.models.transfer import unfreeze
from tests.helpers import make_bert_preset, make_gpt2_preset

pytest.importorskip("keras_hub")


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    root = tmp_path_factory.mktemp("presets")
    return {
        "bert": make_bert_preset(root / "bert"),
        "gpt2": make_gpt2_preset(root / "gpt2"),
        "root": root,
    }


def test_token_pooling_takes_the_first_or_the_last_real_token():
    h = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)
    last = np.asarray(TokenPooling("last")(h, mask))
    np.testing.assert_allclose(last, h[[0, 1, 2], [2, 4, 0]])
    np.testing.assert_allclose(np.asarray(TokenPooling("first")(h, mask)), h[:, 0])
    with pytest.raises(ValueError, match="position.*'middle'"):
        TokenPooling("middle")
    assert (
        TokenPooling.from_config(TokenPooling("last").get_config()).position == "last"
    )


def test_preset_kinds_and_one_line_errors(presets, tmp_path):
    assert preset_kind(presets["bert"]) == ENCODER
    assert preset_kind(presets["gpt2"]) == CAUSAL
    with pytest.raises(PresetError, match="no such folder"):
        preset_kind(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PresetError, match="not a KerasHub preset.*config.json"):
        preset_kind(tmp_path / "empty")
    broken = tmp_path / "no_tokenizer"
    shutil.copytree(presets["bert"], broken)
    shutil.rmtree(broken / "assets")
    with pytest.raises(PresetError, match="has no tokenizer.*assets/tokenizer"):
        preset_kind(broken)
    # An image model's preset (KerasHub's own, built from a config).
    import keras_hub

    keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64],
        stackwise_num_blocks=[1],
        stackwise_num_strides=[1],
        block_type="basic_block",
        image_shape=(16, 16, 3),
    ).save_to_preset(str(tmp_path / "resnet"))
    with pytest.raises(PresetError, match="holds a ResNetBackbone, not a language"):
        open_text_body(tmp_path / "resnet")
    with pytest.raises(PresetError, match="does not generate text.*causal-LM"):
        generate_from_preset(presets["bert"], "the cat")


def test_bodies_read_the_first_or_last_token_and_cap_the_length(presets, tmp_path):
    bert = open_text_body(presets["bert"])
    assert bert.sequence_length == 16  # the preset's preprocessor.json
    assert bert.special_tokens == 2  # [CLS] and [SEP]
    x = bert.encode(["the cat sat", "red"])
    assert x["token_ids"].shape == (2, 16)
    assert list(bert.lengths(["the cat dog", ""])) == [5, 2]
    gpt = open_text_body(presets["gpt2"], sequence_length=8)
    assert gpt.sequence_length == 8 and set(gpt.encode(["a"])) == {
        "token_ids",
        "padding_mask",
    }
    with pytest.raises(
        PresetError, match="over the BertBackbone's max_sequence_length of 32"
    ):
        open_text_body(presets["bert"], sequence_length=64)
    # Without preprocessor.json KerasHub would use 512 tokens, more than the
    # backbone takes; the backbone's own most is used instead.
    bare = tmp_path / "bare"
    shutil.copytree(presets["bert"], bare)
    os.remove(bare / "preprocessor.json")
    assert open_text_body(bare).sequence_length == 32
    model = open_text_body(bare).build_classifier(3)
    out = model(open_text_body(bare).encode(["the " * 100]))  # cut, not an error
    assert out.shape == (1, 3)


def test_classifier_on_a_causal_lm_reads_the_last_real_token(presets):
    body = open_text_body(presets["gpt2"], sequence_length=12)
    model = body.build_classifier(2, dropout=0.0)
    x = body.encode(["the cat", "the cat"])
    # Padding after the last real token changes nothing (causal attention).
    longer = {k: v.copy() for k, v in x.items()}
    hidden = keras.Model(model.inputs, model.get_layer("pool").output)
    np.testing.assert_allclose(hidden(x), hidden(longer), atol=1e-6)
    ids = np.asarray(x["token_ids"][0])
    count = int(np.sum(x["padding_mask"][0]))
    seq = body.backbone(
        {"token_ids": x["token_ids"], "padding_mask": x["padding_mask"]}
    )
    np.testing.assert_allclose(hidden(x)[0], np.asarray(seq)[0, count - 1], atol=1e-6)
    assert ids[count - 1] != 0 or count == 1


def test_lora_on_a_preset_body_round_trips(presets, tmp_path):
    body = open_text_body(presets["bert"])
    model = body.build_classifier(3)
    model.compile("adam", "sparse_categorical_crossentropy")
    unfreeze(model, lora_rank=2, learning_rate=1e-3)
    lora = [w.name for w in model.trainable_weights if "lora" in w.name]
    assert lora, "LoRA reached the attention and feed-forward layers"
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable < model.count_params() / 2
    x = body.encode(["the cat sat", "red blue", "one two"])
    model.fit(x, np.array([0, 1, 2]), epochs=2, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    from keras_bigmodels import load_model

    loaded = load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )


def test_generation_from_a_preset_is_seeded(presets):
    a = generate_from_preset(presets["gpt2"], "the cat", max_new_tokens=6, seed=3)
    b = generate_from_preset(presets["gpt2"], "the cat", max_new_tokens=6, seed=3)
    assert a == b and a.startswith("the cat") and len(a) > len("the cat")
    with pytest.raises(ValueError, match="The prompt takes .* tokens of the 128"):
        generate_from_preset(presets["gpt2"], "the cat " * 40)
    cut = generate_from_preset(
        presets["gpt2"], "the cat " * 40, max_new_tokens=4, too_long="truncate"
    )
    # The prompt's end was kept, its start dropped.
    assert "the cat the cat" in cut and ("the cat " * 40).strip() not in cut
    meta = json.load(open(os.path.join(presets["gpt2"], "metadata.json")))
    assert "CausalLM" in meta["tasks"]
