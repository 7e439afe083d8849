"""Experiment tracking: runs, params, metrics, tags, artifacts and logged models.

Import-light: the store (and so sqlalchemy) loads only when a store is first used. The fluent functions
are re-exported by the top-level ``tureen`` package; :class:`TrackingClient` is the explicit client.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["TrackingClient", "fluent", "entities"]


def __getattr__(name: str) -> Any:
    if name == "TrackingClient":
        from tureen.tracking.client import TrackingClient

        return TrackingClient
    if name in ("fluent", "entities", "client"):
        return importlib.import_module(f"tureen.tracking.{name}")
    raise AttributeError(f"module 'tureen.tracking' has no attribute {name!r}")
