"""Flavors: one module per framework, found through this registry (and the ``tureen.flavors`` entry points).

``tureen.flavors.sklearn`` etc. are imported lazily on attribute access, and importing a flavor module never
imports its framework: that happens inside the functions that need it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["FLAVORS", "LOADER_MODULES", "get_flavor_module", "loader_module_for"]

#: flavor name -> import string of its module
FLAVORS: dict[str, str] = {
    "sklearn": "tureen.flavors.sklearn",
    "python_function": "tureen.pyfunc.model",
    "pytorch": "tureen.flavors.pytorch",
    "tensorflow": "tureen.flavors.tensorflow",
    "keras": "tureen.flavors.tensorflow",
    "xgboost": "tureen.flavors.xgboost",
    "lightgbm": "tureen.flavors.lightgbm",
}

#: ``loader_module`` names found in MLmodel files (MLflow's and ours) -> the tureen module that loads them
LOADER_MODULES: dict[str, str] = {
    "mlflow.sklearn": "tureen.flavors.sklearn",
    "mlflow.pyfunc.model": "tureen.pyfunc.model",
    "mlflow.pytorch": "tureen.flavors.pytorch",
    "mlflow.tensorflow": "tureen.flavors.tensorflow",
    "mlflow.keras": "tureen.flavors.tensorflow",
    "mlflow.xgboost": "tureen.flavors.xgboost",
    "mlflow.lightgbm": "tureen.flavors.lightgbm",
}

_ENTRY_POINTS_LOADED = False


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="tureen.flavors"):
        FLAVORS.setdefault(ep.name, ep.value)


def get_flavor_module(name: str) -> ModuleType:
    """The module implementing flavor ``name``.

    Example:
        >>> get_flavor_module("sklearn").FLAVOR_NAME
        'sklearn'
    """
    target = FLAVORS.get(name)
    if target is None:
        _load_entry_points()
        target = FLAVORS.get(name)
    if target is None:
        from tureen.exceptions import InvalidParameterError

        raise InvalidParameterError(f"Unknown flavor {name!r}; known flavors: {', '.join(sorted(FLAVORS))}")
    return importlib.import_module(target)


def loader_module_for(name: str) -> str:
    """Map an MLmodel ``loader_module`` to the module tureen loads it with, through the gate's allow-list.

    Raises:
        UntrustedCodeError: ``name`` is not a known loader (nothing is imported).

    Example:
        >>> loader_module_for("mlflow.pytorch")
        'tureen.flavors.pytorch'
    """
    from tureen.flavors._gate import resolve_loader_module

    return resolve_loader_module(name)


def __getattr__(name: str) -> Any:
    if name in FLAVORS and name not in ("python_function", "keras"):
        module = importlib.import_module(FLAVORS[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tureen.flavors' has no attribute {name!r}")
