"""tureen: package trained models by flavor into one MLflow-compatible directory format, and serve them.

Importing this package is cheap: every heavy part (numpy, pandas, frameworks, flask, sqlalchemy) is loaded
on first use through the lazy attributes below (PEP 562).

MLflow's public names resolve here too, so a script written for MLflow runs after one changed line,
``import tureen as mlflow``: the fluent API (``mlflow.start_run``, ``mlflow.log_metric`` ...),
``mlflow.MlflowClient``, the submodules (``mlflow.entities``, ``mlflow.data``, ``mlflow.artifacts``,
``mlflow.models``, ``mlflow.pyfunc``) and every flavor module (``mlflow.sklearn``, ``mlflow.xgboost`` ...,
taken from the flavor registry, so a new flavor appears without an edit here). See
``docs/migrating-from-mlflow.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: attribute -> submodule imported on first use
_LAZY: dict[str, str] = {
    "flavors": "tureen.flavors",
    "pyfunc": "tureen.pyfunc",
    "models": "tureen.models",
    "exceptions": "tureen.exceptions",
    "uri": "tureen.uri",
    "serving": "tureen.serving",
    "docker": "tureen.docker",
    "tracking": "tureen.tracking",
    "registry": "tureen.registry",
    "artifacts": "tureen.artifacts",
    "entities": "tureen.entities",
    "data": "tureen.data",
    "client": "tureen.tracking.client",
    "projects": "tureen.projects",
    "types": "tureen.types",
}

#: the fluent tracking API (``tureen.tracking.fluent``), re-exported here under MLflow's names
_FLUENT_MODULE = "tureen.tracking.fluent"
_FLUENT_NAMES = (  # also ``tureen.tracking.fluent.__all__`` (with ``TrackingClient``): one list
    "set_tracking_uri", "get_tracking_uri", "is_tracking_uri_set", "set_registry_uri", "get_registry_uri",
    "create_experiment", "set_experiment", "get_experiment", "get_experiment_by_name", "delete_experiment",
    "search_experiments", "set_experiment_tag", "set_experiment_tags", "delete_experiment_tag",
    "restore_experiment", "restore_run", "set_model_version_tag", "flush_artifact_async_logging", "start_run",
    "end_run", "active_run", "last_active_run", "get_parent_run", "log_param", "log_params", "log_metric",
    "log_metrics", "set_tag", "set_tags", "delete_tag", "log_artifact", "log_artifacts", "log_text", "log_dict",
    "log_figure", "log_image", "log_table", "load_table", "get_artifact_uri", "get_run", "delete_run",
    "search_runs", "register_model", "search_registered_models", "search_model_versions", "log_input",
    "log_inputs", "log_outputs", "list_run_infos", "list_experiments", "list_registered_models",
    "flush_async_logging", "get_logged_model", "search_logged_models", "last_logged_model", "set_active_model",
    "get_active_model_id", "initialize_logged_model", "create_external_model", "finalize_logged_model",
    "set_logged_model_tags", "delete_logged_model_tag", "ActiveRun",
)

#: further names -> "module:attribute"
_NAMES: dict[str, str] = {
    "autolog": "tureen.autolog:autolog",
    "TrackingClient": "tureen.tracking.client:TrackingClient",
    "MlflowClient": "tureen.tracking.client:MlflowClient",
    "MlflowException": "tureen.exceptions:MlflowException",
    "evaluate": "tureen.models:evaluate",
    "run": "tureen.projects:run",
}

#: names another part of tureen may not provide yet (left out of ``__all__`` so ``import *`` never fails)
_OPTIONAL = ("projects", "evaluate")
__all__ = ["__version__", *(n for n in (*_LAZY, *_FLUENT_NAMES, *_NAMES) if n not in _OPTIONAL)]


def _flavor_modules() -> dict[str, str]:
    """Flavor name -> its module, from the flavor registry (built-ins and installed entry points)."""
    import tureen.flavors as registry

    registry._load_entry_points()
    return {name: target.partition(":")[0] for name, target in registry.FLAVORS.items()
            if name != "python_function" and name.isidentifier() and name not in _LAZY}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None and not name.startswith("_") and name not in _FLUENT_NAMES and name not in _NAMES:
        target = _flavor_modules().get(name)  # mlflow.sklearn, mlflow.xgboost, ...: the flavor modules
    if target is not None:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name != target:
                raise
            raise AttributeError(f"module 'tureen' has no attribute {name!r} (not in this version: see "
                                 "docs/migrating-from-mlflow.md)") from None
        globals()[name] = module
        return module
    if name in _FLUENT_NAMES:
        value = getattr(importlib.import_module(_FLUENT_MODULE), name)
    elif name in _NAMES:
        module_name, _, attr = _NAMES[name].partition(":")
        try:
            value = getattr(importlib.import_module(module_name), attr)
        except (AttributeError, ModuleNotFoundError) as exc:
            if isinstance(exc, ModuleNotFoundError) and exc.name != module_name:
                raise
            raise AttributeError(f"module 'tureen' has no attribute {name!r} (yet: see "
                                 "docs/migrating-from-mlflow.md)") from None
    else:
        raise AttributeError(f"module 'tureen' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_flavor_modules()))
