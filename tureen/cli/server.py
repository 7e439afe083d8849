"""``tureen server``: the tracking and registry server a team shares (MLflow's REST API + artifact proxy)."""

from __future__ import annotations

import os
from typing import Any

import click

from tureen.cli import LazyGroup

__all__ = ["server"]

#: subcommands of ``tureen server`` that live in other parts (imported only when used)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "users": ("tureen.server.auth.cli:users", "Manage the users and permissions of an --auth server."),
}


def _split(values: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (values or "").split(",") if v.strip())


@click.group("server", cls=LazyGroup, lazy=SUBCOMMANDS, invoke_without_command=True)
@click.option("--backend-store-uri", default=None, metavar="URI",
              help="Tracking database: sqlite:///path.db, postgresql://… [MLFLOW_TRACKING_URI or "
                   "TUREEN_TRACKING_URI when it is a database URI; default sqlite:///mlruns.db]")
@click.option("--registry-store-uri", default=None, metavar="URI",
              help="Model registry database. [default: the backend store]")
@click.option("--default-artifact-root", default=None, metavar="URI",
              help="Artifact root of new experiments. [default mlflow-artifacts:/ with --serve-artifacts]")
@click.option("--serve-artifacts/--no-serve-artifacts", default=True, show_default=True,
              help="Proxy artifact uploads and downloads (mlflow-artifacts:/ URIs) through this server.")
@click.option("--artifacts-destination", default=None, metavar="URI",
              help="Where proxied artifacts are stored (a path or s3://…). [default ./mlartifacts]")
@click.option("--artifacts-only", is_flag=True, default=False,
              help="Serve only the artifact proxy (no tracking or registry endpoints).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (0.0.0.0 exposes the server to the network).")
@click.option("-p", "--port", type=int, default=5000, show_default=True, help="Port; 0 picks a free one.")
@click.option("-w", "--workers", type=int, default=None,
              help="Worker processes. [MLFLOW_WORKERS; default 2]")
@click.option("--threads", type=int, default=4, show_default=True, help="Threads per worker.")
@click.option("--timeout", type=int, default=120, show_default=True,
              help="Seconds without a worker heartbeat before gunicorn replaces it.")
@click.option("--allowed-hosts", default=None, metavar="LIST",
              help="Comma-separated Host header values to answer (e.g. 'mlflow.example.com,*.corp'; '*' = any). "
                   "[default: localhost, the bind address and private IPs]")
@click.option("--cors-allowed-origins", default=None, metavar="LIST",
              help="Comma-separated origins allowed to call the API from a browser ('*' = any).")
@click.option("--auth", is_flag=True, default=False, help="Require authentication (basic or bearer).")
@click.pass_context
def server(ctx: click.Context, backend_store_uri: str | None, registry_store_uri: str | None,
           default_artifact_root: str | None, serve_artifacts: bool, artifacts_destination: str | None,
           artifacts_only: bool, host: str, port: int, workers: int | None, threads: int, timeout: int,
           allowed_hosts: str | None, cors_allowed_origins: str | None, auth: bool) -> None:
    """Run the tracking server until Ctrl-C (MLflow's REST API 2.0, so MLflow's clients work too).

    \b
    Example:
        tureen server --backend-store-uri sqlite:///mlruns.db --port 5000
        MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python train.py
    """
    if ctx.invoked_subcommand is not None:
        return
    from tureen.server.app import ServerSettings
    from tureen.server.wsgi import run

    if backend_store_uri is None:
        env = os.environ.get("MLFLOW_BACKEND_STORE_URI") or os.environ.get("TUREEN_BACKEND_STORE_URI")
        backend_store_uri = env or "sqlite:///mlruns.db"
    if workers is None:
        workers = int(os.environ.get("MLFLOW_WORKERS", "2"))
    if workers < 1 or threads < 1 or timeout < 1:
        raise click.BadParameter("--workers, --threads and --timeout must be at least 1")
    if not 0 <= port <= 65535:
        raise click.BadParameter(f"--port {port} is not a port number")
    options: dict[str, Any] = dict(
        backend_store_uri=backend_store_uri, registry_store_uri=registry_store_uri,
        default_artifact_root=default_artifact_root, serve_artifacts=serve_artifacts or artifacts_only,
        artifacts_destination=artifacts_destination, artifacts_only=artifacts_only, host=host, port=port,
        workers=workers, threads=threads, timeout=timeout, allowed_hosts=_split(allowed_hosts),
        cors_allowed_origins=_split(cors_allowed_origins), auth=auth)
    run(ServerSettings(**options))
