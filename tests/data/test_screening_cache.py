"""Screening verdicts are remembered per folder and never trusted for a changed file."""

import json
import os

import pytest

from keras_bigmodels.data import image_folder, screening
from keras_bigmodels.data import screening_cache as sc
from tests.helpers import make_class_folder


def _age(folder, past=1_600_000_000):
    """Set every file's modification time to one moment in 2020."""
    for root, _, files in os.walk(folder):
        for f in files:
            os.utime(os.path.join(root, f), (past, past))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    where = tmp_path / "cache"
    monkeypatch.setenv("KERAS_BIGMODELS_CACHE", str(where))
    return where


@pytest.fixture
def counted(monkeypatch):
    """Count the files screening actually opens."""
    seen = []
    real = screening._screen  # what screen_file and screen_files both run

    def spy(path, verify="fast"):
        seen.append(path)
        return real(path, verify)

    monkeypatch.setattr(screening, "_screen", spy)
    return seen


def _folder(tmp_path):
    root = tmp_path / "photos"
    make_class_folder(root, {"cat": 4, "dog": 4})
    (root / "cat" / "broken.png").write_bytes(b"not a png at all")
    _age(root)
    return root


def _scan(root):
    import warnings

    from keras_bigmodels.data.image_index import scan_image_folder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scan_image_folder(root)


def test_second_scan_opens_no_file_and_gives_the_same_verdicts(
    tmp_path, cache, counted
):
    root = _folder(tmp_path)
    first = _scan(root)
    assert len(counted) == 9
    counted.clear()
    second = _scan(root)
    assert counted == []
    assert second.paths == first.paths and second.infos == first.infos
    assert [(b.path, b.reason) for b in second.bad_files] == [
        (b.path, b.reason) for b in first.bad_files
    ]
    assert len(first.bad_files) == 1 and "broken.png" in first.bad_files[0].path


def test_a_changed_file_is_screened_again(tmp_path, cache, counted):
    root = _folder(tmp_path)
    _scan(root)
    victim = sorted((root / "dog").iterdir())[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])  # truncated: now a bad file
    _age(root)
    counted.clear()
    index = _scan(root)
    assert counted == [str(victim)]
    assert str(victim) in [b.path for b in index.bad_files]
    assert str(victim) not in index.paths


def test_freshly_written_files_are_not_remembered(tmp_path, cache, counted):
    root = tmp_path / "photos"
    make_class_folder(root, {"cat": 3, "dog": 3})  # modified just now
    _scan(root)
    counted.clear()
    _scan(root)
    assert len(counted) == 6


def test_cache_off_and_unwritable_cache_change_nothing(tmp_path, monkeypatch):
    root = _folder(tmp_path)
    monkeypatch.setenv("KERAS_BIGMODELS_CACHE", "off")
    assert sc.cache_dir() is None
    ref = _scan(root)
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("KERAS_BIGMODELS_CACHE", str(blocker))
    got = _scan(root)
    assert got.paths == ref.paths and got.infos == ref.infos


def test_corrupt_cache_file_is_ignored(tmp_path, cache, counted):
    root = _folder(tmp_path)
    _scan(root)
    (cache_file,) = (cache / "screening").iterdir()
    json.loads(cache_file.read_text())  # written as JSON
    cache_file.write_text("{ not json")
    counted.clear()
    index = _scan(root)
    assert len(counted) == 9 and len(index.paths) == 8


def test_image_folder_batches_equal_with_remembered_screening(tmp_path, cache):
    root = _folder(tmp_path)

    def pixels():
        with pytest.warns(screening.BadFilesWarning):
            ds = image_folder(
                root,
                image_size=(16, 16),
                batch_size=None,
                shuffle=False,
                verbose=False,
                device_prefetch=False,
            )
        return [(x.numpy().tobytes(), int(y)) for x, y in ds]

    assert pixels() == pixels()
