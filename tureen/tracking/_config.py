"""Where tracking data lives: ``TUREEN_HOME``, the tracking URI and the registry URI.

With no configuration at all, tracking and registry use one embedded SQLite database
``$TUREEN_HOME/tureen.db`` (``TUREEN_HOME`` defaults to ``~/.tureen``) and artifacts go under
``$TUREEN_HOME/artifacts``.

Precedence, first match wins (``tureen --version`` shows which one applied):

* tracking URI: :func:`set_tracking_uri` > ``TUREEN_TRACKING_URI`` > ``MLFLOW_TRACKING_URI`` > the default;
* registry URI: :func:`set_registry_uri` > ``TUREEN_REGISTRY_URI`` > ``MLFLOW_REGISTRY_URI`` > the tracking URI.

An unchanged MLflow script that sets only ``MLFLOW_TRACKING_URI`` therefore writes where it always did.
"""

from __future__ import annotations

import os
from pathlib import Path

_tracking_uri: str | None = None
_registry_uri: str | None = None


def tureen_home() -> Path:
    """The tureen home directory (``TUREEN_HOME``, default ``~/.tureen``)."""
    return Path(os.environ.get("TUREEN_HOME") or "~/.tureen").expanduser().absolute()


def default_tracking_uri() -> str:
    return f"sqlite:///{tureen_home() / 'tureen.db'}"


def _normalize(uri: str | os.PathLike[str]) -> str:
    uri = os.fspath(uri)
    if not isinstance(uri, str) or not uri.strip():
        from tureen.exceptions import InvalidParameterError

        raise InvalidParameterError(f"A tracking URI must be a non-empty string, got {uri!r}")
    return uri.strip()


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    global _tracking_uri
    _tracking_uri = None if uri is None else _normalize(uri)


def tracking_uri_source() -> tuple[str, str]:
    """The tracking URI and where it came from (``set_tracking_uri()``, an environment name, or default).

    Example:
        >>> tracking_uri_source()[1] in ("set_tracking_uri()", "TUREEN_TRACKING_URI", "MLFLOW_TRACKING_URI",
        ...                              "default")
        True
    """
    if _tracking_uri:
        return _tracking_uri, "set_tracking_uri()"
    for name in ("TUREEN_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        value = os.environ.get(name, "").strip()
        if value:
            return value, name
    return default_tracking_uri(), "default"


def get_tracking_uri() -> str:
    return tracking_uri_source()[0]


def set_registry_uri(uri: str | os.PathLike[str] | None) -> None:
    global _registry_uri
    _registry_uri = None if uri is None else _normalize(uri)


def registry_uri_source() -> tuple[str, str]:
    """The registry URI and where it came from (see the module docstring for the precedence)."""
    if _registry_uri:
        return _registry_uri, "set_registry_uri()"
    for name in ("TUREEN_REGISTRY_URI", "MLFLOW_REGISTRY_URI"):
        value = os.environ.get(name, "").strip()
        if value:
            return value, name
    uri, source = tracking_uri_source()
    return uri, f"the tracking URI ({source})"


def get_registry_uri() -> str:
    return registry_uri_source()[0]


def default_artifact_root(store_uri: str) -> str:
    """Where new experiments put their artifacts unless told otherwise.

    ``TUREEN_ARTIFACT_ROOT`` if set; for a SQLite file, an ``artifacts`` directory beside it; otherwise
    ``$TUREEN_HOME/artifacts``.
    """
    env = os.environ.get("TUREEN_ARTIFACT_ROOT")
    if env:
        return env
    if store_uri.startswith("sqlite:///") and store_uri != "sqlite:///:memory:":
        db = Path(store_uri[len("sqlite:///"):].split("?")[0])
        return str((db.parent / "artifacts").absolute())
    return str(tureen_home() / "artifacts")
