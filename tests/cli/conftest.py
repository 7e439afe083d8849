"""Fixtures of the CLI tests: a fresh SQLite tracking store per test, shared by the CLI and the API."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from _tracking_state import fresh_tracking_state


@pytest.fixture(autouse=True)
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    with fresh_tracking_state(monkeypatch, tmp_path / "artifacts", uri):
        yield uri
