"""Shared fixtures: an isolated TUREEN_HOME for every test, the MLflow peer venv, small fitted models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _mlflow_peer  # noqa: E402

try:  # PostgreSQL server fixture (written with the tracking store)
    from conftest_postgres import *  # noqa: F401,F403,E402
except ImportError:  # pragma: no cover - before the tracking package lands
    pass

from conftest_moto import *  # noqa: F401,F403,E402  (moto's S3 server, session-scoped)
from conftest_mariadb import *  # noqa: F401,F403,E402  (MariaDB server, session-scoped; tests/store)


#: ``make test`` runs the suite in two parts: everything but the ``serial`` tests on two pytest-xdist workers
#: (``--dist loadgroup``), then the ``serial`` ones alone. Each test file is one group, so a file's module
#: fixtures start once, on one worker; the folders below are one group each, because their files share
#: state a second worker would fight over (one Docker engine's test images and base-image cache).
SHARED_GROUPS = ("tests/docker/",)
#: timing-sensitive tests (load phases, latency bounds, batching windows): they run alone, after the rest,
#: so another worker's CPU use cannot make them fail or change what they measure
SERIAL_FILES = ("tests/server/test_scale.py", "tests/serving/test_reliability.py", "tests/serving/test_batching.py",
                "tests/serving/test_worker.py")
_ROOT = Path(__file__).resolve().parent.parent


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            rel = Path(str(item.fspath)).resolve().relative_to(_ROOT).as_posix()
        except ValueError:
            continue
        group = next((prefix for prefix in SHARED_GROUPS if rel.startswith(prefix)), rel)
        item.add_marker(pytest.mark.xdist_group(group))
        if rel in SERIAL_FILES:
            item.add_marker(pytest.mark.serial)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches ~/.tureen or a tracking URI from the environment."""
    home = tmp_path_factory.mktemp("tureen-home")
    monkeypatch.setenv("TUREEN_HOME", str(home))
    for var in ("TUREEN_TRACKING_URI", "TUREEN_REGISTRY_URI", "TUREEN_ALLOW_PICKLE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def mlflow_python() -> Path:
    """Interpreter of the MLflow 3.x peer venv (created and cached under .cache/ on first use)."""
    return _mlflow_peer.ensure()


@pytest.fixture(scope="session")
def mlflow_run():
    """``mlflow_run(code, *args)`` runs code in the MLflow venv and returns the JSON it prints last."""
    _mlflow_peer.ensure()
    return _mlflow_peer.run


@pytest.fixture(scope="session")
def breast_cancer():
    """(X, y) of sklearn's breast_cancer data as a DataFrame and Series."""
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def sk_pipeline(breast_cancer):
    """A fitted scaled LogisticRegression pipeline (the benchmark model)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = breast_cancer
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


@pytest.fixture(scope="session")
def saved_sklearn(tmp_path_factory, sk_pipeline, breast_cancer):
    """A directory saved once by tureen's sklearn flavor (skops), with signature and example."""
    from tureen import flavors

    X, _ = breast_cancer
    path = tmp_path_factory.mktemp("saved") / "sk"
    flavors.sklearn.save_model(sk_pipeline, path, input_example=X[:5])
    return path
