"""The Python examples of docs/autolog.md run, in order."""

from __future__ import annotations

from _docs_runner import python_blocks, run_examples


def test_autolog_page_examples_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert len(python_blocks("autolog.md")) >= 3
    run_examples("autolog.md")
