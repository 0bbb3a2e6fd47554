import numpy as np
import pytest

from keras_bigmodels.data import Tokenizer, next_token_dataset, read_text_file


def test_char_tokenizer_handles_chinese_and_round_trips(tmp_path):
    text = "如何训练自己的AI模型？Train your own model."
    tok = Tokenizer.adapt(text, level="char")
    ids = tok.encode("训练模型")
    assert len(ids) == 4 and 0 not in ids and 1 not in ids
    assert tok.decode(ids) == "训练模型"
    assert tok.encode("训练X")[-1] == 1  # unseen character -> [UNK]
    tok.save(tmp_path / "tok.json")
    again = Tokenizer.load(tmp_path / "tok.json")
    assert again.vocabulary == tok.vocabulary
    np.testing.assert_array_equal(again.encode("训练模型"), ids)


def test_word_tokenizer_padding_and_mask():
    tok = Tokenizer.adapt(["the cat sat", "the dog ran far away"], level="word")
    batch = tok.encode_batch(["the cat", "the dog ran far away now"], length=4)
    assert batch.shape == (2, 4)
    assert batch[0, 2:].tolist() == [0, 0]  # right-padded with 0 = the mask
    assert (batch[1] != 0).all()  # cut to the length
    assert tok.decode(batch[0]) == "the cat"


def test_tokenizer_vocabulary_checked():
    with pytest.raises(ValueError, match="vocabulary"):
        Tokenizer(["a", "b"])
    with pytest.raises(ValueError, match="level"):
        Tokenizer.adapt("abc", level="byte")


def test_next_token_dataset_shifts_by_one_and_holds_out_the_end():
    text = "abcdefghij" * 30
    train, val, tok = next_token_dataset(
        text, sequence_length=8, batch_size=4, validation_fraction=0.2
    )
    x, y = next(iter(train))
    assert x.shape == (4, 8) and y.shape == (4, 8)
    np.testing.assert_array_equal(np.asarray(x)[:, 1:], np.asarray(y)[:, :-1])
    vx, _ = next(iter(val))
    assert tok.decode(np.asarray(vx)[0]) == text[240:248]


def test_read_text_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_text_file(tmp_path / "none.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ValueError, match="UTF-8"):
        read_text_file(tmp_path / "bin.txt")
    (tmp_path / "ok.txt").write_text("你好\n", encoding="utf-8")
    assert read_text_file(tmp_path / "ok.txt") == "你好\n"
