"""The examples of docs/migrating-from-mlflow.md run, in order (the worked example of moving a project)."""

from __future__ import annotations

from _docs_runner import python_blocks, run_examples


def test_migrating_page_examples_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert len(python_blocks("migrating-from-mlflow.md")) >= 3
    run_examples("migrating-from-mlflow.md", cli=None)
