"""Every example of docs/evaluate.md runs, in order."""

from __future__ import annotations

from _docs_runner import examples, run_examples


def test_evaluate_page_examples_run(tmp_path, monkeypatch):
    assert examples("evaluate.md")
    monkeypatch.chdir(tmp_path)
    ns = run_examples("evaluate.md", cli=None)
    assert set(ns["result"].artifacts) == {"confusion_matrix", "roc_curve_plot", "precision_recall_curve_plot",
                                           "lift_curve_plot", "calibration_curve_plot"}
    assert ns["res"].metrics["iris_example_count"] == 150
