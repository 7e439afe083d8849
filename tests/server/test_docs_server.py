"""The Python examples of docs/server.md run (against a real ``tureen server``)."""

from __future__ import annotations

from _docs_runner import python_blocks, run_examples


def test_server_docs_examples_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert python_blocks("server.md")
    run_examples("server.md")
