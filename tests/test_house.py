"""The layers of the house: a lower room never imports a higher one.

`layers`, `losses`, `models`, `data` and `datasets` know nothing of training,
workflows or the command line; the engine in `training/` knows no workflow;
nothing but the command line imports it. Checked on the import statements of
every module, top level and inside functions.
"""

import ast
import glob
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "keras_bigmodels")

NEVER = {
    "layers": ("training", "workflows", "cli"),
    "losses": ("training", "workflows", "cli"),
    "models": ("training", "workflows", "cli"),
    "data": ("training", "workflows", "cli"),
    "datasets": ("training", "workflows", "cli"),
    "training": ("workflows", "cli"),
    "insight": ("workflows", "cli"),
    "workflows": ("cli",),
}


def imported_modules(path: str) -> set[str]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("room", sorted(NEVER))
def test_a_room_never_imports_a_higher_one(room):
    files = glob.glob(os.path.join(PACKAGE, room, "*.py"))
    assert files, room
    for path in files:
        for name in imported_modules(path):
            for higher in NEVER[room]:
                assert not name.startswith(f"keras_bigmodels.{higher}"), (
                    f"{os.path.relpath(path, PACKAGE)} imports {name}"
                )


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from keras_bigmodels.workflows import gpt\n")
    assert "keras_bigmodels.workflows" in imported_modules(str(path))
