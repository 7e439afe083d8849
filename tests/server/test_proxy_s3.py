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
