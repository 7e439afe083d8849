"""Everything follows the tracking URI: with it pointing at ``tureen server``, ``log_model`` uploads through
the proxy, and ``models:/`` / ``runs:/`` URIs download through the server (cached, digests verified) for
``tureen predict`` and ``pyfunc.load_model``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from server_support import fresh_tureen_db, start_tureen_server


@pytest.fixture
def remote(tmp_path, tureen_template_db, monkeypatch):
    with start_tureen_server(fresh_tureen_db(tureen_template_db, tmp_path), tmp_path) as url:
        monkeypatch.setenv("TUREEN_TRACKING_URI", url)
        yield url


def _log_churn() -> str:
    from sklearn.linear_model import LogisticRegression

    from tureen.flavors import sklearn as tsk
    from tureen.tracking import TrackingClient, fluent

    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    with fluent.start_run() as run:
        tsk.log_model(LogisticRegression().fit(X, y), name="model", registered_model_name="churn")
    TrackingClient().set_registered_model_alias("churn", "champion", "1")
    return run.info.run_id


def test_predict_cli_and_pyfunc_through_the_server(remote, tmp_path):
    from tureen import pyfunc

    run_id = _log_churn()
    # nothing of the model is on this side's disk before the first resolve
    home = Path(os.environ["TUREEN_HOME"])
    assert not list(home.rglob("MLmodel"))
    assert pyfunc.load_model(f"runs:/{run_id}/model").predict(np.array([[3.0]])).tolist() == [1]
    (tmp_path / "in.json").write_text(json.dumps({"inputs": [[0.0], [3.0]]}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-m", "tureen.cli", "predict", "-m", "models:/churn@champion",
                           "-i", str(tmp_path / "in.json")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["predictions"] == [0, 1]
    cached = list((home / "cache" / "artifacts").glob("*/MLmodel"))
    assert cached, "the download is cached under TUREEN_HOME"


def test_a_model_changed_on_the_server_after_logging_is_refused(remote, tmp_path):
    from tureen import pyfunc
    from tureen.exceptions import ModelIntegrityError

    _log_churn()
    (mlmodel,) = (tmp_path / "mlartifacts").glob("*/models/m-*/artifacts/MLmodel")
    mlmodel.write_text(mlmodel.read_text() + "\n# tampered\n")
    with pytest.raises(ModelIntegrityError):
        pyfunc.load_model("models:/churn@champion")


def test_a_version_from_a_runs_uri_on_a_proxying_server(remote):
    """``create_model_version(name, "runs:/…")`` against ``--serve-artifacts``: the server finds the run's
    files through its own artifact destination (it used to reach for ``mlflow-artifacts:/`` over HTTP,
    that is, itself); versions come back as strings, as MLflow's REST client gives them."""
    from sklearn.linear_model import LogisticRegression

    from tureen import pyfunc
    from tureen.flavors import sklearn as tsk
    from tureen.tracking import TrackingClient, fluent

    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    with fluent.start_run() as run:
        tsk.log_model(LogisticRegression().fit(X, y), name="model")
    client = TrackingClient()
    client.create_registered_model("churn")
    mv = client.create_model_version("churn", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    assert mv.version == "1" and mv.source == f"runs:/{run.info.run_id}/model"
    assert client.get_registered_model("churn").latest_versions[0].version == "1"
    assert pyfunc.load_model("models:/churn/1").predict(np.array([[3.0]])).tolist() == [1]
