"""Chinese in plots with no system CJK font: the font a Python package ships."""

import os

import pytest
from matplotlib import font_manager

from keras_bigmodels.insight import fonts


@pytest.fixture
def no_system_cjk_font(monkeypatch, tmp_path):
    """matplotlib as on a machine whose fonts have no Chinese, HOME empty."""
    latin = [
        e
        for e in font_manager.fontManager.ttflist
        if 0x732B not in fonts._charmap(e.fname)  # 猫
    ]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", latin)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_a_packaged_cjk_font_is_registered_where_it_lies(no_system_cjk_font):
    files = fonts.packaged_fonts()
    assert any(f.endswith("NotoSansCJKsc-Regular.otf") for f in files)
    with fonts.text_fonts(["猫", "狗"]) as family:
        assert family == "Noto Sans CJK SC"
        path = font_manager.findfont(family, fallback_to_default=False)
    assert path in files  # the package's own file, not a copy
    assert os.listdir(no_system_cjk_font) == []  # nothing written to HOME


def test_with_no_font_at_all_one_warning_says_how(no_system_cjk_font, monkeypatch):
    monkeypatch.setattr(fonts, "FONT_PACKAGES", ())
    fonts._told.clear()
    with pytest.warns(fonts.MissingFontWarning, match=r"keras-bigmodels\[zh\]"):
        with fonts.text_fonts(["猫"]) as family:
            assert family is None
