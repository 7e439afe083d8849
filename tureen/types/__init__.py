"""MLflow's ``mlflow.types``: the schema types of signatures (``Schema``, ``ColSpec``, ``TensorSpec``,
``DataType``, ``ParamSchema``, ``ParamSpec`` ...), which in tureen live in :mod:`tureen.models.signature`;
``mlflow.types.schema`` is that module. Nothing is imported until a name is used.

Example:
    >>> from tureen.types import ColSpec
    >>> ColSpec("double", "x").name
    'x'
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = ("Schema", "ColSpec", "TensorSpec", "DataType", "ParamSchema", "ParamSpec", "Array", "Object", "Property",
          "Map", "AnyType")
__all__ = [*_NAMES, "schema"]


def __getattr__(name: str) -> Any:
    module = importlib.import_module("tureen.models.signature")
    if name == "schema":
        return module
    if name in _NAMES:
        return getattr(module, name)
    raise AttributeError(f"module 'tureen.types' has no attribute {name!r}")
