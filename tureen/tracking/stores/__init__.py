"""Tracking stores, pluggable by URI scheme through import strings.

A store is chosen from the tracking URI's scheme; its module (and so its dependencies, e.g. sqlalchemy
or psycopg) is imported only when a URI of that scheme is used. Third parties add schemes with
:func:`register_store`. The SQL store (SQLite, PostgreSQL) serves both tracking and the model registry; the REST store
(``http(s)://``) talks to a tracking server (``tureen server`` or ``mlflow server``).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Callable

from tureen.exceptions import InvalidParameterError

__all__ = ["get_store", "register_store", "reset_stores"]

_SQL = "tureen.tracking.stores.sql:SqlStore"

#: URI scheme (the part before ':', without a '+driver' suffix) -> "module:Class" or a factory
_STORES: dict[str, Any] = {
    "sqlite": _SQL,
    "postgresql": _SQL,
    "postgres": _SQL,
    "mysql": _SQL,
    "mariadb": _SQL,
    "http": "tureen.tracking.stores.rest:RestStore",
    "https": "tureen.tracking.stores.rest:RestStore",
}

_cache: dict[tuple[str, str | None], Any] = {}
_lock = threading.Lock()


def register_store(scheme: str, target: str | Callable[..., Any]) -> None:
    """Serve tracking URIs of ``scheme`` with ``target`` ("module:Class" or a callable ``(uri) -> store``).

    Example:
        >>> register_store("memo", "tureen.tracking.stores.sql:SqlStore")
    """
    _STORES[scheme] = target


def _scheme(uri: str) -> str:
    head, sep, _ = uri.partition(":")
    return head.split("+")[0].lower() if sep else ""


def get_store(uri: str, artifact_root: str | None = None) -> Any:
    """The (cached, shared) store for a tracking or registry URI.

    Raises:
        InvalidParameterError: the URI's scheme is not served by any store.
    """
    key = (uri, artifact_root)
    store = _cache.get(key)
    if store is not None:
        return store
    with _lock:
        store = _cache.get(key)
        if store is not None:
            return store
        scheme = _scheme(uri)
        target = _STORES.get(scheme)
        if target is None:
            hint = ""
            if scheme in ("", "file"):
                hint = (" (a plain directory or file: tracking store is not supported; use "
                        "'sqlite:///path/to/tureen.db')")
            elif scheme == "databricks":
                hint = " (Databricks workspaces are not supported; use a tureen or MLflow server's http(s):// URI)"
            raise InvalidParameterError(f"Unsupported tracking URI {uri!r}{hint}; supported schemes: "
                                        f"{', '.join(sorted(_STORES))}")
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            factory = getattr(importlib.import_module(module_name), attr)
        else:
            factory = target
        store = factory(uri, artifact_root=artifact_root)
        _cache[key] = store
        return store


def reset_stores() -> None:
    """Close every cached store (tests, and processes that fork after using a store)."""
    with _lock:
        for store in _cache.values():
            close = getattr(store, "close", None)
            if close is not None:
                close()
        _cache.clear()
