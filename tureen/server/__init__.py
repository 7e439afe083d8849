"""``tureen server``: MLflow's tracking/registry REST API and artifact proxy over tureen's stores.

:func:`tureen.server.app.create_app` builds the Flask app, :func:`tureen.server.wsgi.run` serves it under
gunicorn; :mod:`tureen.server.ui` is the web UI it serves at ``/``. Importing this package loads nothing heavy.
"""

from __future__ import annotations

__all__: list[str] = []
