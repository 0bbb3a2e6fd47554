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
PAGES = ["README.md", *sorted(glob.glob("docs/*.md", root_dir=ROOT)), "README.zh-CN.md"]
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


def _bash_lines(page):
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        text = f.read()
    return text, re.findall(r"```bash\n(python3\.11 -m venv[^\n]*)\n```", text)


def test_both_readmes_give_the_same_two_commands_and_link_each_other_at_the_top():
    english, en_commands = _bash_lines("README.md")
    chinese, zh_commands = _bash_lines("README.zh-CN.md")
    assert len(en_commands) == 2 and en_commands == zh_commands
    assert "(README.zh-CN.md)" in "\n".join(english.splitlines()[:4])
    assert "(README.md)" in "\n".join(chinese.splitlines()[:4])
    for n in range(1, 10):
        assert re.search(rf"\(tutorials/zh/0{n}_\w+\.ipynb\)", chinese), n
        assert re.search(rf"\(tutorials/en/0{n}_\w+\.ipynb\)", english), n


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
