"""The fluent API: active experiment and run stack, logging, search_runs as DataFrame or list."""

from __future__ import annotations

import pytest

import tureen
from tureen.exceptions import InvalidParameterError, InvalidStateError


def test_works_with_no_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("TUREEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TUREEN_ARTIFACT_ROOT")
    assert tureen.get_tracking_uri() == f"sqlite:///{tmp_path / 'home' / 'tureen.db'}"
    assert tureen.get_registry_uri() == tureen.get_tracking_uri()
    with tureen.start_run() as run:
        tureen.log_metric("auc", 0.9)
    assert (tmp_path / "home" / "tureen.db").exists()
    assert run.info.artifact_uri.startswith((tmp_path / "home" / "artifacts" / "0").as_uri())
    assert tureen.get_run(run.info.run_id).info.status == "FINISHED"


def test_active_experiment_belongs_to_the_store_it_was_set_in(tmp_path, monkeypatch):
    """Switching stores through TUREEN_TRACKING_URI (not set_tracking_uri) must not carry an experiment id
    of the old store into the new one."""
    monkeypatch.setenv("TUREEN_TRACKING_URI", f"sqlite:///{tmp_path / 'a.db'}")
    exp = tureen.set_experiment("only-in-a")
    assert exp.experiment_id != "0"
    monkeypatch.setenv("TUREEN_TRACKING_URI", f"sqlite:///{tmp_path / 'b.db'}")
    with tureen.start_run() as run:
        pass
    assert run.info.experiment_id == "0"
    monkeypatch.setenv("TUREEN_TRACKING_URI", f"sqlite:///{tmp_path / 'a.db'}")
    with tureen.start_run() as run:
        pass
    assert run.info.experiment_id == exp.experiment_id


def test_tracking_and_registry_uris(client, store_uri, tmp_path):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    tureen.set_tracking_uri(other)
    assert tureen.get_tracking_uri() == other and tureen.get_registry_uri() == other
    tureen.set_registry_uri(store_uri)
    assert tureen.get_registry_uri() == store_uri
    tureen.set_registry_uri(None)
    tureen.set_tracking_uri(None)
    assert tureen.get_tracking_uri() == store_uri  # from TUREEN_TRACKING_URI


def test_run_context_manager_and_nesting(client):
    exp = tureen.set_experiment("churn")
    with tureen.start_run(run_name="parent", description="hello") as parent:
        tureen.log_params({"C": 0.5, "penalty": "l2"})
        tureen.log_metric("auc", 0.91, step=3)
        tureen.log_metrics({"loss": 0.2, "acc": 0.8}, step=1)
        tureen.set_tags({"a": "1"})
        tureen.set_tag("b", "2")
        tureen.delete_tag("a")
        with pytest.raises(InvalidStateError, match="already active"):
            tureen.start_run()
        with tureen.start_run(nested=True) as child:
            assert tureen.active_run().info.run_id == child.info.run_id
        assert tureen.active_run().info.run_id == parent.info.run_id
    assert tureen.active_run() is None
    got = tureen.get_run(parent.info.run_id)
    assert got.info.experiment_id == exp.experiment_id and got.info.status == "FINISHED"
    assert got.data.params == {"C": "0.5", "penalty": "l2"}
    assert got.data.metrics == {"auc": 0.91, "loss": 0.2, "acc": 0.8}
    assert got.data.tags["b"] == "2" and "a" not in got.data.tags
    assert got.data.tags["mlflow.note.content"] == "hello"
    assert got.data.tags["mlflow.source.type"] == "LOCAL" and got.data.tags["mlflow.user"]
    kid = tureen.get_run(child.info.run_id)
    assert kid.data.tags["mlflow.parentRunId"] == parent.info.run_id
    # as in MLflow: the run ended last (the parent, after its child) is the last active run
    assert tureen.last_active_run().info.run_id == parent.info.run_id


def test_exception_marks_run_failed(client):
    with pytest.raises(RuntimeError):
        with tureen.start_run() as run:
            with tureen.start_run(nested=True) as child:
                raise RuntimeError("boom")
    assert tureen.get_run(run.info.run_id).info.status == "FAILED"
    assert tureen.get_run(child.info.run_id).info.status == "FAILED"
    assert tureen.active_run() is None


def test_logging_without_a_run_starts_one_and_resume(client):
    tureen.log_param("x", 1)
    run = tureen.active_run()
    assert run is not None
    tureen.end_run()
    with tureen.start_run(run_id=run.info.run_id):
        tureen.log_metric("m", 1.0)
    resumed = tureen.get_run(run.info.run_id)
    assert resumed.data.params == {"x": "1"} and resumed.data.metrics == {"m": 1.0}


def test_set_experiment_rules(client):
    exp = tureen.set_experiment("a")
    assert tureen.set_experiment(experiment_id=exp.experiment_id).name == "a"
    with pytest.raises(InvalidParameterError):
        tureen.set_experiment()
    tureen.delete_experiment(exp.experiment_id)
    with pytest.raises(InvalidParameterError, match="deleted"):
        tureen.set_experiment("a")
    assert tureen.get_experiment_by_name("a").lifecycle_stage == "deleted"
    assert tureen.create_experiment("b") == tureen.get_experiment_by_name("b").experiment_id


def test_search_runs_dataframe_and_list(client):
    tureen.set_experiment("s")
    for i in range(3):
        with tureen.start_run(run_name=f"r{i}"):
            tureen.log_metric("auc", i / 10)
            tureen.log_param("i", i)
    df = tureen.search_runs(filter_string="metrics.auc > 0.05", order_by=["metrics.auc DESC"])
    assert list(df["params.i"]) == ["2", "1"]
    assert {"run_id", "experiment_id", "status", "start_time", "end_time", "metrics.auc",
            "tags.mlflow.runName"} <= set(df.columns)
    assert str(df["start_time"].dtype).startswith("datetime64")
    runs = tureen.search_runs(output_format="list", max_results=2)
    assert len(runs) == 2 and runs[0].info.run_name == "r2"
    assert len(tureen.search_runs(experiment_names=["s"], output_format="list")) == 3
    assert len(tureen.search_runs(search_all_experiments=True, output_format="list")) == 3
    tureen.delete_run(runs[0].info.run_id)
    assert len(tureen.search_runs(output_format="list")) == 2


def test_artifacts_through_the_fluent_api(client, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("a")
    (tmp_path / "one.txt").write_text("1")
    with tureen.start_run() as run:
        tureen.log_artifact(tmp_path / "one.txt")
        tureen.log_artifact(tmp_path / "one.txt", "sub")
        tureen.log_artifacts(tmp_path / "d", "dir")
        tureen.log_text("hello", "notes/hello.txt")
        tureen.log_dict({"a": 1}, "conf/c.json")
        tureen.log_dict({"a": 1}, "conf/c.yaml")
        uri = tureen.get_artifact_uri("notes/hello.txt")
    assert uri == f"{run.info.artifact_uri}/notes/hello.txt"
    c = tureen.TrackingClient()
    top = [(f.path, f.is_dir) for f in c.list_artifacts(run.info.run_id)]
    assert top == [("conf", True), ("dir", True), ("notes", True), ("one.txt", False), ("sub", True)]
    assert [f.path for f in c.list_artifacts(run.info.run_id, "conf")] == ["conf/c.json", "conf/c.yaml"]
    local = c.download_artifacts(run.info.run_id, "conf", str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "conf" / "c.yaml").read_text() == "a: 1\n"
    assert local == str(tmp_path / "dl" / "conf")
