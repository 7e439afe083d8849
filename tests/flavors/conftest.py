"""Fixtures of the flavor conformance suite: one fitted model and one saved directory per case, per session."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import FlavorCase, all_cases  # noqa: E402

CASES = all_cases()

MLFLOW_PRELUDE = """
import sys, os, json, warnings
warnings.filterwarnings("ignore")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, pandas as pd
root = sys.argv[1]
for extra in sys.argv[3:]:
    sys.path.insert(0, extra)
_meta = json.load(open(os.path.join(root, "meta.json")))
X = np.load(os.path.join(root, "X.npy"))
if _meta["columns"] is not None:
    X = pd.DataFrame(X, columns=_meta["columns"])
y = np.load(os.path.join(root, "y.npy"))
path = sys.argv[2] if len(sys.argv) > 2 else None
out = {}
def tolist(a):
    if hasattr(a, "to_numpy"):
        a = a.to_numpy()
    if hasattr(a, "detach"):
        a = a.detach().numpy()
    if hasattr(a, "numpy") and not isinstance(a, np.ndarray):
        a = a.numpy()
    return np.asarray(a, dtype=float).tolist()
"""


def case_params() -> list[Any]:
    return [pytest.param(c, id=c.id, marks=c.marks) for c in CASES]


@pytest.fixture(scope="session")
def _built() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="session")
def built(_built: dict[str, Any]):
    """``built(case)``: the case's fitted model and data, built once per session."""
    def get(case: FlavorCase) -> Any:
        if case.id not in _built:
            _built[case.id] = case.build()
        return _built[case.id]

    return get


@pytest.fixture(scope="session")
def saved(built, tmp_path_factory: pytest.TempPathFactory):
    """``saved(case)``: a directory tureen saved the case's model into (with its input example), once."""
    cache: dict[str, Path] = {}

    def get(case: FlavorCase) -> Path:
        if case.id not in cache:
            b = built(case)
            path = tmp_path_factory.mktemp("saved") / case.id
            case.save(b.model, path, input_example=b.example)
            cache[case.id] = path
        return cache[case.id]

    return get


def write_data(root: Path, X: Any, y: Any) -> None:
    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    columns = list(map(str, X.columns)) if hasattr(X, "columns") else None
    np.save(root / "X.npy", np.asarray(X))
    np.save(root / "y.npy", np.asarray(y))
    (root / "meta.json").write_text(json.dumps({"columns": columns}))


@pytest.fixture(scope="session")
def in_mlflow(mlflow_run):
    """``in_mlflow(code, root, *args)``: run case code in the MLflow venv after the data prelude; return ``out``."""
    def run(code: str, root: Path, *args: str) -> Any:
        return mlflow_run(MLFLOW_PRELUDE + code + "\nprint(json.dumps(out))", str(root), *map(str, args),
                          timeout=600)

    return run


@pytest.fixture(scope="session")
def served(saved):
    """``served(case)``: base URL of a real gunicorn server for the case's saved model (one per case)."""
    import contextlib

    testing = pytest.importorskip("tureen.serving.testing", reason="tureen.serving.testing is not written yet")
    urls: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        def get(case: FlavorCase) -> str:
            if case.id not in urls:
                server = stack.enter_context(testing.serve_in_background(saved(case), **case.serve_settings))
                urls[case.id] = server.url
            return urls[case.id]

        yield get
