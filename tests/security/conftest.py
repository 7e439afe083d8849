"""Every security test starts and ends with clean tracking state: the API walk points the tracking URI at
hostile values (``nosuch://x``), which must not leak into tests collected after it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from _tracking_state import fresh_tracking_state


@pytest.fixture(autouse=True)
def _fresh_tracking_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    with fresh_tracking_state(monkeypatch, tmp_path / "artifacts"):
        yield
