"""Every ```python block and every `$ tureen ...` line of docs/batch-scoring.md runs, in order."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

PAGE = Path(__file__).resolve().parents[2] / "docs" / "batch-scoring.md"
BLOCK = re.compile(r"```(python|console)\n(.*?)```", re.S)


def test_batch_scoring_page_runs(spark, tmp_path, monkeypatch):
    found = BLOCK.findall(PAGE.read_text())
    assert [k for k, _ in found].count("python") >= 4 and any("--spark" in c for _, c in found)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    for kind, code in found:
        if kind == "python":
            exec(compile(code, str(PAGE), "exec"), namespace)  # noqa: S102 - our own docs
            continue
        for line in code.splitlines():
            if not line.startswith("$ "):
                continue
            args = shlex.split(line[2:])
            assert args[0] == "tureen"
            res = subprocess.run([sys.executable, "-m", "tureen.cli", *args[1:]], capture_output=True, text=True,
                                 env=env, timeout=300)
            assert res.returncode == 0, f"{line}\n{res.stderr[-3000:]}"
    # what the page claims, checked
    assert set(namespace["churn"].load_counts.values()) == {1}
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert len(scored) == 6 and list(scored.columns) == ["tenure", "monthly_charges", "customer", "prediction"]
    assert scored.sort_values("customer")["prediction"].tolist() == [1, 1, 0, 0, 1, 0]
