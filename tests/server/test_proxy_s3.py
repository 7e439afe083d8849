"""The artifact proxy over an S3 destination (moto's standalone server on 127.0.0.1): the REST store's
mlflow-artifacts repository streams through ``tureen server`` into the bucket and back."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from server_support import fresh_tureen_db


@pytest.fixture
def s3_proxy(tmp_path: Path, tureen_template_db: Path, s3_env: str):
    from werkzeug.serving import make_server

    from tureen.server.app import ServerSettings, create_app

    app = create_app(ServerSettings(backend_store_uri=fresh_tureen_db(tureen_template_db, tmp_path),
                                    artifacts_destination=f"s3://{s3_env}/proxied"))
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", s3_env
    finally:
        httpd.shutdown()
        thread.join(10)


def test_proxy_round_trip_into_s3(s3_proxy, moto_s3, tmp_path, monkeypatch):
    import boto3

    from tureen.tracking import TrackingClient

    url, bucket = s3_proxy
    monkeypatch.setenv("TUREEN_TRACKING_URI", url)
    client = TrackingClient(url)
    run = client.create_run("0")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.bin").write_bytes(b"\x00\x01" * 5000)
    client.log_artifacts(run.info.run_id, tmp_path / "d", "data")
    client.log_text(run.info.run_id, "hello", "notes/readme.txt")
    assert [f.path for f in client.list_artifacts(run.info.run_id, "data")] == ["data/a.bin"]
    keys = {o["Key"] for o in boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-east-1").list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"proxied/0/{run.info.run_id}/artifacts/data/a.bin" in keys
    out = Path(client.download_artifacts(run.info.run_id, "data", str(tmp_path / "out")))
    assert (out / "a.bin").read_bytes() == b"\x00\x01" * 5000
    import requests

    resp = requests.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/0/{run.info.run_id}/artifacts/nope.txt")
    assert resp.status_code == 404 and resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    resp = requests.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/0/../../x")
    assert resp.status_code in (400, 404) and "error_code" in resp.json()


def test_multipart_upload_into_s3_with_presigned_part_urls(s3_proxy, moto_s3):
    """mpu/create starts a real S3 multipart upload; parts go straight to S3 through presigned URLs."""
    import hashlib

    import boto3
    import requests

    url, bucket = s3_proxy
    art = f"{url}/api/2.0/mlflow-artifacts"
    assert requests.get(f"{url}/api/3.0/mlflow/server-info").json()["multipart_uploads_enabled"] is True
    parts = [b"a" * (5 * 1024 * 1024), b"tail"]  # S3's smallest non-final part is 5 MiB
    created = requests.post(f"{art}/mpu/create/7/r/artifacts", json={"path": "/local/dir/big.bin", "num_parts": 2})
    assert created.status_code == 200, created.text
    body = created.json()
    assert all(c["url"].startswith(moto_s3["endpoint"]) for c in body["credentials"])  # S3, not this server
    done = []
    for cred, data in zip(body["credentials"], parts):
        r = requests.put(cred["url"], data=data, headers=cred.get("headers") or {})
        assert r.status_code == 200, r.text
        done.append({"part_number": cred["part_number"], "etag": r.headers["ETag"], "url": cred["url"]})
    r = requests.post(f"{art}/mpu/complete/7/r/artifacts", json={"path": "/local/dir/big.bin",
                                                               "upload_id": body["upload_id"], "parts": done})
    assert r.status_code == 200, r.text
    s3 = boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-east-1")
    obj = s3.get_object(Bucket=bucket, Key="proxied/7/r/artifacts/big.bin")["Body"].read()
    assert hashlib.sha256(obj).digest() == hashlib.sha256(b"".join(parts)).digest()
    # abort drops an upload; completing it afterwards is a typed error, not a 500
    other = requests.post(f"{art}/mpu/create/7/r/artifacts", json={"path": "x.bin", "num_parts": 1}).json()
    assert requests.post(f"{art}/mpu/abort/7/r/artifacts", json={"path": "x.bin", "upload_id": other["upload_id"]}
                         ).status_code == 200
    r = requests.post(f"{art}/mpu/complete/7/r/artifacts", json={"path": "x.bin", "upload_id": other["upload_id"],
                                                               "parts": [{"part_number": 1, "etag": "x"}]})
    # (real S3 answers NoSuchUpload, a 404 here; moto answers 500, a 503 here: typed either way)
    assert r.status_code in (404, 503) and r.json()["error_code"] and "Traceback" not in r.text, r.text


def test_presigned_urls_as_mlflow_has_them(s3_proxy, moto_s3, tmp_path):
    """Runs with a direct s3:// artifact location get presigned GET/PUT URLs that work without the server;
    proxied (mlflow-artifacts) runs get MLflow's 400; the proxy's presigned GET serves an S3 destination."""
    import requests

    url, bucket = s3_proxy
    api = f"{url}/api/2.0/mlflow"
    exp = requests.post(f"{api}/experiments/create", json={"name": "direct",
                                                          "artifact_location": f"s3://{bucket}/direct"}).json()
    run_id = requests.post(f"{api}/runs/create", json={"experiment_id": exp["experiment_id"]}).json()["run"]["info"]["run_id"]
    up = requests.post(f"{api}/artifacts/presigned-upload-url", json={"run_id": run_id, "path": "d/x.txt"})
    assert up.status_code == 200, up.text
    assert requests.put(up.json()["presigned_url"], data=b"direct bytes").status_code == 200
    down = requests.post(f"{api}/artifacts/presigned-download-url", json={"run_id": run_id, "path": "d/x.txt"}).json()
    assert down["file_size"] == 12 and requests.get(down["presigned_url"]).content == b"direct bytes"
    for body, code in (({"run_id": run_id, "path": "d/x.txt", "expiration": 0}, 400),
                       ({"run_id": run_id, "path": "../../x"}, 400), ({"path": "x"}, 400)):
        r = requests.post(f"{api}/artifacts/presigned-upload-url", json=body)
        assert r.status_code == code and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (body, r.text)
    proxied = requests.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    r = requests.post(f"{api}/artifacts/presigned-download-url", json={"run_id": proxied, "path": "a"})
    assert r.status_code == 400 and "proxied artifact storage" in r.json()["message"]
    requests.put(f"{url}/api/2.0/mlflow-artifacts/artifacts/0/p.txt", data=b"via proxy")
    got = requests.get(f"{url}/api/2.0/mlflow-artifacts/presigned/0/p.txt").json()
    assert got["file_size"] == 9 and requests.get(got["url"]).content == b"via proxy"
