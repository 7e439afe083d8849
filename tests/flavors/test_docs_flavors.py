"""Every ```python block of the flavor pages in docs/flavors/ runs, in order, in one namespace per page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "flavors"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)

PAGES = [
    pytest.param("xgboost.md", id="xgboost"),
    pytest.param("lightgbm.md", id="lightgbm"),
    pytest.param("pytorch.md", id="pytorch", marks=pytest.mark.torch),
    pytest.param("tensorflow.md", id="tensorflow", marks=pytest.mark.tensorflow),
]


@pytest.mark.parametrize("page", PAGES)
def test_flavor_page_examples_run(page, tmp_path, monkeypatch, capsys):
    path = DOCS / page
    blocks = BLOCK.findall(path.read_text())
    assert blocks, f"{page} has no python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for code in blocks:
        exec(compile(code, str(path), "exec"), namespace)  # noqa: S102 - our own docs
    assert capsys.readouterr().out.strip(), "the examples print what they show"
