"""tureen: package trained models by flavor into one MLflow-compatible directory format, and serve them.

Importing this package is cheap: every heavy part (numpy, pandas, frameworks, flask, sqlalchemy) is loaded
on first use through the lazy attributes below (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# attribute -> "module:name" (or "module" for a submodule)
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
    "projects": "tureen.projects",
}
# The fluent tracking API (added by the tracking package) registers itself in _FLUENT.
_FLUENT_MODULE = "tureen.tracking.fluent"
_FLUENT_NAMES = (
    "set_tracking_uri", "get_tracking_uri", "set_registry_uri", "get_registry_uri", "create_experiment",
    "set_experiment", "get_experiment", "get_experiment_by_name", "delete_experiment", "start_run",
    "end_run", "active_run", "last_active_run", "log_param", "log_params", "log_metric", "log_metrics",
    "set_tag", "set_tags", "delete_tag", "log_artifact", "log_artifacts", "log_text", "log_dict",
    "get_artifact_uri", "get_run", "delete_run", "search_runs", "register_model", "log_input", "autolog",
    "TrackingClient",
)

__all__ = ["__version__", *_LAZY, *_FLUENT_NAMES]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is not None:
        module = importlib.import_module(target)
        globals()[name] = module
        return module
    if name in _FLUENT_NAMES:
        if name == "autolog":
            module = importlib.import_module("tureen.autolog")
        elif name == "TrackingClient":
            module = importlib.import_module("tureen.tracking.client")
        else:
            module = importlib.import_module(_FLUENT_MODULE)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tureen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
