"""Fixtures of the store tests (the SQL store on MLflow's schema)."""

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
