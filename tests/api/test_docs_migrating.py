"""The examples of docs/migrating-from-mlflow.md run, in order (the worked example of moving a project)."""

from __future__ import annotations

from _docs_runner import python_blocks, run_examples


def test_migrating_page_examples_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert len(python_blocks("migrating-from-mlflow.md")) >= 3
    run_examples("migrating-from-mlflow.md", cli=None)


def test_migrating_page_examples_run_on_a_store_that_already_has_a_churn_model(monkeypatch, tmp_path):
    """A new user runs the page after ``make demo``, whose store already holds a registered ``churn``."""
    import tureen as mlflow
    from sklearn.dummy import DummyClassifier

    monkeypatch.chdir(tmp_path)
    earlier = DummyClassifier(strategy="most_frequent").fit([[0.0], [1.0]], [0, 0])
    for _ in range(2):
        with mlflow.start_run():
            mlflow.sklearn.log_model(earlier, name="model", registered_model_name="churn")
    run_examples("migrating-from-mlflow.md", cli=None)
