"""Fixtures of the MLflow-API tests: a clean tracking state on a fresh SQLite store per test."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from _tracking_state import fresh_tracking_state


@pytest.fixture(autouse=True)
def _fresh_tracking_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    with fresh_tracking_state(monkeypatch, tmp_path / "artifacts", tracking_uri=f"sqlite:///{tmp_path / 'mlruns.db'}"):
        yield
