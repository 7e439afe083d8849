"""MLflow 3.17's own Python client, unchanged, end to end against ``tureen server`` (real gunicorn), and
tureen's client against ``mlflow server``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from server_support import fresh_tureen_db, start_tureen_server

pytestmark = pytest.mark.mlflow

SCRIPT = Path(__file__).parent / "scripts" / "mlflow_client_e2e.py"


def _mlflow_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TUREEN_", "PYTHONPATH"))}
    env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # a server error must fail the test, not wait minutes
    return env


def test_mlflow_client_end_to_end_against_tureen_server(tmp_path, tureen_template_db, mlflow_python):
    import json

    from tureen.tracking import TrackingClient

    with start_tureen_server(fresh_tureen_db(tureen_template_db, tmp_path), tmp_path, workers=2) as url:
        proc = subprocess.run([str(mlflow_python), str(SCRIPT), url], capture_output=True, text=True, timeout=600,
                              env=_mlflow_env(), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-4000:] + url.logs()[-3000:]
        seen = json.loads(proc.stdout.strip().splitlines()[-1])
        assert seen["runs"] == 1 and seen["params"] == {"C": "1.0"}
        assert seen["hist"][-5:] == [0.5, 0.6, 0.7, 0.8, 0.9]
        assert seen["arts"] == ["docs/notes.txt"] and seen["notes"] == "hi"
        assert seen["pred"] == [0, 1] and seen["stage"] == "Staging" and seen["alias_version"] == "1"
        # what MLflow wrote, tureen's REST store reads back the same way
        client = TrackingClient(url)
        mv = client.get_model_version_by_alias("churn", "champion")
        assert mv.model_id == seen["model_id"] and client.get_logged_model(mv.model_id).status == "LOGGED_MODEL_READY"
        assert "Traceback" not in url.logs()
    # the artifacts landed under the server's destination, in MLflow's layout
    assert list((tmp_path / "mlartifacts").glob("*/models/m-*/artifacts/MLmodel"))


def test_tureen_client_against_mlflow_server(tmp_path, mlflow_server, mlflow_python, monkeypatch):
    """tureen's fluent API logs a model to ``mlflow server``; MLflow's client loads it back, and tureen
    resolves ``models:/name@alias`` through the server (downloaded once, cached, digest verified)."""
    import json

    from sklearn.linear_model import LogisticRegression

    from tureen import pyfunc
    from tureen.flavors import sklearn as tsk
    from tureen.tracking import TrackingClient, fluent

    monkeypatch.setenv("TUREEN_TRACKING_URI", mlflow_server)
    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    fluent.set_experiment("from-tureen")
    with fluent.start_run() as run:
        fluent.log_params({"C": 1.0})
        fluent.log_metric("acc", 0.75)
        info = tsk.log_model(LogisticRegression().fit(X, y), name="model", registered_model_name="churn")
    client = TrackingClient(mlflow_server)
    client.set_registered_model_alias("churn", "champion", "1")
    assert pyfunc.load_model("models:/churn@champion").predict(np.array([[0.0], [3.0]])).tolist() == [0, 1]
    code = ("import json, sys, mlflow, numpy as np; mlflow.set_tracking_uri(sys.argv[1]); "
            "m = mlflow.pyfunc.load_model('models:/churn@champion'); r = mlflow.get_run(sys.argv[2]); "
            "print(json.dumps({'pred': m.predict(np.array([[0.0], [3.0]])).tolist(), 'params': r.data.params, "
            "'metrics': r.data.metrics}))")
    proc = subprocess.run([str(mlflow_python), "-c", code, mlflow_server, run.info.run_id], capture_output=True,
                          text=True, timeout=300, env=_mlflow_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"pred": [0, 1], "params": {"C": "1.0"}, "metrics": {"acc": 0.75}}
    assert info.model_uri.startswith("models:/m-")
    # a version from a runs:/ source, as typical scripts make it: MLflow's client sends no model_id with it
    # (MLflow's server refuses a runs:/ source beside a model_id); versions are strings over REST
    mv = client.create_model_version("churn", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    assert (mv.version, mv.source, mv.model_id) == ("2", f"runs:/{run.info.run_id}/model", None)
    assert client.get_registered_model("churn").aliases == {"champion": "1"}


def test_mlflow_client_multipart_upload_through_tureen_server(tureen_app_server, tmp_path, mlflow_python):
    """MLflow's client reads ``multipart_uploads_enabled`` from server-info and sends a large file in parts
    (mpu/create, one PUT per part, mpu/complete) to a local-disk destination; the file arrives whole."""
    import hashlib
    import json

    import requests

    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        for i in range(12):  # 12 MiB: three parts of 5 MiB
            fh.write(hashlib.sha256(str(i).encode()).digest() * 32768)
    code = ("import json, sys, mlflow; mlflow.set_tracking_uri(sys.argv[1]);\n"
            "with mlflow.start_run() as r: mlflow.log_artifact(sys.argv[2], 'data')\n"
            "print(json.dumps({'run_id': r.info.run_id}))")
    env = _mlflow_env() | {"MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(1 << 20),
                           "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(5 << 20)}
    proc = subprocess.run([str(mlflow_python), "-c", code, tureen_app_server, str(big)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    run_id = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    got = requests.get(f"{tureen_app_server}/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/data/big.bin")
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(big.read_bytes()).hexdigest()
    # and it went in parts: the staging area beside the destination held the upload, now cleaned up
    staging = tmp_path / ".mlartifacts.multipart"
    assert staging.is_dir() and not any(staging.iterdir())
