"""Experiment tracking: runs, params, metrics, tags, artifacts and logged models.

Import-light: the store (and so sqlalchemy) loads only when a store is first used. The fluent functions
are re-exported by the top-level ``tureen`` package; :class:`TrackingClient` (MLflow's name:
``MlflowClient``) is the explicit client.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["TrackingClient", "MlflowClient", "fluent", "entities", "client", "get_tracking_uri",
           "set_tracking_uri", "is_tracking_uri_set", "get_registry_uri", "set_registry_uri"]

_FROM_FLUENT = ("get_tracking_uri", "set_tracking_uri", "is_tracking_uri_set", "get_registry_uri",
                "set_registry_uri")


def __getattr__(name: str) -> Any:
    if name in ("TrackingClient", "MlflowClient"):
        return getattr(importlib.import_module("tureen.tracking.client"), name)
    if name in _FROM_FLUENT:
        return getattr(importlib.import_module("tureen.tracking.fluent"), name)
    if name in ("fluent", "entities", "client"):
        return importlib.import_module(f"tureen.tracking.{name}")
    raise AttributeError(f"module 'tureen.tracking' has no attribute {name!r}")
