"""The Python examples of the tracking, registry, URI and store docs run, in order, page by page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["tracking.md", "registry.md", "uris.md", "stores.md"]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: str) -> list[str]:
    blocks = _BLOCK.findall((DOCS / page).read_text())
    return [b for b in blocks if not b.lstrip().startswith("# (not run")]


@pytest.mark.parametrize("page", PAGES)
def test_docs_examples_run(page, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(page)
    assert blocks, f"{page} has no Python examples"
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"{page}[block {number}]", "exec"), namespace)  # noqa: S102 - our own docs
        except Exception as exc:
            raise AssertionError(f"{page}, Python block {number} failed: {exc!r}\n{code}") from exc
    import tureen

    if tureen.active_run() is not None:
        tureen.end_run()
