"""Every ```python block and every `$ tureen ...` line of docs/batch-scoring.md runs, in order.

The `$ tureen ...` lines run in this process (``tureen.cli.main``), so ``tureen predict --spark local[2]``
reuses the test session instead of starting a second JVM.
"""

from __future__ import annotations

import pandas as pd
import pytest

from _docs_runner import examples, run_examples

PAGE = "batch-scoring.md"


def test_batch_scoring_page_runs(spark, tmp_path, monkeypatch, capsys):
    from tureen.cli import main

    def cli(args: list[str]) -> None:
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 0, f"$ tureen {' '.join(args)}\n{capsys.readouterr().err[-3000:]}"

    found = examples(PAGE)
    assert [k for k, _ in found].count("python") >= 4 and any("--spark" in c for _, c in found)
    monkeypatch.chdir(tmp_path)
    namespace = run_examples(PAGE, cli=cli)
    # what the page claims, checked
    assert set(namespace["churn"].load_counts.values()) == {1}
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert len(scored) == 6 and list(scored.columns) == ["tenure", "monthly_charges", "customer", "prediction"]
    assert scored.sort_values("customer")["prediction"].tolist() == [1, 1, 0, 0, 1, 0]
