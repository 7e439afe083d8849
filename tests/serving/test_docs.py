"""Every ```python block of docs/serving.md runs, in order, in one namespace."""

from __future__ import annotations

from _docs_runner import DOCS, python_blocks, run_examples

PAGE = DOCS / "serving.md"


def test_serving_guide_examples_run(tmp_path, monkeypatch):
    assert len(python_blocks(PAGE)) >= 5
    monkeypatch.chdir(tmp_path)
    run_examples(PAGE, cli=None)  # its console lines start a server in the foreground


def test_every_setting_is_documented():
    from dataclasses import fields

    from tureen.serving.settings import ServingSettings

    text = PAGE.read_text()
    missing = [f.name for f in fields(ServingSettings) if f"TUREEN_SERVING_{f.name.upper()}" not in text]
    assert not missing, f"settings without a line in docs/serving.md: {missing}"
