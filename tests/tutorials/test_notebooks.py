"""The tutorials: twins in Chinese and English with the same code, the
conventions every notebook follows, public names only, and the glossary."""

import ast
import glob
import importlib
import os
import re

import pytest

from tests.notebooks import ROOT, code_cells, code_shape, notebooks, read, source

ZH, EN = notebooks("zh"), notebooks("en")
PAIRS = [
    (zh, os.path.join(ROOT, "en", os.path.relpath(zh, os.path.join(ROOT, "zh"))))
    for zh in ZH
]
ALL = ZH + EN
ids = os.path.basename
PUBLIC_MODULES = (
    "keras_bigmodels",
    "keras_bigmodels.data",
    "keras_bigmodels.datasets",
    "keras_bigmodels.deploy",
    "keras_bigmodels.insight",
    "keras_bigmodels.layers",
    "keras_bigmodels.losses",
    "keras_bigmodels.models",
    "keras_bigmodels.workflows",
)
# The article's own words where a reader would look for another term.
MISTRANSLATED = {"递归神经网络": "循环神经网络", "变压器": "Transformer"}


def test_every_notebook_has_a_twin_and_none_lies_outside_the_languages():
    assert len(ZH) >= 9
    assert sorted(map(ids, ZH)) == sorted(map(ids, EN))
    assert not glob.glob(os.path.join(ROOT, "*.ipynb"))
    numbers = [ids(p)[:2] for p in ZH]
    assert numbers == [f"{i:02d}" for i in range(1, len(ZH) + 1)]


@pytest.mark.parametrize("zh, en", PAIRS, ids=[ids(z) for z, _ in PAIRS])
def test_twins_share_cell_ids_and_code(zh, en):
    a, b = read(zh), read(en)
    assert [(c["cell_type"], c["id"]) for c in a["cells"]] == [
        (c["cell_type"], c["id"]) for c in b["cells"]
    ]
    for x, y in zip(code_cells(a), code_cells(b), strict=True):
        assert code_shape(source(x)) == code_shape(source(y)), (
            f"cell {x['id']} differs in code, not only in comments or strings:\n"
            f"{source(x)}\n---\n{source(y)}"
        )


def test_the_code_lock_sees_code_and_ignores_words():
    same = code_shape('x = f(1)  # 中文\nprint("训练")')
    assert same == code_shape('x = f(1)  # English\nprint("training")')
    assert same != code_shape('x = f(2)\nprint("training")')
    assert code_shape('print(f"{a:.2f} 损失")') == code_shape('print(f"{a:.2f} loss")')
    assert code_shape('print(f"{a:.2f}")') != code_shape('print(f"{b:.2f}")')
    assert code_shape('f"第 {n} 轮"') == code_shape('f"epoch {n}"')


@pytest.mark.parametrize("path", ALL, ids=lambda p: os.path.relpath(p, ROOT))
def test_conventions(path):
    nb = read(path)
    cells = nb["cells"]
    zh = os.sep + "zh" + os.sep in path
    title = source(cells[0]).splitlines()[0]
    number = ids(path)[:2]
    assert re.match(rf"# {number} · (§|挑战|challenge)", title), title
    assert re.search(r"[\u4e00-\u9fff]", title), "the article's Chinese title"
    assert " — " in title and re.search(r"[A-Za-z]{4}", title.split(" — ")[1])
    head = source(cells[0])
    assert "../glossary.md" in head
    twin = f"../{'en' if zh else 'zh'}/{ids(path)}"
    assert twin in head
    params = cells[1]
    assert params["cell_type"] == "code"
    assert "parameters" in params["metadata"].get("tags", [])
    assert "KBM_TUTORIAL_FAST" in source(params)
    assert sum("KBM_TUTORIAL_FAST" in source(c) for c in code_cells(nb)) == 1
    end = source(cells[-1])
    assert cells[-1]["cell_type"] == "markdown"
    if zh:
        assert "## 小结" in end and "## 练习" in end
    else:
        assert "## Summary" in end and "## Exercises" in end
    for c in cells:
        assert c.get("id")
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None, c["id"]
    code = "\n".join(source(c) for c in code_cells(nb))
    assert re.search(r"^\s*(assert |np\.testing\.assert)", code, re.M), (
        "checks, not prints"
    )


def _public_names(module):
    return set(getattr(importlib.import_module(module), "__all__", ()))


@pytest.mark.parametrize("path", ZH, ids=ids)
def test_public_names_only(path):
    tree = ast.parse("\n".join(source(c) for c in code_cells(read(path))))
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "keras_bigmodels"
        ):
            assert node.module in PUBLIC_MODULES, node.module
            for alias in node.names:
                assert alias.name in _public_names(node.module), (
                    node.module,
                    alias.name,
                )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("keras_bigmodels"):
                    assert alias.name in PUBLIC_MODULES, alias.name
                    aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        # kb.insight.grad_cam: each step a public name of the module before it.
        chain = []
        while isinstance(node, ast.Attribute):
            chain.insert(0, node.attr)
            node = node.value
        if not (isinstance(node, ast.Name) and node.id in aliases and chain):
            continue
        module = aliases[node.id]
        for name in chain:
            assert not name.startswith("_") and name in _public_names(module), (
                module,
                name,
            )
            if f"{module}.{name}" not in PUBLIC_MODULES:
                break
            module = f"{module}.{name}"


def _glossary_rows():
    with open(os.path.join(ROOT, "glossary.md"), encoding="utf-8") as f:
        lines = [line for line in f if line.startswith("|")]
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in lines[2:]
    ]


def test_the_glossary_names_each_term_and_its_notebook():
    rows = _glossary_rows()
    assert len(rows) >= 25
    names = {ids(p)[:2] for p in ZH}
    terms = {row[1] for row in rows}
    assert {"循环神经网络", "Transformer"} <= terms
    for english, chinese, _article, notebook in rows:
        assert english and chinese and notebook, (english, chinese)
        assert re.match(r"\[(\d\d)\]", notebook) and notebook[1:3] in names, notebook
    articles = " ".join(row[2] for row in rows)
    for wrong in MISTRANSLATED:
        assert wrong in articles  # the article's word is listed beside ours


def _outside_quotes(text):
    # The article quoted: a blockquote line, or between 「」 or “”.
    text = "\n".join(line for line in text.splitlines() if not line.startswith(">"))
    return re.sub(r"「[^」]*」|“[^”]*”", "", text)


@pytest.mark.parametrize("path", ZH, ids=ids)
def test_the_articles_mistranslations_appear_only_in_quotations(path):
    cells = read(path)["cells"]
    # The title line gives the article's own section title: a quotation.
    texts = ["\n".join(source(cells[0]).splitlines()[1:])]
    texts += [source(c) for c in cells[1:]]
    for text in texts:
        for wrong, right in MISTRANSLATED.items():
            assert wrong not in _outside_quotes(text), (
                f"{wrong} (use {right}) in: {text[:200]}"
            )
