"""Fixtures of the tracking and registry tests: one store contract, every backend."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from _tracking_state import fresh_tracking_state


@pytest.fixture(autouse=True)
def _fresh_tracking_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts with no active run or experiment and artifacts under its own tmp dir."""
    with fresh_tracking_state(monkeypatch, tmp_path / "artifacts"):
        yield


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
