"""Helpers for the serving tests: free ports, MLflow's server as a reference, JSON posts, wrk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """``mlflow models serve --env-manager local`` from the MLflow peer venv, on a free loopback port."""

    def __init__(self, mlflow_python: Path, model_dir: Path, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        bin_dir = str(Path(mlflow_python).parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_", "MLFLOW_", "PYTHONPATH"))}
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        # custom models pickle classes deriving from tureen's PythonModel: make tureen importable there
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE)])
        env["MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"] = "2"
        self.log = open(log_dir / f"mlflow-{model_dir.name}.log", "wb")
        self.proc = subprocess.Popen([str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", str(model_dir),
                                      "--env-manager", "local", "-p", str(self.port), "--host", "127.0.0.1"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=str(log_dir),
                                     start_new_session=True)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited:\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"mlflow models serve did not answer /ping in time:\n{self.logs()}")

    def logs(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk); the reliability tests need it")
    return path


def post_json(url: str, body, timeout: float = 30):
    import requests

    return requests.post(url, data=json.dumps(body) if not isinstance(body, (bytes, str)) else body,
                         headers={"Content-Type": "application/json"}, timeout=timeout)
