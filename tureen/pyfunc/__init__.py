"""pyfunc: load any flavor's model as one generic ``predict`` interface, and write custom Python models.

``tureen.pyfunc.load_model(uri).predict(df)`` works for every flavor; the model's signature is enforced.
Importing this package loads nothing heavy: names resolve lazily.
"""

from __future__ import annotations

from tureen._lazy import lazy_attributes

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


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
