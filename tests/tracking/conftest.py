"""Fixtures of the tracking and registry tests: one store contract, every backend."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_tracking_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts with no active run or experiment and artifacts under its own tmp dir."""
    from tureen.tracking import _config, fluent
    from tureen.tracking.stores import reset_stores

    monkeypatch.setattr(_config, "_tracking_uri", None)
    monkeypatch.setattr(_config, "_registry_uri", None)
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    monkeypatch.setenv("TUREEN_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    for var in ("TUREEN_EXPERIMENT_NAME", "TUREEN_EXPERIMENT_ID", "TUREEN_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    fluent._stack().clear()
    fluent._clients.clear()
    yield
    fluent._stack().clear()
    fluent._clients.clear()
    reset_stores()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh tracking database: a SQLite file, then a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_uri")


@pytest.fixture
def client(store_uri: str, monkeypatch: pytest.MonkeyPatch):
    """A TrackingClient on ``store_uri``, also made the fluent API's tracking URI."""
    from tureen.tracking import TrackingClient

    monkeypatch.setenv("TUREEN_TRACKING_URI", store_uri)
    return TrackingClient(store_uri)
