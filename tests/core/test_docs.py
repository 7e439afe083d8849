"""Every ```python block and every `$ tureen ...` line of the foundation's docs pages runs, in order."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["mlmodel-format.md", "signatures.md", "flavors/sklearn.md", "flavors/custom-python.md", "cli.md"]
BLOCK = re.compile(r"```(python|console)\n(.*?)```", re.S)


def blocks(page: str) -> list[tuple[str, str]]:
    return BLOCK.findall((DOCS / page).read_text())


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page, tmp_path, monkeypatch):
    found = blocks(page)
    assert found, f"{page} has no runnable examples"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for kind, code in found:
        if kind == "python":
            exec(compile(code, f"{page}", "exec"), namespace)  # noqa: S102 - our own docs
            continue
        for line in code.splitlines():
            if not line.startswith("$ "):
                continue
            args = shlex.split(line[2:])
            assert args[0] == "tureen"
            res = subprocess.run([sys.executable, "-m", "tureen.cli", *args[1:]], capture_output=True, text=True,
                                 env=os.environ.copy())
            assert res.returncode == 0, f"{line}\n{res.stderr}"
