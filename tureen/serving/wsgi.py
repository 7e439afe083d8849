"""Run the scoring app under gunicorn, programmatically (no config file, no command-line parsing).

The model URI is resolved once, here, before any worker starts. With ``preload`` (the default) the master
process loads the model and forks the workers, which share its memory; without it (or when a flavor's
runtime is not fork-safe) each worker loads the model before it starts accepting connections.

Run directly: ``python -m tureen.serving.wsgi MODEL_URI`` (settings from ``TUREEN_SERVING_*``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tureen.serving.settings import ServingSettings

__all__ = ["run", "run_many", "gunicorn_options"]

#: printed once the server listens; testing.serve_in_background reads the URL from it
READY_LINE = "tureen: serving {uri} at {url}"


def gunicorn_options(settings: ServingSettings) -> dict[str, Any]:
    """The gunicorn configuration for ``settings``.

    Example:
        >>> gunicorn_options(ServingSettings(port=8080))["bind"]
        ['127.0.0.1:8080']
    """
    host = settings.host
    bind = f"[{host}]:{settings.port}" if ":" in host else f"{host}:{settings.port}"
    return {
        "bind": [bind],
        "workers": int(settings.workers),
        "threads": int(settings.threads),
        "worker_class": settings.worker_class,
        # the app answers 504 at settings.timeout; gunicorn kills a stuck worker only well after that
        "timeout": int(settings.timeout) + 30,
        "graceful_timeout": max(1, int(round(settings.graceful_timeout))),
        "keepalive": max(1, int(round(settings.keepalive))),
        "preload_app": bool(settings.preload),
        "worker_connections": int(settings.max_connections),
        "backlog": int(settings.backlog),
        "accesslog": None,  # the app writes one structured line per request itself
        "errorlog": "-",
        "loglevel": "debug" if settings.debug else "info",
        "proc_name": "tureen-serve",
        "limit_request_line": 8190,
        "control_socket_disable": True,
    }


def run(model_uri: str, settings: ServingSettings | None = None) -> None:
    """Serve ``model_uri`` in the foreground until SIGINT/SIGTERM (in-flight requests finish first).

    Raises:
        TureenError: the URI cannot be resolved, or (with preload) the model cannot be loaded.

    Example:
        >>> run("models:/churn/Production", ServingSettings(port=5000))  # doctest: +SKIP
    """
    from tureen.serving.metrics import Metrics
    from tureen.uri import resolve_model_uri

    settings = settings or ServingSettings.from_env()
    path = resolve_model_uri(model_uri)  # once, before any worker starts
    if settings.preload:
        unsafe = fork_unsafe_flavors(path)
        if unsafe:
            print(f"tureen: loading the model in each worker (no preload): the {', '.join(unsafe)} flavor's "
                  "runtime cannot be shared with forked workers", file=sys.stderr, flush=True)
            settings = settings.replace(preload=False)
    if settings.model_name is None:
        from tureen.serving.app import _default_name

        settings = settings.replace(model_name=_default_name(str(model_uri), path))
    slots = max(2, int(settings.workers) * 2)
    metrics = Metrics(slots=slots)

    def load() -> Any:
        from tureen.serving.app import create_app

        # Without preload each worker loads the model before it accepts a connection, so a worker that is
        # still loading never answers 503 while another one could serve the request.
        return create_app(str(path), settings, metrics=metrics, model_uri=str(model_uri))

    _gunicorn(settings, metrics, slots, load, str(model_uri), lambda url: _curl_example(path, url))


def run_many(specs: list[Any], settings: ServingSettings | None = None) -> None:
    """Serve several models in one server (see :mod:`tureen.serving.multi`) until SIGINT/SIGTERM.

    Args:
        specs: :class:`~tureen.serving.repository.ModelSpec` entries (unique names).
        settings: serving settings; ``max_memory`` caps the loaded models' memory.

    Raises:
        TureenError: a URI cannot be resolved, or (with preload) a model cannot be loaded.

    Example:
        >>> from tureen.serving.repository import ModelSpec
        >>> run_many([ModelSpec("a", "models:/churn@champion"), ModelSpec("b", "./other")])  # doctest: +SKIP
    """
    from tureen.serving.metrics import Metrics
    from tureen.serving.repository import ModelRepository

    settings = settings or ServingSettings.from_env()
    repo = ModelRepository(specs, settings)  # every URI resolved once, before any worker starts
    if settings.preload:
        unsafe = sorted({f for e in repo.entries.values() for f in fork_unsafe_flavors(e.path)})
        if unsafe:
            print(f"tureen: loading the models in each worker (no preload): the {', '.join(unsafe)} flavor's "
                  "runtime cannot be shared with forked workers", file=sys.stderr, flush=True)
            settings = settings.replace(preload=False)
        elif settings.max_memory is not None:
            # memory a worker frees must be its own: pages shared with the master would stay in use
            settings = settings.replace(preload=False)
        repo.settings = settings
    slots = max(2, int(settings.workers) * 2)
    metrics = Metrics(slots=slots, models=repo.names)

    def load() -> Any:
        from tureen.serving.multi import create_multi_app

        return create_multi_app(repo, settings, metrics=metrics)

    _gunicorn(settings, metrics, slots, load, ", ".join(repo.names), lambda url: None)


def _gunicorn(settings: ServingSettings, metrics: Any, slots: int, load: Any, label: str, example: Any) -> None:
    from gunicorn.app.base import BaseApplication

    options = gunicorn_options(settings)
    announced = {"done": False}

    def pre_fork(server: Any, worker: Any) -> None:
        used = {getattr(w, "tureen_slot", None) for w in server.WORKERS.values()}
        worker.tureen_slot = next(i for i in range(slots + len(used) + 1) if i not in used)

    def post_fork(server: Any, worker: Any) -> None:
        metrics.use_slot(worker.tureen_slot)
        metrics.worker_started()

    def when_ready(server: Any) -> None:
        if announced["done"]:
            return
        announced["done"] = True
        urls = []
        for lst in server.LISTENERS:
            host, port = lst.sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            urls.append(f"http://{shown}:{port}")
            print(READY_LINE.format(uri=label, url=urls[-1]), flush=True)
        text = example(urls[0]) if urls else None
        if text:
            print(f"try: {text}", flush=True)

    class _Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)
            self.cfg.set("pre_fork", pre_fork)
            self.cfg.set("post_fork", post_fork)
            self.cfg.set("when_ready", when_ready)

        def load(self) -> Any:
            app = load()
            if settings.gc_freeze:
                freeze_loaded_heap()
            return app

    _Server().run()


def freeze_loaded_heap() -> int:
    """Collect once, then move every surviving object into the permanent generation (``gc.freeze``).

    Called once the model is loaded (in the master with preload, before any fork; in each worker without it).
    Later collections skip the frozen objects, so a full collection no longer walks the model and its libraries
    while a request waits. Returns how many objects are frozen.

    Example:
        >>> freeze_loaded_heap() > 0
        True
    """
    import gc

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def fork_unsafe_flavors(model_dir: Any) -> list[str]:
    """Flavors of the model whose runtime breaks in workers forked after loading (declared ``fork_safe = False``).

    Example:
        >>> fork_unsafe_flavors("churn_model")  # doctest: +SKIP
        []
    """
    from tureen.flavors import FLAVORS, flavor_for_loader, get_flavor
    from tureen.models.mlmodel import Model

    try:
        meta = Model.load(model_dir)
    except Exception:  # noqa: BLE001 - loading reports a bad MLmodel properly later
        return []
    flavors = []
    for name in meta.flavors:
        if name in FLAVORS:
            try:
                flavors.append(get_flavor(name))
            except Exception:  # noqa: BLE001 - an unavailable flavor is reported at load
                continue
    loader = (meta.flavors.get("python_function") or {}).get("loader_module")
    if loader:
        flavor = flavor_for_loader(loader)
        if flavor is not None:
            flavors.append(flavor)
    return sorted({f.name for f in flavors if not f.fork_safe})


def _curl_example(model_dir: Any, url: str) -> str | None:
    """A ready-to-paste curl command scoring the model's own serving example (when it is short)."""
    import json
    import shlex
    from pathlib import Path

    file = Path(model_dir) / "serving_input_example.json"
    try:
        body = json.dumps(json.loads(file.read_text(encoding="utf-8")), separators=(",", ":"))
    except (OSError, ValueError):
        return None
    if len(body) > 400:
        return None
    return (f"curl -s {url}/invocations -H 'Content-Type: application/json' -d {shlex.quote(body)}")


def model_specs(args: list[str], config: str | None = None, registered: bool = False,
                settings: ServingSettings | None = None) -> tuple[list[Any], ServingSettings] | None:
    """What to serve: None for one plain model URI (``args[0]``), else the model specs of ``NAME=URI``
    arguments, a config file (``--config FILE`` among ``args`` or ``config``) and ``registered`` (every alias
    of the registry's models), with the settings (the config file's settings under the explicit ones).

    Raises:
        InvalidParameterError: a bad argument, name or config file (naming it).
    """
    from tureen.exceptions import InvalidParameterError
    from tureen.serving.repository import ModelSpec, parse_model_arg, read_config, registered_model_specs

    args = list(args)
    if "--config" in args:
        i = args.index("--config")
        if i + 1 >= len(args):
            raise InvalidParameterError("--config needs a file")
        config = args[i + 1]
        del args[i:i + 2]
    if "--registered-models" in args:
        args.remove("--registered-models")
        registered = True
    if config is None and not registered and len(args) == 1 and parse_model_arg(args[0]) is None:
        return None
    specs: list[Any] = []
    file_settings: dict[str, Any] = {}
    for arg in args:
        pair = parse_model_arg(arg)
        if pair is None:
            raise InvalidParameterError(f"{arg!r}: with several models give each as NAME=URI")
        specs.append(ModelSpec(*pair))
    if config is not None:
        more, file_settings = read_config(config)
        specs.extend(more)
    if registered:
        specs.extend(registered_model_specs())
    base = settings or ServingSettings.from_env()
    if file_settings:
        from dataclasses import fields

        known = {f.name for f in fields(ServingSettings)}
        unknown = sorted(set(file_settings) - known)
        if unknown:
            raise InvalidParameterError(f"The serving config {config!r} has unknown settings {unknown}")
        explicit = settings.__dict__ if settings is not None else {}
        defaults = ServingSettings()
        merged = {k: v for k, v in file_settings.items()
                  if explicit.get(k, getattr(defaults, k)) == getattr(defaults, k)}
        base = ServingSettings.from_env(**{**{k: getattr(base, k) for k in known}, **{
            k: (str(v) if not isinstance(v, (bool, int, float)) else v) for k, v in merged.items()}})
    return specs, base


def main(argv: list[str] | None = None) -> None:
    """``python -m tureen.serving.wsgi MODEL_URI``: serve with settings from ``TUREEN_SERVING_*``."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m tureen.serving.wsgi MODEL_URI | NAME=URI... | --config FILE", file=sys.stderr)
        sys.exit(2)
    from tureen.exceptions import TureenError

    try:
        specs = model_specs(args)
        if specs is None:
            run(args[0])
        else:
            run_many(*specs)
    except TureenError as exc:
        print(f"Error ({exc.error_code}): {exc.message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
