"""Endpoints whose answers MLflow's clients read field by field: the step and timestamp of a run's latest
metrics, logged-model params, and the mlflow-artifacts multipart upload (local disk destination)."""

from __future__ import annotations

import hashlib

import requests

API = "/api/2.0/mlflow"


def _run(url: str) -> str:
    r = requests.post(f"{url}{API}/runs/create", json={"experiment_id": "0", "start_time": 1})
    assert r.status_code == 200, r.text
    return r.json()["run"]["info"]["run_id"]


def test_latest_metrics_carry_their_step_and_timestamp(tureen_app_server):
    url = tureen_app_server
    run_id = _run(url)
    metrics = [{"key": "loss", "value": v, "timestamp": 1000 + s, "step": s} for s, v in ((0, 3.0), (7, 1.5), (3, 2.0))]
    metrics.append({"key": "acc", "value": 0.5, "timestamp": 42})  # no step: step 0
    assert requests.post(f"{url}{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}).status_code == 200
    got = {m["key"]: m for m in requests.get(f"{url}{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]["metrics"]}
    assert (got["loss"]["value"], got["loss"]["step"], got["loss"]["timestamp"]) == (1.5, 7, 1007)
    assert (got["acc"]["step"], got["acc"]["timestamp"]) == (0, 42)
    found = requests.post(f"{url}{API}/runs/search", json={"experiment_ids": ["0"]}).json()["runs"]
    latest = {m["key"]: m for m in found[0]["data"]["metrics"]}
    assert (latest["loss"]["step"], latest["loss"]["timestamp"]) == (7, 1007)


def test_logged_model_params_are_logged_and_served(tureen_app_server):
    from tureen.tracking.stores.rest import RestStore

    url = tureen_app_server
    r = requests.post(f"{url}{API}/logged-models", json={"experiment_id": "0", "name": "m",
                                                       "params": [{"key": "alpha", "value": "1"}]})
    model_id = r.json()["model"]["info"]["model_id"]
    r = requests.post(f"{url}{API}/logged-models/{model_id}/params",
                      json={"model_id": model_id, "params": [{"key": "beta", "value": "2"}]})
    assert r.status_code == 200, r.text
    served = requests.get(f"{url}{API}/logged-models/{model_id}").json()["model"]["data"]["params"]
    assert sorted((p["key"], p["value"]) for p in served) == [("alpha", "1"), ("beta", "2")]
    RestStore(url).log_logged_model_params(model_id, {"gamma": 3})
    assert RestStore(url).get_logged_model(model_id).params == {"alpha": "1", "beta": "2", "gamma": "3"}
    missing = requests.post(f"{url}{API}/logged-models/m-{'0' * 32}/params", json={"params": [{"key": "a", "value": "1"}]})
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    bad = requests.post(f"{url}{API}/logged-models/{model_id}/params", json={"params": [{"value": "1"}]})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_multipart_upload_to_a_local_destination(tureen_app_server, tmp_path):
    url = tureen_app_server
    art = f"{url}/api/2.0/mlflow-artifacts"
    info = requests.get(f"{url}/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is True
    parts = [bytes([i]) * (300_000 + i) for i in range(3)]
    r = requests.post(f"{art}/mpu/create/1/run/artifacts/big", json={"path": "blob.bin", "num_parts": 3})
    assert r.status_code == 200, r.text
    created = r.json()
    upload_id, creds = created["upload_id"], created["credentials"]
    assert [c["part_number"] for c in creds] == [1, 2, 3]
    done = []
    for cred, data in zip(reversed(creds), reversed(parts)):  # parts may arrive in any order
        resp = requests.put(cred["url"], data=data, headers=cred.get("headers") or {})
        assert resp.status_code == 200, resp.text
        done.append({"part_number": cred["part_number"], "etag": resp.headers["ETag"], "url": cred["url"]})
    r = requests.post(f"{art}/mpu/complete/1/run/artifacts/big",
                      json={"path": "blob.bin", "upload_id": upload_id, "parts": done})
    assert r.status_code == 200, r.text
    got = requests.get(f"{art}/artifacts/1/run/artifacts/big/blob.bin")
    assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(b"".join(parts)).hexdigest()
    # the upload is gone once completed; a second completion or a part upload is refused
    again = requests.post(f"{art}/mpu/complete/1/run/artifacts/big",
                          json={"path": "blob.bin", "upload_id": upload_id, "parts": done})
    assert again.status_code == 404 and again.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert requests.put(creds[0]["url"], data=b"x").status_code == 404


def test_multipart_abort_and_hostile_input(tureen_app_server, tmp_path):
    url = tureen_app_server
    art = f"{url}/api/2.0/mlflow-artifacts"
    created = requests.post(f"{art}/mpu/create/d", json={"path": "f.bin", "num_parts": 2}).json()
    upload_id, creds = created["upload_id"], created["credentials"]
    assert requests.put(creds[0]["url"], data=b"abc").status_code == 200
    # a part list that does not cover every part, or names a wrong etag, is refused
    short = requests.post(f"{art}/mpu/complete/d", json={"path": "f.bin", "upload_id": upload_id,
                                                         "parts": [{"part_number": 1, "etag": "nope"}]})
    assert short.status_code == 400 and short.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert requests.post(f"{art}/mpu/abort/d", json={"path": "f.bin", "upload_id": upload_id}).status_code == 200
    assert requests.put(creds[1]["url"], data=b"abc").status_code == 404
    assert requests.get(f"{art}/artifacts/d/f.bin").status_code == 404
    for body in ({"path": "..", "num_parts": 1}, {"path": "f", "num_parts": 0}, {"path": "f", "num_parts": 100_001},
                 {"path": "a\x00b", "num_parts": 1}, {"num_parts": 1}, {"path": "f", "num_parts": "many"}):
        r = requests.post(f"{art}/mpu/create/d", json=body)
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (body, r.text)
    # MLflow's client sends its local file path: only the file name is used, inside the destination
    created = requests.post(f"{art}/mpu/create/d", json={"path": "/etc/passwd", "num_parts": 1}).json()
    etag = requests.put(created["credentials"][0]["url"], data=b"mine").headers["ETag"]
    assert requests.post(f"{art}/mpu/complete/d", json={"path": "/etc/passwd", "upload_id": created["upload_id"],
                                                        "parts": [{"part_number": 1, "etag": etag}]}).status_code == 200
    assert requests.get(f"{art}/artifacts/d/passwd").content == b"mine"
    r = requests.post(f"{art}/mpu/create/..%2F..%2Fetc", json={"path": "f", "num_parts": 1})
    assert r.status_code in (400, 404) and "Traceback" not in r.text
    for uid in ("../../etc", "x" * 500, "abc"):
        r = requests.put(f"{art}/mpu/upload/{uid}/1", data=b"x")
        assert r.status_code in (400, 404) and r.json()["error_code"] in ("INVALID_PARAMETER_VALUE",
                                                                          "RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND")


def test_presigned_urls_on_a_local_destination_are_mlflows_errors(tureen_app_server):
    url = tureen_app_server
    run_id = _run(url)
    r = requests.post(f"{url}{API}/artifacts/presigned-download-url", json={"run_id": run_id, "path": "a.txt"})
    assert r.status_code == 400 and "proxied artifact storage" in r.json()["message"]
    r = requests.get(f"{url}/api/2.0/mlflow-artifacts/presigned/0/a.txt")
    assert r.status_code == 501 and r.json()["message"].startswith("Multipart download is not supported")
