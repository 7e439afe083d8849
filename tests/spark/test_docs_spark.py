"""Every ```python block and every `$ tureen ...` line of docs/batch-scoring.md runs, in order.

The `$ tureen ...` lines run in this process (``tureen.cli.main``), so ``tureen predict --spark local[2]``
reuses the test session instead of starting a second JVM.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "batch-scoring.md"
BLOCK = re.compile(r"```(python|console)\n(.*?)```", re.S)


def test_batch_scoring_page_runs(spark, tmp_path, monkeypatch, capsys):
    from tureen.cli import main

    found = BLOCK.findall(PAGE.read_text())
    assert [k for k, _ in found].count("python") >= 4 and any("--spark" in c for _, c in found)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for kind, code in found:
        if kind == "python":
            exec(compile(code, str(PAGE), "exec"), namespace)  # noqa: S102 - our own docs
            continue
        for line in code.splitlines():
            if not line.startswith("$ "):
                continue
            args = shlex.split(line[2:])
            assert args[0] == "tureen"
            with pytest.raises(SystemExit) as done:
                main(args[1:])
            assert done.value.code == 0, f"{line}\n{capsys.readouterr().err[-3000:]}"
    # what the page claims, checked
    assert set(namespace["churn"].load_counts.values()) == {1}
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert len(scored) == 6 and list(scored.columns) == ["tenure", "monthly_charges", "customer", "prediction"]
    assert scored.sort_values("customer")["prediction"].tolist() == [1, 1, 0, 0, 1, 0]
