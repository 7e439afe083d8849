"""Every ```python block of the flavor pages in docs/flavors/ runs, in order, in one namespace per page."""

from __future__ import annotations

import pytest

from _docs_runner import python_blocks, run_examples

PAGES = [
    pytest.param("xgboost.md", id="xgboost"),
    pytest.param("lightgbm.md", id="lightgbm"),
    pytest.param("pytorch.md", id="pytorch", marks=pytest.mark.torch),
    pytest.param("tensorflow.md", id="tensorflow", marks=pytest.mark.tensorflow),
]


@pytest.mark.parametrize("page", PAGES)
def test_flavor_page_examples_run(page, tmp_path, monkeypatch, capsys):
    assert python_blocks(f"flavors/{page}"), f"{page} has no python example"
    monkeypatch.chdir(tmp_path)
    run_examples(f"flavors/{page}")
    assert capsys.readouterr().out.strip(), "the examples print what they show"
