"""Every example of docs/security.md runs (python blocks in order, ``$ tureen ...`` lines as commands)."""

from __future__ import annotations

from _docs_runner import examples, run_examples


def test_security_page_examples_run(tmp_path, monkeypatch):
    assert examples("security.md")
    monkeypatch.chdir(tmp_path)
    run_examples("security.md")
