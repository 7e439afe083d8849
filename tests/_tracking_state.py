"""One way for tests to start and leave tracking with no global state: no tracking or registry URI set in
process, no active experiment or run, no cached clients or stores."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import pytest


@contextlib.contextmanager
def fresh_tracking_state(mp: pytest.MonkeyPatch, artifact_root: Path | None = None,
                         tracking_uri: str | None = None) -> Iterator[None]:
    """Inside the block tracking starts clean (at ``tracking_uri`` when given, with artifacts under
    ``artifact_root`` when given); leaving it drops the runs, clients and stores the block made."""
    from tureen.tracking import _config, fluent
    from tureen.tracking.stores import reset_stores

    if tracking_uri is not None:
        mp.setenv("TUREEN_TRACKING_URI", tracking_uri)
    if artifact_root is not None:
        mp.setenv("TUREEN_ARTIFACT_ROOT", str(artifact_root))
    for var in ("TUREEN_EXPERIMENT_NAME", "TUREEN_EXPERIMENT_ID", "TUREEN_RUN_ID", "TUREEN_REGISTRY_URI",
                "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        mp.delenv(var, raising=False)
    mp.setattr(_config, "_tracking_uri", None)
    mp.setattr(_config, "_registry_uri", None)
    mp.setattr(fluent, "_active_experiment_id", None)
    fluent._stack().clear()
    fluent._clients.clear()
    try:
        yield
    finally:
        fluent._stack().clear()
        fluent._clients.clear()
        reset_stores()
