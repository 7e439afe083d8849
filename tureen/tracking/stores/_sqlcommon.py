"""Helpers of the SQL store, now in :mod:`tureen.store._common` (kept importable here for older callers)."""

from __future__ import annotations

from tureen.store._common import *  # noqa: F401,F403
from tureen.store._common import (  # noqa: F401
    SEARCH_EXPERIMENTS_MAX,
    SEARCH_MODELS_MAX,
    SEARCH_RUNS_MAX,
    SEARCH_VERSIONS_MAX,
    check_max_results,
    current_user,
    experiment_id_of,
    now_ms,
    to_uri,
)
