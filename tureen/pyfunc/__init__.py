"""pyfunc: load any flavor's model as one generic ``predict`` interface, and write custom Python models.

``tureen.pyfunc.load_model(uri).predict(df)`` works for every flavor; the model's signature is enforced.
Importing this package loads nothing heavy: names resolve lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "load_model": "tureen.pyfunc._loader",
    "PyFuncModel": "tureen.pyfunc._loader",
    "PythonModel": "tureen.pyfunc.model",
    "PythonModelContext": "tureen.pyfunc.model",
    "save_model": "tureen.pyfunc.model",
    "log_model": "tureen.pyfunc.model",
    "spark_udf": "tureen.pyfunc.spark",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tureen.pyfunc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
