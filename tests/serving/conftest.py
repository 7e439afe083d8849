"""Serving fixtures: saved models, real gunicorn servers, and MLflow's server as the reference."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def shapes_model(tmp_path_factory):
    """A custom model with columns a (long), b (double), c (string) and params output/sleep/fail."""
    import pandas as pd

    from _serving_models import Shapes
    from tureen.models.signature import ColSpec, ModelSignature, ParamSchema, ParamSpec, Schema
    from tureen.pyfunc import save_model

    sig = ModelSignature(
        inputs=Schema([ColSpec("long", "a"), ColSpec("double", "b"), ColSpec("string", "c")]),
        params=ParamSchema([ParamSpec("output", "string", "array"), ParamSpec("sleep", "double", 0.0),
                            ParamSpec("fail", "string", "")]))
    path = tmp_path_factory.mktemp("serving") / "shapes"
    save_model(path, python_model=Shapes(), signature=sig, code_paths=[str(HERE / "_serving_models.py")],
               input_example=pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5], "c": ["x", "y"]}),
               pip_requirements=["pandas"])
    return path


@pytest.fixture(scope="session")
def tensor_model(tmp_path_factory):
    import numpy as np

    from _serving_models import TensorSum
    from tureen.models.signature import ModelSignature, Schema, TensorSpec
    from tureen.pyfunc import save_model

    path = tmp_path_factory.mktemp("serving") / "tensor"
    save_model(path, python_model=TensorSum(), code_paths=[str(HERE / "_serving_models.py")],
               signature=ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 3))])),
               input_example=np.ones((2, 3), dtype="float32"), pip_requirements=["numpy"])
    return path


@pytest.fixture(scope="session")
def echo_model(tmp_path_factory):
    from _serving_models import Echo
    from tureen.pyfunc import save_model

    path = tmp_path_factory.mktemp("serving") / "echo"
    save_model(path, python_model=Echo(), code_paths=[str(HERE / "_serving_models.py")],
               pip_requirements=["numpy"])
    return path


@pytest.fixture(scope="session")
def sk_server(saved_sklearn):
    """A real gunicorn server (2 workers) for the breast-cancer pipeline."""
    from tureen.serving.testing import serve_in_background

    with serve_in_background(saved_sklearn, workers=2) as server:
        yield server


@pytest.fixture(scope="session")
def shapes_server(shapes_model):
    from tureen.serving.testing import serve_in_background

    with serve_in_background(shapes_model, workers=1, timeout=2) as server:
        yield server


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


@pytest.fixture(scope="session")
def mlflow_servers(mlflow_python, tmp_path_factory):
    """``mlflow_servers(model_dir)``: an MLflow server for that model, started once per session."""
    servers: dict[str, MlflowServer] = {}
    log_dir = tmp_path_factory.mktemp("mlflow-serve")

    def get(model_dir: Path) -> MlflowServer:
        key = str(model_dir)
        if key not in servers:
            servers[key] = MlflowServer(mlflow_python, Path(model_dir), log_dir)
        return servers[key]

    yield get
    for s in servers.values():
        s.stop()


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk); the reliability tests need it")
    return path


def post_json(url: str, body, timeout: float = 30):
    import requests

    return requests.post(url, data=json.dumps(body) if not isinstance(body, (bytes, str)) else body,
                         headers={"Content-Type": "application/json"}, timeout=timeout)
