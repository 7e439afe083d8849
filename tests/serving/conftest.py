"""Serving fixtures: saved models, real gunicorn servers, and MLflow's server as the reference."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _serving_support import MlflowServer  # noqa: E402


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
