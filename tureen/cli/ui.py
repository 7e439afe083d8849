"""``tureen ui``: the web UI on a local store, without the tracking server.

Attach: the click command ``ui`` as ``tureen ui`` (listed in ``tureen.cli.COMMANDS``).
"""

from __future__ import annotations

import click


@click.command("ui")
@click.option("--backend-store-uri", default=None, metavar="URI",
              help="The tracking store to show (default: the tracking URI, TUREEN_TRACKING_URI / MLFLOW_TRACKING_URI).")
@click.option("--registry-store-uri", default=None, metavar="URI", help="The model registry store (default: the backend store).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("-p", "--port", type=click.IntRange(0, 65535), default=5000, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Worker threads answering requests.")
def ui(backend_store_uri: str | None, registry_store_uri: str | None, host: str, port: int, threads: int) -> None:
    """Serve the web UI (experiments, runs, charts, comparison, registry) on a local store.

    Example: tureen ui --backend-store-uri sqlite:///mlruns.db --port 5000
    """
    from werkzeug.serving import make_server

    from tureen.server.ui import create_ui_app

    app = create_ui_app(backend_store_uri, registry_store_uri)
    # open the store now: a wrong URI is a clear error before anything listens
    app.config["TUREEN_UI_CLIENT"].search_experiments(max_results=1)
    try:
        server = make_server(host, port, app, threaded=True)
    except (OSError, UnicodeError, ValueError) as exc:
        from tureen.exceptions import InvalidParameterError

        raise InvalidParameterError(f"cannot listen on {host!r} port {port}: {exc}") from None
    server.daemon_threads = True
    click.echo(f"tureen ui on http://{host}:{server.server_port}/ (store: {app.config['TUREEN_UI_CLIENT'].tracking_uri})",
               err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
