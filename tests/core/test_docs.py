"""Every ```python block and every `$ tureen ...` line of the foundation's docs pages runs, in order."""

from __future__ import annotations

import pytest

from _docs_runner import examples, run_examples

# the flavor pages (docs/flavors/*.md) are discovered and run by tests/flavors/test_docs_flavors.py
PAGES = ["mlmodel-format.md", "signatures.md", "cli.md"]


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page, tmp_path, monkeypatch):
    assert examples(page), f"{page} has no runnable examples"
    monkeypatch.chdir(tmp_path)
    run_examples(page)
