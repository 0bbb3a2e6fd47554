"""Reading the tutorials and running them cell by cell, each in its own kernel.

A notebook runs in a fresh Jupyter kernel (a process of its own, so global
TensorFlow state such as the dtype policy cannot leak into other tests),
with `KBM_TUTORIAL_FAST=1` unless reader mode is asked for, and with the
network blocked: a `sitecustomize` put first on the kernel's path refuses
every connection that does not go to the loopback address, and turns
matplotlib's missing-glyph warnings into errors.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import textwrap
import time

ROOT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tutorials"
)

_SITECUSTOMIZE = textwrap.dedent(
    """
    import socket
    import warnings

    _LOOPBACK = {"127.0.0.1", "::1", "localhost"}
    _connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
    _getaddrinfo = socket.getaddrinfo


    def _check(address):
        if isinstance(address, tuple) and str(address[0]) not in _LOOPBACK:
            raise OSError(f"network blocked in the tutorial tests: {address!r}")


    def connect(self, address):
        _check(address)
        return _connect(self, address)


    def connect_ex(self, address):
        _check(address)
        return _connect_ex(self, address)


    def getaddrinfo(host, *args, **kwargs):
        if host is not None and str(host) not in _LOOPBACK:
            raise socket.gaierror(f"network blocked in the tutorial tests: {host!r}")
        return _getaddrinfo(host, *args, **kwargs)


    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.getaddrinfo = getaddrinfo
    warnings.filterwarnings("error", message=r"Glyph \\d+ .*missing from")
    """
)
# What a plot that cannot draw its labels leaves in a cell's output.
GLYPH_MARKS = ("missing from font", "missing from current font", "MissingFontWarning")


def notebooks(language: str) -> list[str]:
    """The notebook files of one language, in reading order."""
    return sorted(
        glob.glob(os.path.join(ROOT, language, "**", "*.ipynb"), recursive=True)
    )


def read(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def source(cell: dict) -> str:
    return "".join(cell["source"])


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


class _Strip(ast.NodeTransformer):
    # Displayed strings and docstrings may be translated; code may not.
    def visit_JoinedStr(self, node):
        # f"第 {n} 轮" and f"epoch {n}": the same values, worded apart.
        node.values = [v for v in node.values if not isinstance(v, ast.Constant)]
        return self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            return ast.copy_location(ast.Constant(""), node)
        return node


def code_shape(text: str) -> str:
    """The syntax tree of `text` without comments and string literals."""
    return ast.dump(_Strip().visit(ast.parse(text)), annotate_fields=False)


def _output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        parts.append("\n".join(out.get("traceback", [])))
        parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def run(
    path: str,
    workdir: str,
    *,
    fast: bool = True,
    timeout: int = 900,
    keep: str | None = None,
) -> float:
    """Execute the notebook at `path` cell by cell in `workdir`; return seconds.

    `keep`, a file name, receives the executed notebook with its outputs.

    Raises:
        AssertionError: a cell failed or drew a label with a missing glyph;
            the message names the notebook, the cell's number and first line.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    blocker = os.path.join(workdir, ".network-blocked")
    os.makedirs(blocker, exist_ok=True)
    with open(os.path.join(blocker, "sitecustomize.py"), "w") as f:
        f.write(_SITECUSTOMIZE)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (blocker, env.get("PYTHONPATH")) if p
    )
    env.pop("MPLBACKEND", None)  # the kernel's inline backend draws each figure
    if fast:
        env["KBM_TUTORIAL_FAST"] = "1"
    else:
        env.pop("KBM_TUTORIAL_FAST", None)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": workdir}},
    )
    name = os.path.relpath(path, ROOT)
    started = time.perf_counter()
    with client.setup_kernel(env=env):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            first = (cell.source.strip().splitlines() or [""])[0]
            where = f"{name}, cell {index} (id {cell.get('id')}): {first}"
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as error:
                raise AssertionError(f"{where}\n{error}") from None
            text = _output_text(cell)
            if any(mark in text for mark in GLYPH_MARKS):
                raise AssertionError(
                    f"{where}\na label was drawn with missing glyphs:\n{text}"
                )
    seconds = time.perf_counter() - started
    if keep:
        nbformat.write(nb, keep)
    return seconds
