"""The scoring app for several models in one server (``tureen serve a=URI b=URI``, a config file, or
``--registered-models``).

Endpoints, besides ``/ping``, ``/health``, ``/version``, ``/metrics`` and ``/v2/health/*``:

* ``POST /invocations/<name>``: MLflow's scoring protocol for one model (``/invocations`` alone is a 404
  naming the models);
* ``GET /metadata/<name>``;
* ``GET /v2/models/<name>``, ``GET /v2/models/<name>/ready``, ``POST /v2/models/<name>/infer`` (and their
  ``/versions/<v>`` forms): the Open Inference Protocol;
* ``POST /v2/repository/index``, ``POST /v2/repository/models/<name>/load`` and ``.../unload``: the model
  repository API of Triton and MLServer, over the configured models only;
* ``GET /ready``: 200 with each model's state.

A name is only ever looked up among the configured models (:mod:`tureen.serving.repository`).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from tureen.exceptions import BadRequestError, TureenError
from tureen.serving.app import (_JSON, _Instrumented, _Scorer, _plain_error, _read_body, answer_alone, recorder,
                                register_common_routes, register_error_handlers, v2_error_response,
                                v2_infer_response, v2_metadata_response)
from tureen.serving.repository import READY, ModelRepository
from tureen.serving.settings import ServingSettings

__all__ = ["create_multi_app", "model_of_path"]

_INVOCATIONS = "/invocations/"


def model_of_path(path: str) -> str | None:
    """The model name a request path addresses, or None (the name is not checked here).

    Example:
        >>> model_of_path("/invocations/churn@champion"), model_of_path("/v2/models/a/versions/2/infer")
        ('churn@champion', 'a')
    """
    if path.startswith(_INVOCATIONS):
        return path[len(_INVOCATIONS):]
    for prefix in ("/v2/models/", "/v2/repository/models/", "/metadata/"):
        if path.startswith(prefix):
            return path[len(prefix):].split("/", 1)[0]
    return None


def create_multi_app(repo: ModelRepository, settings: ServingSettings | None = None, *, metrics: Any = None,
                     load: bool = True) -> Any:
    """Build the Flask app serving every model of ``repo``.

    Args:
        repo: the configured models.
        settings: serving settings (default: from ``TUREEN_SERVING_*``).
        metrics: a shared :class:`~tureen.serving.metrics.Metrics` made with ``models=repo.names``.
        load: load the models configured to load at start, now.

    Raises:
        TureenError: a model configured to load at start cannot be loaded.

    Example:
        >>> repo = ModelRepository([ModelSpec("a", "model_a"), ModelSpec("b", "model_b")], settings)  # doctest: +SKIP
        >>> create_multi_app(repo).test_client().post("/invocations/a", json=body)  # doctest: +SKIP
    """
    from flask import Flask

    settings = settings or repo.settings or ServingSettings.from_env()
    if metrics is None:
        from tureen.serving.metrics import Metrics

        metrics = Metrics(slots=1, models=repo.names)
    repo.metrics = metrics
    app = Flask("tureen.serving")
    app.config["MAX_CONTENT_LENGTH"] = None
    app.url_map.merge_slashes = False  # "//" is a 404 in our JSON shape, never an HTML redirect
    app.extensions["tureen_repo"] = repo
    app.extensions["tureen_metrics"] = metrics
    _routes(app, repo, settings, metrics)
    app.wsgi_app = _MultiInstrumented(app.wsgi_app, repo, settings, metrics)  # type: ignore[method-assign]
    if load:
        repo.load_at_start()
    return app


def _routes(app: Any, repo: ModelRepository, settings: ServingSettings, metrics: Any) -> None:
    from flask import Response, request

    from tureen import __version__

    debug = bool(settings.debug)
    register_error_handlers(app, debug, hint="the models are served at /invocations/<name>; see "
                                             "POST /v2/repository/index")
    register_common_routes(app, metrics)
    scorer = _Scorer(None, settings)

    def loaded(name: str) -> Any:
        """The state of a loaded model without loading it (answers from the I/O thread never load)."""
        entry = repo.entry(name)
        state, reason = repo.status(entry)
        if state != READY or entry.state is None:
            raise TureenError(f"The model {name!r} is not loaded ({reason})", error_code="TEMPORARILY_UNAVAILABLE",
                              http_status=503)
        return entry.state

    @app.get("/ready")
    def ready() -> Any:
        models = {e["name"]: e["state"] for e in repo.index()}
        return Response(json.dumps({"status": "ready", "models": models}), status=200, mimetype=_JSON)

    @app.post("/invocations")
    def invocations() -> Any:
        return _plain_error(404, "ENDPOINT_NOT_FOUND", "This server serves several models: POST "
                                                       f"/invocations/<name>, one of {repo.names[:20]}")

    @app.post("/invocations/<name>")
    def invocations_of(name: str) -> Any:
        status, body = scorer(request.environ, lambda: repo.ready_state(name))
        return Response(body, status=status, mimetype=_JSON)

    @app.get("/metadata/<name>")
    def metadata(name: str) -> Any:
        return Response(loaded(name).metadata(), status=200, mimetype=_JSON)

    # -- Open Inference Protocol (V2) --------------------------------------------------------------------
    def v2(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except TureenError as exc:
            return v2_error_response(exc.http_status, exc.message)

    def check_version(name: str, version: str | None) -> None:
        want = repo.entry(name).spec.version
        if version is not None and want is not None and version != want:
            raise TureenError(f"Model {name!r} has no version {version!r}; it serves {want!r}",
                              error_code="RESOURCE_DOES_NOT_EXIST", http_status=404)

    @app.get("/v2")
    def v2_server() -> Any:
        return Response(json.dumps({"name": "tureen", "version": __version__, "extensions": ["model_repository"]}),
                        mimetype=_JSON)

    @app.get("/v2/health/ready")
    def v2_ready() -> Any:
        return Response(b'{"ready":true}', status=200, mimetype=_JSON)

    def one_model(view: Callable[[str], Any]) -> Callable[..., Any]:
        """A V2 view of one configured model (and version, when the path names one)."""
        def wrapped(name: str, version: str | None = None) -> Any:
            def answer() -> Any:
                check_version(name, version)
                return view(name)
            return v2(answer)

        wrapped.__name__ = view.__name__  # Flask's endpoint name
        return wrapped

    @app.get("/v2/models/<name>")
    @app.get("/v2/models/<name>/versions/<version>")
    @one_model
    def v2_model(name: str) -> Any:
        return v2_metadata_response(loaded(name))

    @app.get("/v2/models/<name>/ready")
    @app.get("/v2/models/<name>/versions/<version>/ready")
    @one_model
    def v2_model_ready(name: str) -> Any:
        state, _ = repo.status(repo.entry(name))
        ok = state == READY
        return Response(json.dumps({"name": name, "ready": ok}), status=200 if ok else 503, mimetype=_JSON)

    @app.post("/v2/models/<name>/infer")
    @app.post("/v2/models/<name>/versions/<version>/infer")
    @one_model
    def v2_infer(name: str) -> Any:
        return v2_infer_response(repo.ready_state(name), request.environ)

    # -- the model repository API (Triton / MLServer) ------------------------------------------------------
    def repository_body() -> dict[str, Any]:
        raw = _read_body(request.environ, 64 * 1024)
        if not raw.strip():
            return {}
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadRequestError("The request body must be a JSON object") from None
        if not isinstance(doc, dict):
            raise BadRequestError("The request body must be a JSON object")
        return doc

    @app.post("/v2/repository/index")
    def repository_index() -> Any:
        def answer() -> Any:
            doc = repository_body()
            ready_only = doc.get("ready", False)
            if not isinstance(ready_only, bool):
                raise BadRequestError("'ready' must be true or false")
            return Response(json.dumps(repo.index(ready_only)), status=200, mimetype=_JSON)
        return v2(answer)

    def refuse_parameters(doc: dict[str, Any]) -> None:
        # Triton lets a load request carry a model config and files; here nothing in a request chooses what
        # is loaded or from where: only the configured model of that name
        extra = sorted(k for k in doc if k != "parameters")
        params = doc.get("parameters")
        if params is not None:
            extra += sorted(map(str, params)) if isinstance(params, dict) and params else ["parameters"]
        if extra:
            raise BadRequestError(f"Load and unload take no parameters (got {extra[:10]}): only the models "
                                  "configured when the server started can be loaded, from where they were "
                                  "configured")

    def repository_action(action: str, run: Callable[[str], Any]) -> None:
        def view(name: str) -> Any:
            def answer() -> Any:
                refuse_parameters(repository_body())
                run(name)
                return Response(b"{}", status=200, mimetype=_JSON)
            return v2(answer)

        app.add_url_rule(f"/v2/repository/models/<name>/{action}", f"repository_{action}", view, methods=["POST"])

    repository_action("load", repo.load)
    repository_action("unload", repo.unload)



class _MultiInstrumented(_Instrumented):
    """The middleware of the several-model app: the fast path for ``POST /invocations/<name>``, and metrics per
    model too."""

    def __init__(self, app: Callable[..., Any], repo: ModelRepository, settings: ServingSettings,
                 metrics: Any) -> None:
        super().__init__(app, metrics, settings)
        self.repo = repo

    def score(self, environ: dict[str, Any]) -> tuple[int, bytes] | None:
        path = environ.get("PATH_INFO", "")
        if path.startswith(_INVOCATIONS) and environ.get("REQUEST_METHOD") == "POST":
            name = path[len(_INVOCATIONS):]
            return self.scorer(environ, lambda: self.repo.ready_state(name))
        return None

    def observe(self, path: str, status: int, elapsed: float) -> None:
        label = "/invocations" if path.startswith(_INVOCATIONS) else self.label(path)
        self.metrics.observe(label, status, elapsed)
        name = model_of_path(path) if label in ("/invocations", "/v2/models/infer") else None
        if name is not None and name in self.repo.entries:  # scoring requests of configured names: bounded labels
            self.metrics.observe_model(name, status, elapsed)
            for n, entry in self.repo.entries.items():
                self.metrics.set_model_loaded(n, entry.state is not None)


def dispatcher_for_repo(app: Any, server: Any) -> Callable[[Any], None]:
    """The loop worker's dispatcher for a several-model app: requests of each model merged by its own batcher
    (with batching on), loads and unloads run here too (the I/O thread never loads a model)."""
    from collections import deque

    repo: ModelRepository = app.extensions["tureen_repo"]
    metrics = app.extensions.get("tureen_metrics")
    settings = repo.settings
    batching = int(settings.max_batch_size) > 1
    backlog: deque[Any] = deque()
    batchers: dict[str, Any] = {}
    record = recorder(app)
    single = answer_alone(app, server)

    def batcher_of(req: Any) -> Any:
        env = req.environ
        path = env.get("PATH_INFO", "")
        if not batching or env.get("REQUEST_METHOD") != "POST" or not path.startswith(_INVOCATIONS):
            return None
        name = path[len(_INVOCATIONS):]
        if name not in repo.entries:
            return None
        b = batchers.get(name)
        if b is None:
            from tureen.serving.batching import Batcher

            b = batchers[name] = Batcher(lambda: repo.ready_state(name), server, record, metrics,
                                         settings=settings, path=path)
        return b

    def dispatch(req: Any) -> None:
        backlog.append(req)
        while backlog:  # requests a batch of another model set aside, in order, without recursion
            r = backlog.popleft()
            b = batcher_of(r)
            if b is None:
                single(r)
            else:
                b.run(r, backlog.append, single)

    return dispatch
