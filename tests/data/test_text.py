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


def test_windows_cut_per_batch_equal_the_materialized_windows():
    from keras_bigmodels.data.batches import EpochBatches, window_count
    from keras_bigmodels.data.text import next_token_windows

    ids = np.arange(3, 103, dtype="int32")  # 100 distinct token ids
    x, y = next_token_windows(ids, 16, 2)
    batches = EpochBatches.windows(ids, length=16, stride=2, batch_size=7, seed=3)
    assert batches.n == len(x) == window_count(len(ids), 16, 2)
    order = batches.order(epoch=1)
    pairs = [(np.asarray(a), np.asarray(b)) for a, b in batches.dataset(1)]
    np.testing.assert_array_equal(np.concatenate([a for a, _ in pairs]), x[order])
    np.testing.assert_array_equal(np.concatenate([b for _, b in pairs]), y[order])
    with pytest.raises(ValueError, match="too few"):
        EpochBatches.windows(ids[:10], length=16, stride=2, batch_size=4)


def test_encode_batch_and_lengths_follow_the_tokens_not_the_longest_text():
    tok = Tokenizer.adapt(["ab", "abc" * 1000], level="char")
    _, lengths = tok.encode_batch(["ab", "abc" * 1000, ""], 1, return_lengths=True)
    np.testing.assert_array_equal(lengths, [2, 3000, 0])
    batch = tok.encode_batch(["ab", "abc" * 1000], length=4)
    assert batch.shape == (2, 4) and batch.dtype == np.int32
    np.testing.assert_array_equal(batch[0, :2], tok.encode("ab"))
    np.testing.assert_array_equal(batch[0, 2:], [0, 0])
    np.testing.assert_array_equal(batch[1], tok.encode("abca"))


def test_read_text_file_encodings(tmp_path):
    import warnings

    from keras_bigmodels.data import text as text_module

    (tmp_path / "u.txt").write_bytes("\ufeff你好".encode())
    assert read_text_file(tmp_path / "u.txt") == "你好"  # BOM dropped
    (tmp_path / "g.txt").write_bytes("你好，世界".encode("gbk"))
    text_module._told_fallback.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_text_file(tmp_path / "g.txt") == "你好，世界"
        assert read_text_file(tmp_path / "g.txt") == "你好，世界"
    assert sum("GB18030" in str(w.message) for w in caught) == 1  # said once
    assert read_text_file(tmp_path / "g.txt", encoding="gbk") == "你好，世界"
    with pytest.raises(ValueError, match=r"not utf-8 text.*`encoding`"):
        read_text_file(tmp_path / "g.txt", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes(bytes(range(128, 256)))
    with pytest.raises(ValueError, match=r"neither UTF-8 nor GB18030.*`encoding`"):
        read_text_file(tmp_path / "b.txt")
    with pytest.raises(ValueError, match="Received: encoding='nope'"):
        read_text_file(tmp_path / "g.txt", encoding="nope")
