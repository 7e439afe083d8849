"""The scoring server as a Flask app: :func:`create_app` returns a WSGI app any server can run.

Endpoints: ``/ping``, ``/health``, ``/ready``, ``/version``, ``POST /invocations`` (MLflow's scoring
protocol), ``/metadata``, ``/openapi.json``, ``/metrics`` (Prometheus) and the Open Inference Protocol
(``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{name}``, ``/v2/models/{name}/ready``,
``POST /v2/models/{name}/infer``). Every error is a JSON body with ``error_code`` and ``message``; stack
traces are included only with ``debug``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, Callable

from tureen.exceptions import (BadRequestError, InvalidParameterError, ModelPredictionError,
                               PredictionTimeoutError, RequestTooLargeError, TureenError)
from tureen.serving.settings import ServingSettings

__all__ = ["create_app", "ServingState"]

_log = logging.getLogger("tureen.serving")

_JSON = "application/json"
_PING_BODY = b"\n"
_INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError)


class _Timeout(BaseException):
    """Raised by the SIGALRM handler; a BaseException so that a model's ``except Exception`` cannot swallow it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


class ServingState:
    """The loaded model and everything derived from it, shared by the request handlers."""

    def __init__(self, settings: ServingSettings, model_uri: str | None) -> None:
        self.settings = settings
        self.model_uri = model_uri
        self.model: Any = None
        self.meta: Any = None
        self.codec: Any = None
        self.v2: Any = None
        self.block_predict: Any = None  # the model's block predictor, when it has one (see predict)
        self.load_error: str | None = None
        self.load_seconds: float | None = None
        self.model_name = settings.model_name or "model"
        self.model_version = settings.model_version
        self._openapi: bytes | None = None
        self._metadata: bytes | None = None
        self._executor: Any = None

    @property
    def ready(self) -> bool:
        return self.model is not None

    def attach(self, model: Any, seconds: float) -> None:
        from tureen.serving.scoring_codec import ScoringCodec
        from tureen.serving.v2_codec import V2Codec

        meta = model.metadata
        sig = meta.signature
        input_schema = sig.inputs if sig is not None else None
        params_schema = sig.params if sig is not None else None
        self.meta = meta
        self.codec = ScoringCodec(input_schema, params_schema,
                                  type_hint_signature=bool(getattr(meta, "is_signature_from_type_hint", False)),
                                  max_body_bytes=int(self.settings.max_request_bytes))
        self.v2 = V2Codec(input_schema)
        self.params_schema = params_schema
        block = getattr(model, "_block_predictor", None)
        self.block_predict = block() if callable(block) else None
        self.load_seconds = seconds
        if self.model_name == "model" and self.settings.model_name is None and getattr(model, "model_path", None):
            self.model_name = _default_name(self.model_uri, Path(model.model_path))
        self.model = model  # last: readiness flips only when everything above is in place

    def serving_example(self) -> Any:
        info = self.meta.saved_input_example_info or {}
        path = getattr(self.model, "model_path", None)
        if path is None:
            return None
        from tureen.exceptions import ModelFormatError
        from tureen.models._paths import confined_path

        try:  # a path leaving the model directory is never read, so never served
            file = confined_path(path, info.get("serving_input_path", "serving_input_example.json"),
                                 "serving input example", must_exist=False)
        except ModelFormatError:
            return None
        if not info or not file.is_file():
            return None
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def openapi(self) -> bytes:
        if self._openapi is None:
            from tureen import __version__
            from tureen.serving.openapi import openapi_document

            doc = openapi_document(self.meta, title=self.model_name, version=self.model_version or __version__,
                                   example=self.serving_example(), model_name=self.model_name)
            self._openapi = json.dumps(doc).encode()
        return self._openapi

    def metadata(self) -> bytes:
        if self._metadata is None:
            from tureen import __version__

            meta = self.meta
            sig = meta.signature
            body = {
                "model_name": self.model_name,
                "model_version": self.model_version,
                "model_uri": self.model_uri,
                "flavors": meta.flavors,
                "signature": sig.to_dict() if sig is not None else None,
                "input_example": self.serving_example(),
                "run_id": meta.run_id,
                "model_uuid": meta.model_uuid,
                "model_id": meta.model_id,
                "utc_time_created": meta.utc_time_created,
                "mlflow_version": meta.mlflow_version,
                "tureen_version": meta.tureen_version,
                "metadata": meta.metadata,
                "server": {"name": "tureen", "version": __version__},
            }
            from tureen.serving.responses import encode_json

            self._metadata = encode_json(body)
        return self._metadata

    # -- prediction with a deadline -----------------------------------------------------------------
    def call_with_timeout(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` within ``settings.timeout`` seconds, or raise PredictionTimeoutError (504)."""
        timeout = float(self.settings.timeout)
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            if signal.getsignal(signal.SIGALRM) is not _on_alarm:
                signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                try:
                    return fn()
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except _Timeout:  # also when the alarm lands while disarming
                raise self._timeout_error() from None
        # a worker thread: run in a helper thread and stop waiting at the deadline
        import concurrent.futures

        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=max(1, int(self.settings.threads)), thread_name_prefix="tureen-predict")
        future = self._executor.submit(fn)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise self._timeout_error() from None

    def _timeout_error(self) -> PredictionTimeoutError:
        return PredictionTimeoutError(f"Request processing time exceeded the limit of {self.settings.timeout:g} s "
                                      "(TUREEN_SERVING_TIMEOUT / --timeout)")

    def predict(self, data: Any, params: dict[str, Any] | None, block: Any = None) -> Any:
        """``model.predict(data, params)``, or the model's block predictor on ``block`` (the array behind a
        one-dtype ``data`` the codec has already checked) when the model offers one and there are no params."""
        if params and self.params_schema is None:
            _log.warning("params %s ignored: the model declares no params", sorted(params))
            params = None
        try:
            if block is not None and not params and self.block_predict is not None:
                return self.block_predict(block)
            return self.model.predict(data, params=params)
        except TureenError:
            raise
        except _Timeout:
            raise
        except _INPUT_ERRORS as exc:
            # Python's convention: the model rejected its argument. MLflow answers 400 here too.
            raise BadRequestError(f"The model rejected the input: {type(exc).__name__}: {exc}",
                                  details=self._trace()) from exc
        except Exception as exc:  # noqa: BLE001 - any failure inside the model is the model's
            raise ModelPredictionError(f"The model failed: {type(exc).__name__}: {exc}",
                                       details=self._trace()) from exc

    def _trace(self) -> dict[str, Any]:
        return {"stack_trace": traceback.format_exc()} if self.settings.debug else {}


def _default_name(uri: str | None, path: Path) -> str:
    if uri and uri.startswith("models:/"):
        rest = uri[len("models:/"):].strip("/")
        return rest.split("/")[0].split("@")[0] or "model"
    name = path.name
    if name in ("", "model", "artifacts") and path.parent.name:
        name = path.parent.name if name != "model" else name
    return name or "model"


def _load(state: ServingState, model_or_uri: Any) -> None:
    start = time.perf_counter()
    if hasattr(model_or_uri, "predict") and hasattr(model_or_uri, "metadata"):
        model = model_or_uri
    else:
        from tureen.pyfunc import load_model

        config = json.loads(state.settings.model_config) if state.settings.model_config else None
        if config is not None and not isinstance(config, dict):
            raise InvalidParameterError("model_config must be a JSON object")
        model = load_model(model_or_uri, allow_pickle=state.settings.allow_pickle, model_config=config)
    state.attach(model, time.perf_counter() - start)


def create_app(model_or_uri: Any, settings: ServingSettings | None = None, *, metrics: Any = None,
               load_in_background: bool = False, model_uri: str | None = None) -> Any:
    """Build the scoring server's Flask app for one model.

    Args:
        model_or_uri: a loaded :class:`~tureen.pyfunc.PyFuncModel`, or a model URI / path (resolved once,
            through :func:`tureen.uri.resolve_model_uri`).
        settings: serving settings (default: from ``TUREEN_SERVING_*`` variables).
        metrics: a shared :class:`~tureen.serving.metrics.Metrics` (the gunicorn runner passes one shared
            by all workers); a private one is made when omitted.
        load_in_background: return at once and load the model in a thread; ``/ready`` answers 503 until
            it is loaded (and names the error if loading failed).
        model_uri: the URI to report in ``/metadata`` when ``model_or_uri`` is an already resolved path.

    Returns:
        A ``flask.Flask`` app; mount it in any WSGI server.

    Raises:
        TureenError: the model cannot be resolved or loaded (only when loading in the foreground).

    Example:
        >>> app = create_app("churn_model")  # doctest: +SKIP
        >>> app.test_client().get("/ready").status_code  # doctest: +SKIP
        200
    """
    from flask import Flask

    settings = settings or ServingSettings.from_env()
    uri = None
    if not (hasattr(model_or_uri, "predict") and hasattr(model_or_uri, "metadata")):
        from tureen.uri import resolve_model_uri

        uri = model_uri or str(model_or_uri)
        model_or_uri = resolve_model_uri(model_or_uri)
    if metrics is None:
        from tureen.serving.metrics import Metrics

        metrics = Metrics(slots=1)
    state = ServingState(settings, uri)
    if load_in_background:
        def load_bg() -> None:
            try:
                _load(state, model_or_uri)
                metrics.set_model_load_seconds(state.load_seconds or 0.0)
            except Exception as exc:  # noqa: BLE001 - reported by /ready and /invocations
                state.load_error = f"{type(exc).__name__}: {exc}"
                _log.error("loading the model failed: %s", state.load_error)

        threading.Thread(target=load_bg, name="tureen-model-load", daemon=True).start()
    else:
        _load(state, model_or_uri)
        metrics.set_model_load_seconds(state.load_seconds or 0.0)

    app = Flask("tureen.serving")
    app.config["MAX_CONTENT_LENGTH"] = None
    app.url_map.merge_slashes = False  # "//" is a 404 in our JSON shape, never an HTML redirect
    app.extensions["tureen"] = state
    _register_routes(app, state, metrics)
    app.wsgi_app = _Instrumented(app.wsgi_app, metrics, settings, state)  # type: ignore[method-assign]
    app.extensions["tureen_metrics"] = metrics
    return app


# --------------------------------------------------------------------------------------------------
# responses


def _error_response(exc: TureenError, debug: bool) -> Any:
    from flask import Response

    body = exc.to_json()
    if not debug:
        body.pop("stack_trace", None)
    return Response(json.dumps(body), status=exc.http_status, mimetype=_JSON)


def _plain_error(status: int, code: str, message: str) -> Any:
    from flask import Response

    return Response(json.dumps({"error_code": code, "message": message}), status=status, mimetype=_JSON)


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    """Read the request body, refusing (413) anything over ``limit`` bytes before reading it."""
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    if length:
        try:
            n = int(length)
        except ValueError:
            raise BadRequestError(f"Invalid Content-Length header {length!r}") from None
        if n > limit:
            raise RequestTooLargeError(f"The request body has {n} bytes, over the limit of {limit} bytes "
                                       "(TUREEN_SERVING_MAX_REQUEST_BYTES / --max-request-bytes)")
        return stream.read(n) if n else b""
    data = stream.read(limit + 1)  # chunked transfer: read at most one byte past the limit
    if len(data) > limit:
        raise RequestTooLargeError(f"The request body is over the limit of {limit} bytes "
                                   "(TUREEN_SERVING_MAX_REQUEST_BYTES / --max-request-bytes)")
    return data


def register_error_handlers(app: Any, debug: bool, hint: str = "see /openapi.json") -> None:
    """Every error of the app as our JSON shape (no stack trace unless ``debug``)."""
    from flask import Response, request
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(TureenError)
    def on_tureen_error(exc: TureenError) -> Any:
        return _error_response(exc, debug)

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> Any:
        code = {404: "ENDPOINT_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.code or 500, "BAD_REQUEST")
        if exc.code == 404:
            message = f"No endpoint {request.path}; {hint}"
        elif exc.code == 405:
            message = f"Method {request.method} is not allowed for {request.path}"
        else:
            message = exc.description or exc.name
        resp = _plain_error(exc.code or 500, code, message)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def on_unexpected(exc: Exception) -> Any:
        _log.exception("unexpected error")
        body = {"error_code": "INTERNAL_ERROR", "message": f"Internal server error: {type(exc).__name__}: {exc}"}
        if debug:
            body["stack_trace"] = traceback.format_exc()
        return Response(json.dumps(body), status=500, mimetype=_JSON)


def register_common_routes(app: Any, metrics: Any) -> None:
    """The endpoints every scoring app answers the same way: liveness, version and metrics."""
    from flask import Response

    from tureen import __version__

    @app.get("/ping")
    @app.get("/health")
    def ping() -> Any:
        return Response(_PING_BODY, status=200, mimetype=_JSON)

    @app.get("/version")
    def version() -> Any:
        return Response(__version__, status=200, mimetype="text/plain")

    @app.get("/metrics")
    def prometheus() -> Any:
        return Response(metrics.render(), status=200, mimetype="text/plain; version=0.0.4")

    @app.get("/v2/health/live")
    def v2_live() -> Any:
        return Response(b'{"live":true}', status=200, mimetype=_JSON)


def _register_routes(app: Any, state: ServingState, metrics: Any) -> None:
    from flask import Response, request

    from tureen import __version__

    settings = state.settings
    debug = bool(settings.debug)

    def not_ready() -> Any:
        if state.load_error:
            return _plain_error(503, "TEMPORARILY_UNAVAILABLE", f"The model failed to load: {state.load_error}")
        return _plain_error(503, "TEMPORARILY_UNAVAILABLE", "The model is still loading; retry when /ready is 200")

    register_error_handlers(app, debug)
    register_common_routes(app, metrics)

    @app.get("/ready")
    def ready() -> Any:
        if state.ready:
            return Response(b'{"status":"ready"}', status=200, mimetype=_JSON)
        body = {"status": "failed" if state.load_error else "loading"}
        if state.load_error:
            body["message"] = f"The model failed to load: {state.load_error}"
        return Response(json.dumps(body), status=503, mimetype=_JSON)

    scorer = _Scorer(state)

    @app.post("/invocations")
    def invocations() -> Any:
        status, body = scorer(request.environ)
        return Response(body, status=status, mimetype=_JSON)

    @app.get("/metadata")
    def metadata() -> Any:
        if not state.ready:
            return not_ready()
        return Response(state.metadata(), status=200, mimetype=_JSON)

    @app.get("/openapi.json")
    def openapi() -> Any:
        if not state.ready:
            return not_ready()
        return Response(state.openapi(), status=200, mimetype=_JSON)

    # -- Open Inference Protocol (V2) -------------------------------------------------------------
    def v2_error(status: int, message: str) -> Any:
        return Response(json.dumps({"error": message}), status=status, mimetype=_JSON)

    def check_model(name: str, version: str | None) -> Any:
        if name != state.model_name:
            return v2_error(404, f"Model {name!r} not found; this server serves {state.model_name!r}")
        if version is not None and state.model_version is not None and version != state.model_version:
            return v2_error(404, f"Model {name!r} has no version {version!r}; it serves {state.model_version!r}")
        return None

    @app.get("/v2")
    def v2_server() -> Any:
        return Response(json.dumps({"name": "tureen", "version": __version__, "extensions": []}), mimetype=_JSON)

    @app.get("/v2/health/ready")
    def v2_ready() -> Any:
        return Response(json.dumps({"ready": state.ready}), status=200 if state.ready else 503, mimetype=_JSON)

    @app.get("/v2/models/<name>")
    @app.get("/v2/models/<name>/versions/<version>")
    def v2_model(name: str, version: str | None = None) -> Any:
        if (err := check_model(name, version)) is not None:
            return err
        if not state.ready:
            return v2_error(503, "The model is still loading")
        return v2_metadata_response(state)

    @app.get("/v2/models/<name>/ready")
    @app.get("/v2/models/<name>/versions/<version>/ready")
    def v2_model_ready(name: str, version: str | None = None) -> Any:
        if (err := check_model(name, version)) is not None:
            return err
        return Response(json.dumps({"name": state.model_name, "ready": state.ready}),
                        status=200 if state.ready else 503, mimetype=_JSON)

    @app.post("/v2/models/<name>/infer")
    @app.post("/v2/models/<name>/versions/<version>/infer")
    def v2_infer(name: str, version: str | None = None) -> Any:
        if (err := check_model(name, version)) is not None:
            return err
        if not state.ready:
            return v2_error(503, "The model is still loading")
        return v2_infer_response(state, request.environ)


def v2_error_response(status: int, message: str) -> Any:
    from flask import Response

    return Response(json.dumps({"error": message}), status=status, mimetype=_JSON)


def v2_metadata_response(state: ServingState) -> Any:
    """``GET /v2/models/{name}`` of a loaded model."""
    from flask import Response

    sig = state.meta.signature
    body = {"name": state.model_name, "versions": [state.model_version] if state.model_version else [],
            "platform": "tureen", "inputs": state.v2.metadata_tensors(sig.inputs if sig else None),
            "outputs": state.v2.metadata_tensors(sig.outputs if sig else None, outputs=True)}
    return Response(json.dumps(body), mimetype=_JSON)


def v2_infer_response(state: ServingState, environ: dict[str, Any]) -> Any:
    """``POST /v2/models/{name}/infer`` of a loaded model: the Open Inference Protocol's answer or error."""
    from flask import Response

    from tureen.serving.responses import encode_json
    from tureen.serving.scoring_codec import loads_json

    settings = state.settings
    try:
        body = _read_body(environ, int(settings.max_request_bytes))
        doc = loads_json(body)
        request_id = doc.get("id") if isinstance(doc, dict) else None

        def work() -> bytes:
            data, params, wanted, block = state.v2.decode(doc)
            pred = state.predict(data, params, block)
            out = {"model_name": state.model_name, "model_version": state.model_version,
                   "id": str(request_id) if request_id is not None else str(uuid.uuid4()),
                   "parameters": {}, "outputs": state.v2.encode(pred, wanted)}
            return _encode(encode_json, out, strict=bool(settings.strict_json))

        return Response(state.call_with_timeout(work), status=200, mimetype=_JSON)
    except TureenError as exc:
        err = exc.to_json()
        if not settings.debug:
            err.pop("stack_trace", None)
        err["error"] = exc.message
        return Response(json.dumps(err), status=exc.http_status, mimetype=_JSON)


def _encode(encoder: Callable[..., bytes], value: Any, **kwargs: Any) -> bytes:
    try:
        return encoder(value, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelPredictionError(f"The model's output cannot be encoded as JSON: {exc}") from exc


class _Scorer:
    """``POST /invocations`` as a plain function of the WSGI environ -> (status, JSON body).

    The hot path: the middleware calls it directly, without Flask's request/response machinery; the Flask
    view uses it too, so both give the same answers.
    """

    def __init__(self, state: ServingState | None, settings: ServingSettings | None = None) -> None:
        from tureen.serving.responses import encode_predictions

        self.state = state
        settings = settings if settings is not None else state.settings  # type: ignore[union-attr]
        self.settings = settings
        self.limit = int(settings.max_request_bytes)
        self.strict = bool(settings.strict_json)
        self.debug = bool(settings.debug)
        self.encode = encode_predictions

    def __call__(self, environ: dict[str, Any], get_state: Callable[[], ServingState] | None = None
                 ) -> tuple[int, bytes]:
        """Score one request for ``self.state``, or (several models per server) for ``get_state()``, which may
        load the model first or raise the TureenError the request gets."""
        state = None
        try:
            state = get_state() if get_state is not None else self.state
            if not state.ready:
                message = (f"The model failed to load: {state.load_error}" if state.load_error
                           else "The model is still loading; retry when /ready is 200")
                raise TureenError(message, error_code="TEMPORARILY_UNAVAILABLE", http_status=503)
            body = _read_body(environ, self.limit)
            content_type = environ.get("CONTENT_TYPE")

            def work() -> bytes:
                parsed = state.codec.parse(body, content_type)
                pred = state.predict(parsed.data, parsed.params, parsed.block)
                return _encode(self.encode, pred, unwrap=parsed.unwrap, strict=self.strict)

            return 200, state.call_with_timeout(work)
        except _Timeout:  # an alarm that fired just as the deadline was being disarmed
            exc = ServingState(self.settings, None)._timeout_error()
            return exc.http_status, json.dumps(exc.to_json()).encode()
        except TureenError as exc:
            err = exc.to_json()
            if not self.debug:
                err.pop("stack_trace", None)
            return exc.http_status, json.dumps(err).encode()
        except Exception as exc:  # noqa: BLE001 - never a stack trace unless debug
            _log.exception("unexpected error in /invocations")
            err = {"error_code": "INTERNAL_ERROR", "message": f"Internal server error: {type(exc).__name__}: {exc}"}
            if self.debug:
                err["stack_trace"] = traceback.format_exc()
            return 500, json.dumps(err).encode()


_REASONS = {200: "OK", 400: "BAD REQUEST", 404: "NOT FOUND", 413: "REQUEST ENTITY TOO LARGE",
            415: "UNSUPPORTED MEDIA TYPE", 500: "INTERNAL SERVER ERROR", 503: "SERVICE UNAVAILABLE",
            504: "GATEWAY TIMEOUT", 403: "FORBIDDEN"}


# --------------------------------------------------------------------------------------------------
# timing, metrics and the access log, around the whole app


class _Instrumented:
    """WSGI middleware: scoring requests on a fast path (without Flask's request/response machinery), one
    metrics observation and one JSON access-log line per request.

    :meth:`score` picks the fast path's requests; the several-model app (:mod:`tureen.serving.multi`)
    overrides it and :meth:`observe` (per-model metrics).
    """

    def __init__(self, app: Callable[..., Any], metrics: Any, settings: ServingSettings,
                 state: ServingState | None = None) -> None:
        from tureen.serving.metrics import endpoint_label

        self.app = app
        self.state = state
        self.metrics = metrics
        self.label = endpoint_label
        self.access_log = bool(settings.access_log)
        self.scorer = _Scorer(state, settings)

    def score(self, environ: dict[str, Any]) -> tuple[int, bytes] | None:
        """(status, body) of a request answered on the fast path, or None to let the app answer it."""
        if environ.get("PATH_INFO") == "/invocations" and environ.get("REQUEST_METHOD") == "POST":
            return self.scorer(environ)
        return None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start = time.perf_counter()
        captured: list[Any] = [0, None]

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[0] = int(status[:3])
            captured[1] = headers
            return start_response(status, headers, exc_info)

        self.metrics.enter()
        try:
            scored = self.score(environ)
            if scored is None:
                result = self.app(environ, capture)
            else:
                code, body = scored
                result = [body]
                capture(f"{code} {_REASONS.get(code, 'ERROR')}",
                        [("Content-Type", _JSON), ("Content-Length", str(len(body)))])
        finally:
            self.metrics.leave()
        size = 0
        for k, v in captured[1] or ():
            if k == "Content-Length":
                size = int(v)
                break
        self.record(environ, captured[0], time.perf_counter() - start, size)
        return result

    def record(self, environ: dict[str, Any], status: int, elapsed: float, size: int) -> None:
        """Metrics and the access-log line of one answered request (also for requests the batcher answers)."""
        self.observe(environ.get("PATH_INFO", ""), status, elapsed)
        if self.access_log:
            write_access_log(environ, status, elapsed, size)

    def observe(self, path: str, status: int, elapsed: float) -> None:
        self.metrics.observe(self.label(path), status, elapsed)


def write_access_log(environ: dict[str, Any], status: int, elapsed: float, size: int) -> None:
    """One JSON line on stderr for an answered request."""
    entry = {"ts": round(time.time(), 3), "remote": environ.get("REMOTE_ADDR"),
             "method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO", ""), "status": status,
             "ms": round(elapsed * 1000, 3), "in": int(environ.get("CONTENT_LENGTH") or 0),
             "out": size, "pid": os.getpid()}
    rid = environ.get("HTTP_X_REQUEST_ID")
    if rid:
        entry["request_id"] = rid[:128]
    try:
        sys.stderr.write(json.dumps(entry, separators=(",", ":")) + "\n")
    except (OSError, ValueError):  # a closed stderr never fails a request
        pass


# --------------------------------------------------------------------------------------------------
# the dispatcher of the loop worker (tureen.serving.worker)


def dispatcher_for(app: Callable[..., Any], server: Any) -> Callable[[Any], None]:
    """The function the loop worker's main thread calls with each model request; it answers through
    ``server.answer``. Runs in the main thread, so a prediction's deadline can interrupt it (SIGALRM)."""
    if "tureen_repo" in getattr(app, "extensions", {}):
        from tureen.serving.multi import dispatcher_for_repo

        return dispatcher_for_repo(app, server)
    state = getattr(app, "extensions", {}).get("tureen")
    single = answer_alone(app, server)
    if state is None or int(state.settings.max_batch_size) <= 1:
        return single
    from tureen.serving.batching import Batcher

    batcher = Batcher(state, server, recorder(app), app.extensions.get("tureen_metrics"))

    def dispatch(req: Any) -> None:
        if batcher.accepts(req):
            batcher.run(req, single)
        else:
            single(req)

    return dispatch


def recorder(app: Any) -> Callable[[Any, int, int], None]:
    """``record(req, status, size)``: the metrics and access-log line of a request the batcher answered."""
    instrumented = app.wsgi_app

    def record(req: Any, status: int, size: int) -> None:
        instrumented.record(req.environ, status, time.monotonic() - req.arrived, size)

    return record


def answer_alone(app: Callable[..., Any], server: Any) -> Callable[[Any], None]:
    """``single(req)``: run one request through the whole WSGI app and hand its answer to ``server``."""
    from tureen.serving.worker import call_wsgi, error_body

    def single(req: Any) -> None:
        try:
            status, headers, body = call_wsgi(app, req.environ)
        except Exception as exc:  # noqa: BLE001 - never a stack trace to the client
            _log.exception("unexpected error in the dispatcher")
            status, headers = "500 Internal Server Error", [("Content-Type", _JSON)]
            body = error_body("INTERNAL_ERROR", f"Internal server error: {type(exc).__name__}")
        server.answer(req, status, headers, body)

    return single
