"""Serving: a Flask app speaking MLflow's scoring protocol and the Open Inference Protocol, run under gunicorn.

``create_app(model_or_uri, settings)`` returns the WSGI app; ``tureen serve URI`` (or
:func:`tureen.serving.wsgi.run`) runs it under gunicorn. Importing this package loads nothing heavy.
"""

from __future__ import annotations

from tureen._lazy import lazy_attributes

_LAZY = {
    "create_app": "tureen.serving.app",
    "ServingSettings": "tureen.serving.settings",
    "run": "tureen.serving.wsgi",
    "serve_in_background": "tureen.serving.testing",
}

__all__ = list(_LAZY)


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
