"""The web UI: experiments, runs, metric charts, run comparison and the model registry in the browser.

Server-rendered pages (Jinja2 templates in this package) with htmx for partial updates and uPlot for
charts; both are vendored under ``static/`` with their licences, so nothing is fetched from a CDN. Tables
are readable without JavaScript. :func:`install` adds the pages to any Flask app (``tureen server`` does it,
behind its authentication); ``tureen ui`` serves them alone on a local store.

Example:
    >>> from flask import Flask  # doctest: +SKIP
    >>> from tureen import TrackingClient  # doctest: +SKIP
    >>> app = Flask("demo")  # doctest: +SKIP
    >>> install(app, lambda: TrackingClient("sqlite:////tmp/ui-demo.db"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["install", "create_ui_app"]


def install(app: Any, client_factory: Callable[[], Any], url_prefix: str = "",
            artifact_repo: Callable[[str], Any] | None = None) -> None:
    """Register the UI's blueprint on a Flask ``app``; ``client_factory()`` gives a ``TrackingClient``.

    The pages live at ``url_prefix`` + ``/`` (the experiments list), ``/experiments/<id>`` (its runs),
    ``/runs/<id>``, ``/charts``, ``/compare``, ``/models`` …; the static files under ``/ui-static/``.
    ``artifact_repo(uri)`` opens an artifact URI as the host app sees it (the tracking server maps its
    ``mlflow-artifacts:/`` URIs to its artifact destination); by default
    :func:`tureen.artifacts.get_artifact_repository`.
    """
    from tureen.server.ui._views import make_blueprint

    app.register_blueprint(make_blueprint(client_factory, artifact_repo), url_prefix=url_prefix or None)


def create_ui_app(tracking_uri: str | None = None, registry_uri: str | None = None) -> Any:
    """A Flask app serving only the UI on a store (what ``tureen ui`` runs).

    Example:
        >>> app = create_ui_app("sqlite:////tmp/ui-demo.db")  # doctest: +SKIP
    """
    from flask import Flask

    from tureen.tracking.client import TrackingClient

    client = TrackingClient(tracking_uri, registry_uri)
    app = Flask("tureen.server.ui")
    app.config["TUREEN_UI_CLIENT"] = client
    install(app, lambda: client)
    return app
