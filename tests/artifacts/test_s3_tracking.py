"""Tracking and the registry with an ``s3://`` artifact root (moto's standalone server)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tureen
from tureen.tracking import TrackingClient


@pytest.fixture
def s3_client(s3_env, tmp_path, monkeypatch):
    from _tracking_state import fresh_tracking_state

    uri = f"sqlite:///{tmp_path / 'store.db'}"
    with fresh_tracking_state(monkeypatch, tmp_path / "local-artifacts", tracking_uri=uri):
        client = TrackingClient(uri)
        exp = client.create_experiment("s3-exp", artifact_location=f"s3://{s3_env}/mlruns/exp")
        tureen.set_experiment(experiment_id=exp)
        yield client


def test_run_artifacts_on_s3(s3_client, s3_env, tmp_path):
    src = tmp_path / "dir"
    (src / "inner").mkdir(parents=True)
    (src / "inner" / "x.txt").write_text("x")
    (tmp_path / "one.csv").write_text("a,b\n1,2\n")
    with tureen.start_run() as run:
        tureen.log_artifact(str(tmp_path / "one.csv"), "data")
        tureen.log_artifacts(str(src), "tree")
        tureen.log_text("hello", "notes/hello.txt")
        tureen.log_dict({"a": 1}, "notes/a.json")
    assert run.info.artifact_uri == f"s3://{s3_env}/mlruns/exp/{run.info.run_id}/artifacts"
    rid = run.info.run_id
    assert [f.path for f in s3_client.list_artifacts(rid)] == ["data", "notes", "tree"]
    assert [f.path for f in s3_client.list_artifacts(rid, "tree/inner")] == ["tree/inner/x.txt"]
    out = Path(s3_client.download_artifacts(rid, "tree", str(tmp_path / "dl")))
    assert (out / "inner" / "x.txt").read_text() == "x"
    assert Path(s3_client.download_artifacts(rid, "notes/hello.txt", str(tmp_path / "dl2"))).read_text() == "hello"


def test_tampered_s3_model_is_caught(s3_client, s3_env, moto_s3):
    import boto3

    from tureen.exceptions import ModelIntegrityError
    from tureen.tracking._log_model import log_model
    from tureen.uri import resolve_model_uri

    def save(path: str) -> None:
        from tureen.models import Model

        Path(path).mkdir()
        m = Model()
        m.add_flavor("python_function", loader_module="tureen.pyfunc.model")
        m.save(path)
        Path(path, "weights.txt").write_text("42")

    info = log_model("custom", save, name="model")
    tureen.end_run()
    lm = s3_client.get_logged_model(info.model_id)
    key = lm.artifact_location.split(f"s3://{s3_env}/", 1)[1] + "/weights.txt"
    boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-east-1").put_object(
        Bucket=s3_env, Key=key, Body=b"43")
    with pytest.raises(ModelIntegrityError):
        resolve_model_uri(info.model_uri)
