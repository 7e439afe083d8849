"""Every ```python block of docs/serving.md runs, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "serving.md"


def test_serving_guide_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{PAGE.name}[block {i}]", "exec"), namespace)  # noqa: S102 - our own docs


def test_every_setting_is_documented():
    from dataclasses import fields

    from tureen.serving.settings import ServingSettings

    text = PAGE.read_text()
    missing = [f.name for f in fields(ServingSettings) if f"TUREEN_SERVING_{f.name.upper()}" not in text]
    assert not missing, f"settings without a line in docs/serving.md: {missing}"
