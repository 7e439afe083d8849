"""Serving: a Flask app speaking MLflow's scoring protocol and the Open Inference Protocol, run under gunicorn.

``create_app(model_or_uri, settings)`` returns the WSGI app; ``tureen serve URI`` (or
:func:`tureen.serving.wsgi.run`) runs it under gunicorn. Importing this package loads nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "create_app": "tureen.serving.app",
    "ServingSettings": "tureen.serving.settings",
    "run": "tureen.serving.wsgi",
    "serve_in_background": "tureen.serving.testing",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tureen.serving' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
