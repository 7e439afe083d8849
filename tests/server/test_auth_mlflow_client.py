"""MLflow 3.17's own client (peer venv) against a real ``tureen server --auth`` (gunicorn, loopback):
basic credentials, a bearer token, MLflow's REST calls for users, 401/403 as MlflowException."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.mlflow

_CODE = r'''
import json, os, sys
url, token = sys.argv[1:3]
os.environ.update(MLFLOW_TRACKING_URI=url, MLFLOW_TRACKING_USERNAME="admin",
                  MLFLOW_TRACKING_PASSWORD="admin-pass-1", MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
import mlflow
from mlflow.exceptions import MlflowException
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request, verify_rest_response

# what MLflow's AuthServiceClient sends (importing it needs Flask-WTF, absent from the peer venv)
def auth_call(endpoint, method, **kw):
    resp = http_request(get_default_host_creds(url), "/api/2.0/mlflow/" + endpoint, method, **kw)
    return verify_rest_response(resp, endpoint).json()

out = {"ana": auth_call("users/create", "POST", json={"username": "ana", "password": "ana-secret-1"})["user"]["username"],
       "bob": auth_call("users/create", "POST", json={"username": "bob", "password": "bob-secret-1"})["user"]["username"]}
auth_call("users/update-admin", "PATCH", json={"username": "bob", "is_admin": False})
out["bob_admin"] = auth_call("users/get", "GET", params={"username": "bob"})["user"]["is_admin"]

os.environ.update(MLFLOW_TRACKING_USERNAME="ana", MLFLOW_TRACKING_PASSWORD="ana-secret-1")
exp = mlflow.create_experiment("ana-exp")
with mlflow.start_run(experiment_id=exp) as run:
    mlflow.log_param("C", "1.0")
    mlflow.log_metric("auc", 0.9)
    mlflow.log_text("hello", "notes/hello.txt")
got = mlflow.get_run(run.info.run_id)
out["metric"] = got.data.metrics["auc"]
out["text"] = mlflow.artifacts.load_text(run.info.artifact_uri + "/notes/hello.txt")

def error_of(fn):
    try:
        fn()
    except MlflowException as e:
        return e.error_code
    except Exception as e:  # noqa: BLE001
        return type(e).__name__ + ": " + str(e)[:200]
    return "accepted"

os.environ.update(MLFLOW_TRACKING_USERNAME="bob", MLFLOW_TRACKING_PASSWORD="bob-secret-1")
client = mlflow.MlflowClient(url)
out["bob_reads"] = client.get_run(run.info.run_id).data.params
out["bob_writes"] = error_of(lambda: client.log_metric(run.info.run_id, "auc", 0.1))
out["bob_makes_user"] = error_of(lambda: auth_call("users/create", "POST",
                                                   json={"username": "mallory", "password": "mallory-pw-1"}))
os.environ["MLFLOW_TRACKING_PASSWORD"] = "wrong-password"
out["wrong_password"] = error_of(lambda: mlflow.MlflowClient(url).get_experiment(exp))
del os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]
out["anonymous"] = error_of(lambda: mlflow.MlflowClient(url).get_experiment(exp))
os.environ["MLFLOW_TRACKING_TOKEN"] = token
out["token_reads"] = mlflow.MlflowClient(url).get_experiment(exp).name
print(json.dumps(out))
'''


def test_mlflow_client_authenticates_against_tureen_server(tmp_path, mlflow_run):
    from tureen.server.auth._store import AuthStore
    from tureen.server.testing import server_in_background

    auth_uri = f"sqlite:///{tmp_path / 'auth.db'}"
    env = {"TUREEN_AUTH_DATABASE_URI": auth_uri, "TUREEN_AUTH_ADMIN_PASSWORD": "admin-pass-1",
           "TUREEN_HOME": str(tmp_path / "home")}
    with server_in_background(f"sqlite:///{tmp_path / 'mlruns.db'}", extra_args=["--auth"], env=env) as url:
        token = AuthStore(auth_uri).create_token("admin", "mlflow-test")
        out = mlflow_run(_CODE, url, token, timeout=600)
    assert out["ana"] == "ana" and out["bob"] == "bob" and out["bob_admin"] is False
    assert out["metric"] == 0.9 and out["text"] == "hello"
    assert out["bob_reads"] == {"C": "1.0"}  # default permission READ
    assert out["bob_writes"] == "PERMISSION_DENIED"
    assert out["bob_makes_user"] == "PERMISSION_DENIED"
    assert out["wrong_password"] == "UNAUTHENTICATED"
    assert out["anonymous"] == "UNAUTHENTICATED"
    assert out["token_reads"] == "ana-exp"
