"""docs/security.md: every ```python block and `$ tureen` line runs, in order."""

from __future__ import annotations

from _docs_runner import examples, run_examples


def test_security_page_examples_run(tmp_path, monkeypatch):
    assert len(examples("security.md")) >= 4
    monkeypatch.chdir(tmp_path)
    run_examples("security.md")
