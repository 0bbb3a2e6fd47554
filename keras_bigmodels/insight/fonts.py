"""Fonts for plot labels in any script: Chinese class names drawn, not boxes.

Matplotlib's default font (DejaVu Sans) has no Chinese, Japanese or Korean
characters; class folders named 猫 and 狗 would come out as empty boxes in
`confusion_matrix.png`. `text_fonts(texts)` finds an installed font that has
every character the labels need, preferring the common CJK families, and
gives matplotlib the font list `[default, that font]` so Latin text keeps its
usual look and the rest falls back to the CJK font. When no system font
has them, the CJK fonts that an installed Python package ships (`mplfonts`,
the `[zh]` extra: Noto Sans CJK SC) are registered with matplotlib's font
manager where they lie, with nothing copied into the user's home folder.
When none of these has them, it says once how to get one.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import matplotlib
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

# Tried first, in this order: the CJK families users have (Linux, Windows,
# macOS), then any other installed font that has the characters.
PREFERRED_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "Noto Serif CJK",
    "Source Han Serif",
    "AR PL UMing",
)

# Python packages that ship CJK fonts, and the folder inside them.
FONT_PACKAGES = (("mplfonts", "fonts"),)

HOW_TO_GET_ONE = (
    'install a CJK font: `pip install "keras-bigmodels[zh]"` (Noto Sans CJK '
    "SC, inside Python), or on Debian/Ubuntu `sudo apt install fonts-noto-cjk`, "
    "on Fedora `sudo dnf install google-noto-sans-cjk-fonts`, or copy a .ttf/"
    ".otf/.ttc font such as Noto Sans CJK SC into ~/.fonts (Windows and "
    "macOS have one already: Microsoft YaHei, PingFang SC)"
)

# Fonts that map every character to a placeholder box (matplotlib ships
# "Last Resort High-Efficiency" as its own last fallback).
_PLACEHOLDER_FONTS = ("Last Resort",)

_told: set[str] = set()


class MissingFontWarning(UserWarning):
    """No installed font has some characters of a plot's labels."""


@functools.cache
def _charmap(path: str) -> frozenset:
    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


def _rank(entry) -> tuple:
    for i, family in enumerate(PREFERRED_FAMILIES):
        if entry.name.startswith(family):
            return (0, i, entry.weight != 400, entry.name)
    return (1, 0, entry.weight != 400, entry.name)


def _font_entries():
    # Regular upright faces first; every face of a family has the same
    # characters, so one per family is enough.
    seen, out = set(), []
    for entry in sorted(font_manager.fontManager.ttflist, key=_rank):
        if (
            entry.style == "normal"
            and entry.name not in seen
            and not entry.name.startswith(_PLACEHOLDER_FONTS)
        ):
            seen.add(entry.name)
            out.append(entry)
    return out


def _add_fonts_installed_since_the_cache() -> None:
    # Matplotlib lists fonts once and caches the list; a font installed later
    # (say, after reading the hint below) is not in it until it is added.
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            with contextlib.suppress(Exception):  # an unreadable font file
                font_manager.fontManager.addfont(path)


def packaged_fonts() -> list[str]:
    """Font files that installed Python packages ship (`FONT_PACKAGES`)."""
    import importlib.util
    import os

    found = []
    for package, folder in FONT_PACKAGES:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        for root in getattr(spec, "submodule_search_locations", None) or []:
            where = os.path.join(root, folder)
            if os.path.isdir(where):
                found += [
                    os.path.join(where, name)
                    for name in sorted(os.listdir(where))
                    if name.lower().endswith((".otf", ".ttf", ".ttc"))
                ]
    return found


def _add_packaged_fonts() -> None:
    # Registered where they lie: nothing is copied to ~/.fonts or elsewhere.
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for path in packaged_fonts():
        if path not in known:
            with contextlib.suppress(Exception):
                font_manager.fontManager.addfont(path)


def default_font() -> str:
    """The file of matplotlib's default sans-serif font (DejaVu Sans)."""
    return font_manager.findfont(
        font_manager.FontProperties(family=matplotlib.rcParams["font.family"]),
        fallback_to_default=True,
    )


def font_with(chars: set[str]) -> str | None:
    """The name of a font family that has every one of `chars`: installed on
    the system, or shipped by a Python package (`packaged_fonts`)."""
    codes = {ord(c) for c in chars}
    # The system's fonts first, then fonts installed since matplotlib's
    # cache was made, then the fonts Python packages ship.
    for widen in (None, _add_fonts_installed_since_the_cache, _add_packaged_fonts):
        if widen is not None:
            widen()
        for entry in _font_entries():
            if codes <= _charmap(entry.fname):
                return entry.name
    return None


def missing_chars(texts) -> set[str]:
    """Characters of `texts` that the default font cannot draw."""
    have = _charmap(default_font())
    return {c for t in texts for c in str(t) if not c.isspace() and ord(c) not in have}


@contextlib.contextmanager
def text_fonts(texts):
    """Within this block, matplotlib draws every character of `texts`.

    Args:
        texts: iterable of str. The labels the figure will show.

    Example:

    >>> with text_fonts(["猫", "狗"]):  # doctest: +SKIP
    ...     fig, ax = plt.subplots(); ax.set_title("猫"); fig.savefig("a.png")
    """
    missing = missing_chars(texts)
    if not missing:
        yield None
        return
    family = font_with(missing)
    if family is None:
        shown = "".join(sorted(missing)[:10])
        if "none" not in _told:
            _told.add("none")
            warnings.warn(
                f"No installed font has the characters {shown!r} of the plot "
                f"labels, so the PNG plots show them as empty boxes. To fix it, "
                f"{HOW_TO_GET_ONE}, then run again.",
                MissingFontWarning,
                stacklevel=3,
            )
        # Said once above; matplotlib's own per-glyph warnings add nothing.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
            yield None
        return
    # Matplotlib falls back glyph by glyph only through explicit family names
    # (a generic "sans-serif" resolves to one font).
    default = font_manager.get_font(default_font()).family_name
    with matplotlib.rc_context({"font.family": [default, family]}):
        yield family


# Every character the tutorials' and the plots' Chinese labels commonly use
# is in any CJK font that has these: a font with them has the rest.
_CJK_PROBE = "中文训练损失准确率样本"


def use_fonts_for(texts=_CJK_PROBE) -> str | None:
    """From now on, matplotlib draws every character of `texts` (Chinese too).

    The lasting form of `text_fonts`, for notebooks: Jupyter draws a cell's
    figures after the cell has run, outside any `with` block, so the font list
    is set in `matplotlib.rcParams` for the rest of the session. Latin text
    keeps the default font; other characters fall back to an installed CJK
    font, or to the one the `[zh]` extra ships.

    Args:
        texts: iterable of str (or one str). The labels to be drawn; by
            default a probe of common Chinese characters.

    Returns:
        The family name of the fallback font, or None when the default font
        already has every character, or when no font has them (then a
        `MissingFontWarning` says once how to get one).

    Example:

    >>> use_fonts_for(["训练损失", "验证损失"])  # doctest: +SKIP
    'Noto Sans CJK SC'
    """
    if isinstance(texts, str):
        texts = [texts]
    with text_fonts(texts) as family:
        if family is not None:
            font_list = list(matplotlib.rcParams["font.family"])
    if family is not None:
        matplotlib.rcParams["font.family"] = font_list
    return family
