"""moto's standalone S3 server (a real S3-protocol server in its own process), started once per session.

``moto_s3`` yields ``{"endpoint": "http://127.0.0.1:PORT", "env": {...}}``; ``s3_env`` sets MLflow's
environment variables (``MLFLOW_S3_ENDPOINT_URL`` and fake ``AWS_*`` credentials) for one test and gives a
fresh bucket name, created on the server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

__all__ = ["moto_s3", "s3_env"]

_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_s3():
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not os.path.exists(exe):
        pytest.skip("moto's standalone server is not installed (pip install 'moto[server]')")
    port = _free_port()
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start on port {port}")
            time.sleep(0.1)
    try:
        yield {"endpoint": endpoint, "env": {**_ENV, "MLFLOW_S3_ENDPOINT_URL": endpoint}, "pid": proc.pid}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def s3_env(moto_s3, monkeypatch):
    """MLflow's S3 variables pointing at moto, and a new bucket: yields the bucket name."""
    import boto3

    for key, value in moto_s3["env"].items():
        monkeypatch.setenv(key, value)
    for key in ("MLFLOW_S3_UPLOAD_EXTRA_ARGS", "MLFLOW_S3_IGNORE_TLS", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    bucket = f"tureen-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket
