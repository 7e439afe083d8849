"""`make demo`'s job end to end: train, log, register, promote, serve models:/churn/Production on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "churn_demo.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_registers_promotes_and_serves(tmp_path):
    env = {**os.environ, "TUREEN_HOME": str(tmp_path / "home")}
    port, server_port = _free_port(), _free_port()
    proc = subprocess.Popen([sys.executable, str(DEMO), "--port", str(port), "--server-port", str(server_port)],
                            env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("demo server never became ready")
        body = json.dumps({"dataframe_split": {"columns": ["tenure", "plan", "monthly_charges", "support_calls"],
                                               "data": [[3, "basic", 29.5, 4], [70, "premium", 85.0, 0]]}})
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            preds = json.loads(r.read())["predictions"]
        assert preds == [1, 0]
        # the tracking server runs on the same store: the registered model is visible through MLflow's API
        with urllib.request.urlopen(f"http://127.0.0.1:{server_port}/api/2.0/mlflow/registered-models/get"
                                    "?name=churn", timeout=10) as r:
            assert json.loads(r.read())["registered_model"]["name"] == "churn"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert "promoted to Production" in out and f"127.0.0.1:{port}/invocations" in out
    assert "Tracking server (MLflow's REST API" in out and f"http://127.0.0.1:{server_port}" in out
    # the registry now holds the promoted version
    from tureen.tracking.client import TrackingClient

    client = TrackingClient(f"sqlite:///{tmp_path / 'home' / 'tureen.db'}")
    versions = client.get_latest_versions("churn", stages=["Production"])
    assert [v.version for v in versions] == [1]
    assert client.get_model_version_by_alias("churn", "champion").version == 1
