"""Fixtures of the flavor conformance suite: one fitted model and one saved directory per case, per session."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import FlavorCase  # noqa: E402
from flavor_support import CASES, MLFLOW_PRELUDE, case_params, write_data  # noqa: E402,F401

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
