"""docs/projects.md: every python block and `$ tureen` line runs, from the repository root (the example
project is examples/projects/ridge)."""

from __future__ import annotations

from pathlib import Path

from _docs_runner import examples, run_examples

REPO = Path(__file__).resolve().parents[2]


def test_projects_page_examples_run(tracking, monkeypatch):
    assert len(examples("projects.md")) >= 4
    monkeypatch.chdir(REPO)
    namespace = run_examples("projects.md")
    assert namespace["submitted"].get_status() == "FINISHED"
