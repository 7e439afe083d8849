"""The executable examples of docs/server.md (the auth section's hooks example among them)."""

from __future__ import annotations

from _docs_runner import run_examples


def test_server_docs_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_examples("server.md", cli=None)
