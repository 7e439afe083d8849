"""Running the examples of a docs page: its ```python blocks in order in one namespace, and each
``$ tureen ...`` line of its ```console blocks as a real command, so that every example in docs/ is executed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

DOCS = Path(__file__).resolve().parents[1] / "docs"
_BLOCK = re.compile(r"^```(python|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: a python block starting with this comment shows code that needs what a test machine lacks
NOT_RUN = "# (not run"


def examples(page: str | Path) -> list[tuple[str, str]]:
    """``(kind, code)`` of the page's python and console blocks, in order (``page`` relative to docs/ or a
    path), less the python blocks marked :data:`NOT_RUN`."""
    found = _BLOCK.findall((DOCS / page).read_text())
    return [(kind, code) for kind, code in found if not (kind == "python" and code.lstrip().startswith(NOT_RUN))]


def python_blocks(page: str | Path) -> list[str]:
    return [code for kind, code in examples(page) if kind == "python"]


def run_cli_subprocess(args: list[str]) -> None:
    """``tureen ARGS`` in a fresh interpreter of this venv; it must exit 0."""
    res = subprocess.run([sys.executable, "-m", "tureen.cli", *args], capture_output=True, text=True,
                         env=os.environ.copy())
    assert res.returncode == 0, f"$ tureen {shlex.join(args)}\n{res.stderr}"


def run_examples(page: str | Path, *, cli: Callable[[list[str]], None] | None = run_cli_subprocess,
                 namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the page's examples in order and return the namespace the python blocks shared. Each ``$ tureen``
    line goes to ``cli`` (arguments after ``tureen``); ``cli=None`` runs the python blocks only. A failing
    python block is reported with the page, its number and its code."""
    name = Path(page).name
    namespace = {"__name__": "__docs__"} if namespace is None else namespace
    number = 0
    for kind, code in examples(page):
        if kind == "python":
            number += 1
            try:
                exec(compile(code, f"{name}[block {number}]", "exec"), namespace)  # noqa: S102 - our own docs
            except Exception as exc:
                raise AssertionError(f"{name}, python block {number} failed: {exc!r}\n{code}") from exc
            continue
        if cli is None:
            continue
        for line in code.splitlines():
            if line.startswith("$ "):
                args = shlex.split(line[2:])
                assert args[0] == "tureen", line
                cli(args[1:])
    return namespace
