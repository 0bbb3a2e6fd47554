"""The tutorials: twins in Chinese and English with the same code, the
conventions every notebook follows, public names only, the glossary, and
the English given beside each Chinese term at its first use."""

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


def _glossary_terms():
    """(Chinese, English, notebook number) for each term of the glossary whose
    Chinese is not already English; a row of several terms gives one each."""
    terms = []
    for english, chinese, _article, notebook in _glossary_rows():
        if re.search(r"[A-Za-z]", chinese):
            continue  # Transformer, Grad-CAM: no translation to explain
        parts = chinese.split("、")
        english_parts = english.split(", ") if len(parts) > 1 else [english]
        for zh, en in zip(parts, english_parts, strict=True):
            terms.append((zh, en, notebook[1:3]))
    return terms


def _prose(cells) -> list[str]:
    """Each markdown cell's text with the title line and headings blanked
    (same length, so positions still point into the cell's source)."""
    texts = []
    for number, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        lines = source(cell).split("\n")
        texts.append(
            "\n".join(
                " " * len(line)
                if line.startswith("#") or (number == 0 and i == 0)
                else line
                for i, line in enumerate(lines)
            )
        )
    return texts


def first_use(text: str, term: str, longer: list[str]) -> int:
    """Where `term` first stands on its own in `text` (not inside one of the
    `longer` terms that contain it, as 卷积 inside 卷积核); -1 if nowhere."""
    covered = set()
    for word in longer:
        for m in re.finditer(re.escape(word), text):
            covered.update(range(m.start(), m.end()))
    for m in re.finditer(re.escape(term), text):
        if m.start() not in covered:
            return m.start()
    return -1


def gives_english(text: str, at: int, term: str, english: str) -> bool:
    """`term` at `at` is followed by its English in parentheses, 术语（English…）,
    or stands in a parenthesis that gives it: LSTM（长短期记忆网络，long
    short-term memory）."""
    forms = [re.sub(r"\s+", " ", re.sub(r"\([^)]*\)", "", english)).strip()]
    forms += re.findall(r"\(([^)]*)\)", english)
    after = text[at + len(term) : at + len(term) + 160]
    m = re.match(r"\s*[（(]([^）)]*)[）)]", after) or re.match(
        r"\s*[，,]([^）)（(]*)[）)]", after
    )
    return bool(m) and any(f.lower() in m.group(1).lower() for f in forms if f)


@pytest.mark.parametrize("path", ZH, ids=ids)
def test_chinese_prose_gives_the_english_at_a_terms_first_use(path):
    # In the notebook the glossary says introduces a term: 卷积神经网络
    # （convolutional neural network，CNN） the first time it is used.
    terms = _glossary_terms()
    number = ids(path)[:2]
    texts = _prose(read(path)["cells"])
    missing = []
    for zh, en, notebook in terms:
        if notebook != number:
            continue
        longer = [t for t, _, _ in terms if zh in t and t != zh]
        for text in texts:
            at = first_use(text, zh, longer)
            if at >= 0:
                if not gives_english(text, at, zh, en):
                    missing.append(f"{zh} ({en}): …{text[max(0, at - 10) : at + 30]}…")
                break
        else:
            missing.append(f"{zh} ({en}): never used in the notebook's prose")
    assert not missing, "\n".join(missing)


def test_the_first_use_check_sees_a_missing_translation():
    cnn = "convolutional neural network (CNN)"
    assert gives_english(
        "卷积神经网络（convolutional neural network，CNN）", 0, "卷积神经网络", cnn
    )
    assert gives_english("这叫 CNN（卷积神经网络，CNN）。", 7, "卷积神经网络", cnn)
    assert not gives_english("卷积神经网络（见 §2.2）很常用", 0, "卷积神经网络", cnn)
    assert not gives_english("卷积神经网络很常用（CNN）", 0, "卷积神经网络", cnn)
    assert first_use("卷积核和卷积", "卷积", ["卷积核"]) == 4
    assert first_use("卷积核", "卷积", ["卷积核"]) == -1
