"""Helpers shared by the SQL tracking store and the SQL registry store."""

from __future__ import annotations

import gc
import getpass
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tureen.exceptions import InvalidParameterError

SEARCH_RUNS_MAX = 50000
SEARCH_EXPERIMENTS_MAX = 50000
SEARCH_MODELS_MAX = 1000
SEARCH_VERSIONS_MAX = 200000


def now_ms() -> int:
    return int(time.time() * 1000)


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def to_uri(location: str) -> str:
    """A local path becomes a ``file://`` URI; URIs are kept as they are."""
    if "://" in location or location.startswith(("file:", "mlflow-artifacts:")):
        return location
    return Path(location).expanduser().absolute().as_uri()


def experiment_id_of(experiment_id: Any) -> int:
    if isinstance(experiment_id, bool):
        raise InvalidParameterError(f"Invalid experiment id {experiment_id!r}")
    try:
        return int(str(experiment_id).strip())
    except (TypeError, ValueError):
        raise InvalidParameterError(f"Invalid experiment id {experiment_id!r}: experiment ids of this store are "
                                    "integers (as strings, e.g. '1')") from None


def check_max_results(max_results: Any, limit: int, what: str) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterError(f"Invalid value {max_results!r} for parameter 'max_results' of {what}: it "
                                    "must be a positive integer")
    if max_results > limit:
        raise InvalidParameterError(f"Invalid value {max_results} for parameter 'max_results' of {what}: it must "
                                    f"be at most {limit}")
    return max_results


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector held off while a page of results is built.

    A page of 1,000 runs makes some 30,000 container objects that all stay alive until the page is returned,
    so the collector's passes during the build find nothing to free, yet each one walks the young objects and
    every few pages the whole heap: over half of the time of a page read went to them. Objects are still
    freed by reference counting as usual; the collector runs again as soon as the page is built. Nested and
    concurrent pauses (threads of a server) count: the collector is switched back on, if it was on, when the
    last one ends."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()
