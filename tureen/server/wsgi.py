"""Run the tracking server under gunicorn, programmatically.

The stores are opened (and the database migrated) once in the master before any worker starts, then
closed, so every worker opens its own connections after the fork. Workers are ``gthread`` workers: a long
artifact upload or download runs in a thread while the worker keeps sending heartbeats, so gunicorn never
kills it for a timeout; a worker that dies is replaced by the master, and SIGTERM lets in-flight requests
finish (``graceful_timeout``).

Example:
    >>> run(ServerSettings(backend_store_uri="sqlite:////tmp/t.db", port=5000))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from tureen.server.app import ServerSettings

__all__ = ["run", "gunicorn_options", "READY_LINE"]

#: printed once the server listens (tests and `make demo` read the URL from it)
READY_LINE = "tureen: tracking server at {url}"


def gunicorn_options(settings: ServerSettings) -> dict[str, Any]:
    """The gunicorn configuration for ``settings``.

    Example:
        >>> gunicorn_options(ServerSettings(port=5001))["bind"]
        ['127.0.0.1:5001']
    """
    host = settings.host
    bind = f"[{host}]:{settings.port}" if ":" in host else f"{host}:{settings.port}"
    return {
        "bind": [bind],
        "workers": max(1, int(settings.workers)),
        "threads": max(1, int(settings.threads)),
        "worker_class": "gthread",
        "timeout": int(settings.timeout),
        "graceful_timeout": int(settings.graceful_timeout),
        "keepalive": 5,
        "preload_app": False,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "tureen-server",
        "limit_request_line": 8190,
        "control_socket_disable": True,
    }


def prepare(settings: ServerSettings) -> None:
    """Open the stores once (creating or migrating the schema) and close them again before forking.

    Raises:
        TureenError: a store cannot be opened (bad URI, database unreachable, foreign schema).
    """
    from tureen.tracking.stores import get_store, reset_stores

    get_store(settings.backend_store_uri, settings.artifact_root)
    if settings.registry_store_uri and settings.registry_store_uri != settings.backend_store_uri:
        get_store(settings.registry_store_uri, settings.artifact_root)
    if settings.serve_artifacts:
        from tureen.artifacts import get_artifact_repository

        repo = get_artifact_repository(settings.destination)
        local = getattr(repo, "local_path", None)
        if local is not None:
            local().mkdir(parents=True, exist_ok=True)
    if settings.auth:
        # the auth database and its first admin, once before forking: a missing admin password is one
        # clear error here instead of every worker failing to boot
        from tureen.server.auth import AuthSettings, open_store

        open_store(AuthSettings.resolve(settings)).engine.dispose()
    reset_stores()


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn's ``post_fork`` hook, in each worker just after the fork: drop any store inherited from the
    master, and turn on background WAL checkpoints for the SQLite stores this worker opens (each worker runs
    its own checkpoint thread, started by its first write; the master never starts one)."""
    from tureen.store._engine import enable_background_checkpoints
    from tureen.tracking.stores import reset_stores

    reset_stores()  # never share a connection pool inherited from the master
    enable_background_checkpoints()


def run(settings: ServerSettings) -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    from gunicorn.app.base import BaseApplication

    if not settings.artifacts_only:
        prepare(settings)
    options = gunicorn_options(settings)
    announced = {"done": False}

    def when_ready(server: Any) -> None:
        if announced["done"]:
            return
        announced["done"] = True
        for lst in server.LISTENERS:
            host, port = lst.sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(READY_LINE.format(url=f"http://{shown}:{port}"), flush=True)

    class _Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)
            self.cfg.set("when_ready", when_ready)
            self.cfg.set("post_fork", post_fork)

        def load(self) -> Any:
            from tureen.server.app import create_app

            return create_app(settings)

    _Server().run()
