"""Docs that cannot drift: every ```python block of README.md and docs/*.md runs.

A page's blocks run in order in one namespace, in a fresh folder that holds what
the page's examples name (`my_photos/`, a small generated image folder). A block
that cannot run here is preceded by `<!-- not run: REASON -->` and is checked to
give its reason.
"""

import contextlib
import glob
import io
import os
import re

import pytest

from tests.helpers import make_class_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md", *sorted(glob.glob("docs/*.md", root_dir=ROOT))]
BLOCK = re.compile(
    r"(<!-- not run: (?P<why>[^>]*?)-->\s*)?```python\n(?P<code>.*?)```", re.S
)


def python_blocks(page: str) -> list[tuple[str | None, str]]:
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        text = f.read()
    return [(m["why"], m["code"]) for m in BLOCK.finditer(text)]


def test_every_page_is_linked_from_the_readme():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    for page in PAGES[1:]:
        assert f"({page})" in readme, page
    assert len(readme.splitlines()) <= 250


@pytest.mark.large
@pytest.mark.parametrize("page", PAGES)
def test_the_python_blocks_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    assert blocks, f"{page} has no python block"
    monkeypatch.chdir(tmp_path)
    make_class_folder(tmp_path / "my_photos", {"cat": 12, "dog": 12, "owl": 12})
    namespace = {"__name__": "__docs__"}
    for number, (why, code) in enumerate(blocks, 1):
        if why is not None:
            assert why.strip(), f"{page}: block {number} is not run and says not why"
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(code, f"{page}, block {number}", "exec"), namespace)
            except Exception as e:
                raise AssertionError(f"{page}, block {number} failed: {e!r}") from e
