"""Models logged to, registered from and loaded from an ``s3://`` artifact root (moto's server)."""

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


def test_log_model_register_and_load_through_s3(s3_client, s3_env, sk_pipeline, breast_cancer):
    from tureen import flavors, pyfunc

    X, _ = breast_cancer
    with tureen.start_run() as run:
        info = flavors.sklearn.log_model(sk_pipeline, name="model", input_example=X[:5],
                                         registered_model_name="s3-churn")
    lm = s3_client.get_logged_model(info.model_id)
    assert lm.artifact_location.startswith(f"s3://{s3_env}/mlruns/exp/models/")
    expected = list(sk_pipeline.predict(X[:10]))
    for uri in (info.model_uri, "models:/s3-churn/1", f"runs:/{run.info.run_id}/model"):
        assert list(pyfunc.load_model(uri).predict(X[:10])) == expected, uri


def test_run_artifact_model_directory_on_s3(s3_client, saved_sklearn, breast_cancer):
    """``runs:/<id>/<path>`` naming a model directory among a run's own (S3) artifacts."""
    from tureen import pyfunc

    X, _ = breast_cancer
    with tureen.start_run() as run:
        tureen.log_artifacts(str(saved_sklearn), "plain")
    model = pyfunc.load_model(f"runs:/{run.info.run_id}/plain")
    assert len(model.predict(X[:3])) == 3
    mv = tureen.register_model(f"runs:/{run.info.run_id}/plain", "plain-s3")
    assert mv.source == f"{run.info.artifact_uri}/plain"
    assert len(pyfunc.load_model("models:/plain-s3/1").predict(X[:3])) == 3
