"""The Python examples of docs/autolog.md run, in order."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_autolog_page_examples_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    blocks = _BLOCK.findall((DOCS / "autolog.md").read_text())
    assert len(blocks) >= 3
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"autolog.md[block {number}]", "exec"), namespace)  # noqa: S102 - our own docs
        except Exception as exc:
            raise AssertionError(f"autolog.md, Python block {number} failed: {exc!r}\n{code}") from exc
