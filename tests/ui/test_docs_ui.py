"""The examples of docs/ui.md run."""

from __future__ import annotations

from _docs_runner import examples, run_examples


def test_ui_page_examples_run(tmp_path, monkeypatch):
    assert examples("ui.md")
    monkeypatch.chdir(tmp_path)
    run_examples("ui.md")
