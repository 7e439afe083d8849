"""Fixtures of the autologging tests: fresh tracking state per test, every integration off afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from _tracking_state import fresh_tracking_state


@pytest.fixture(autouse=True)
def _fresh_autolog_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    import importlib

    import tureen
    from tureen.autolog import INTEGRATIONS, _patch

    with fresh_tracking_state(monkeypatch, tmp_path / "artifacts"):
        _patch._WARNED.clear()
        yield
        tureen.autolog(disable=True)
        for name in list(_patch._CONFIGS):
            importlib.import_module(INTEGRATIONS[name][0]).autolog(disable=True)
        assert not _patch._PATCHES or all(not v for v in _patch._PATCHES.values())


@pytest.fixture(scope="session")
def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def binary():
    """(X, y) numpy: 120 rows, 5 features, binary labels."""
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


from autolog_support import artifacts, runs  # noqa: E402,F401  (kept importable from here)
