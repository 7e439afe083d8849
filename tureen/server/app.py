"""``tureen server`` as a Flask app: MLflow's REST API 2.0 (tracking, logged models, registry), its
``/ajax-api`` twin and the ``mlflow-artifacts`` proxy, so MLflow's own clients and tureen's REST store work
against it.

:func:`create_app` returns a WSGI app; :mod:`tureen.server.wsgi` runs it under gunicorn. Every error is
MLflow's JSON (``{"error_code": ..., "message": ...}``) with MLflow's status for the code; an unexpected
failure is a 500 ``INTERNAL_ERROR`` without a stack trace (the trace goes to the server log). Unknown
endpoints under ``/api`` and ``/ajax-api`` (GenAI services: traces, prompts, gateway, scorers …) answer
404 ``ENDPOINT_NOT_FOUND``.

Hook points: ``tureen.server.auth.install(app, settings)`` (when ``settings.auth``) and
``tureen.server.ui.install(app, client_factory)`` are called when those modules exist.

Example:
    >>> app = create_app(ServerSettings(backend_store_uri="sqlite:////tmp/tureen-doc-server.db"))  # doctest: +SKIP
    >>> app.test_client().get("/health").data  # doctest: +SKIP
    b'OK'
"""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import json
import logging
import mimetypes
import os
import posixpath
import re
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from tureen.exceptions import (BadRequestError, InvalidParameterError, RequestTooLargeError,
                               ResourceNotFoundError, TureenError)
from tureen.tracking.stores import _proto as P

__all__ = ["create_app", "ServerSettings"]

_log = logging.getLogger("tureen.server")

#: JSON request bodies above this are refused (a dataset profile may be 16 MiB, MLflow's own limit)
MAX_JSON_BODY = 32 * 1024 * 1024
_CHUNK = 1 << 20
MAX_RUNS_BULK = 100
MAX_RESULTS_PER_RUN = 2500


@dataclass(frozen=True)
class ServerSettings:
    """What ``tureen server`` was started with (see ``tureen server --help``).

    Example:
        >>> ServerSettings(backend_store_uri="sqlite:///t.db").serve_artifacts
        True
    """

    backend_store_uri: str = "sqlite:///mlruns.db"
    registry_store_uri: str | None = None
    default_artifact_root: str | None = None
    serve_artifacts: bool = True
    artifacts_destination: str | None = None
    artifacts_only: bool = False
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    threads: int = 4
    timeout: int = 120
    graceful_timeout: int = 30
    allowed_hosts: tuple[str, ...] = ()
    cors_allowed_origins: tuple[str, ...] = ()
    auth: bool = False
    auth_config: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> ServerSettings:
        return replace(self, **changes)

    @property
    def destination(self) -> str:
        """Where ``mlflow-artifacts:/`` paths land (a local path or a URI)."""
        dest = self.artifacts_destination or "./mlartifacts"
        if "://" in dest or dest.startswith("file:"):
            return dest
        return str(Path(dest).expanduser().absolute())

    @property
    def artifact_root(self) -> str | None:
        """The root new experiments get: ``mlflow-artifacts:/`` when proxying, unless given."""
        if self.default_artifact_root:
            return self.default_artifact_root
        return "mlflow-artifacts:/" if self.serve_artifacts else None


# ==========================================================================================================
# request parsing (MLflow's rules: snake_case or camelCase names, typed fields, required fields)
# ==========================================================================================================
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_HINT = "See the API docs for more information about request parameters."


def _type_name(v: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}.get(type(v), type(v).__name__)


def _bad_type(name: str, value: Any) -> InvalidParameterError:
    shown = json.dumps(value) if isinstance(value, (str, int, float, bool)) else repr(value)[:200]
    return InvalidParameterError(f"Invalid value {shown} for parameter '{name}' supplied: Hint: Value was of type "
                                 f"'{_type_name(value)}'. {_HINT}")


def _coerce(name: str, kind: str, value: Any, from_query: bool) -> Any:
    if value is None:
        return None
    if kind == "str":
        if isinstance(value, str):
            return value
        raise _bad_type(name, value)
    if kind == "int":
        if isinstance(value, bool):
            raise _bad_type(name, value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise _bad_type(name, value) from None
        raise _bad_type(name, value)
    if kind == "num":
        if isinstance(value, bool):
            raise _bad_type(name, value)
        if isinstance(value, (int, float)):
            try:
                return float(value)
            except OverflowError:  # an integer no double holds
                raise _bad_type(name, value) from None
        if isinstance(value, str):
            try:
                return P.double_from_json(value)
            except ValueError:
                raise _bad_type(name, value) from None
        raise _bad_type(name, value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise _bad_type(name, value)
    if kind == "enum":  # an enum: its name or its number
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _bad_type(name, value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit() and from_query:
            return int(value)
        return value
    if kind == "strs":
        if isinstance(value, str) and from_query:
            return [value]
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise _bad_type(name, value)
        return value
    if kind == "objs":
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            raise _bad_type(name, value)
        return value
    if kind == "obj":
        if not isinstance(value, dict):
            raise _bad_type(name, value)
        return value
    raise AssertionError(kind)  # pragma: no cover - a typo in a route table


def _read_json_body(request: Any) -> dict[str, Any]:
    length = request.content_length
    if length is not None and length > MAX_JSON_BODY:
        raise RequestTooLargeError(f"The request body has {length} bytes; at most {MAX_JSON_BODY} are accepted")
    raw = request.stream.read(MAX_JSON_BODY + 1)
    if len(raw) > MAX_JSON_BODY:
        raise RequestTooLargeError(f"The request body is larger than {MAX_JSON_BODY} bytes")
    return _parse_json_body(raw)


def _loads(raw: bytes | str) -> Any:
    """JSON by orjson; what it refuses (NaN literals, integers past 64 bits, UTF-16 ...) by the standard
    library, which has the last word on what is malformed."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def _dumps(body: Any) -> bytes:
    """Compact JSON bytes (orjson; the standard library for what it cannot encode, e.g. huge integers)."""
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()


def _parse_json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = _loads(raw)
        if isinstance(body, str):  # double-encoded JSON from old clients
            body = _loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameterError(f"Malformed JSON in the request body: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidParameterError(f"The request body must be a JSON object, got {_type_name(body)}")
    return body


def _check_content_type(request: Any) -> None:
    ctype = request.headers.get("Content-Type")
    if ctype is None:
        raise InvalidParameterError("Bad Request. Content-Type header is missing.")
    if ctype.split(";")[0].strip().lower() != "application/json":
        raise InvalidParameterError("Bad Request. Content-Type must be one of ['application/json'].")


def parse_request(request: Any, spec: dict[str, str]) -> dict[str, Any]:
    """The typed fields of a request per ``spec`` (``{"name": "str!", ...}``; ``!`` = required)."""
    from_query = request.method == "GET"
    if from_query:
        raw: dict[str, Any] = {}
        for key in request.args:
            values = request.args.getlist(key)
            raw[key] = values if len(values) > 1 else values[0]
    else:
        if request.method in ("POST", "PUT"):
            _check_content_type(request)
        raw = _read_json_body(request)
    # camelCase spellings are accepted; both spellings of one field are an error
    for key in list(raw):
        snake = _CAMEL.sub("_", key).lower()
        if snake != key and snake in spec:
            if snake in raw:
                raise InvalidParameterError(f"Both '{key}' and '{snake}' were given; use one spelling")
            raw[snake] = raw.pop(key)
    if "run_id" in spec and raw.get("run_id") is None and raw.get("run_uuid") is not None:
        raw["run_id"] = raw["run_uuid"]
    out: dict[str, Any] = {}
    for name, kind in spec.items():  # every type first, then what is missing
        value = raw.get(name)
        if from_query and isinstance(value, list) and kind.rstrip("!") != "strs":
            value = value[-1]
        out[name] = _coerce(name, kind.rstrip("!"), value, from_query)
    for name, kind in spec.items():
        if kind.endswith("!") and out[name] in (None, ""):
            raise InvalidParameterError(f"Missing value for required parameter '{name}'. {_HINT}")
    return out


# ==========================================================================================================
# the app
# ==========================================================================================================
def _json_response(body: Any, status: int = 200) -> Any:
    from flask import Response

    # compact, by orjson (a 10,000-point history encodes in a tenth of the standard library's time)
    return Response(_dumps(body), status=status, mimetype="application/json")


def _error_fields(exc: TureenError) -> tuple[dict[str, Any], int]:
    body = {"error_code": exc.error_code, "message": exc.message}
    for k, v in exc.details.items():
        if isinstance(v, (str, int, float, bool)) and k != "stack_trace":
            body[k] = v
    status = exc.http_status
    if exc.error_code == "RESOURCE_ALREADY_EXISTS":
        status = 400
    return body, status


def _error_body(exc: TureenError) -> tuple[bytes, int]:
    body, status = _error_fields(exc)
    return _dumps(body), status


def _unexpected(exc: Exception, method: Any, path: Any) -> dict[str, str]:
    """Log an unexpected failure with its trace; the body a client gets for it (MLflow's JSON, no trace)."""
    _log.exception("unexpected error on %s %s", method, path)
    return {"error_code": "INTERNAL_ERROR", "message": f"Internal error ({type(exc).__name__}); see the server log"}


def _error(exc: TureenError) -> Any:
    body, status = _error_fields(exc)
    return _json_response(body, status)


class _Api:
    """The route table: one decorator per MLflow endpoint, registered under ``/api`` and ``/ajax-api``."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, tuple[str, ...], Callable[..., Any], dict[str, str], str]] = []

    def rpc(self, methods: str, path: str, /, group: str = "tracking", **spec: str) -> Callable[..., Any]:
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.routes.append((path, tuple(methods.split(",")), fn, spec, group))
            return fn
        return deco


api = _Api()


class _State:
    """Per-process stores, opened on first use (after gunicorn forked the workers)."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from tureen.tracking.client import TrackingClient
                    from tureen.tracking.stores import get_store

                    s = self.settings
                    client = TrackingClient(s.backend_store_uri, s.registry_store_uri or s.backend_store_uri)
                    client._store_obj = get_store(s.backend_store_uri, s.artifact_root)
                    if s.registry_store_uri and s.registry_store_uri != s.backend_store_uri:
                        client._registry_obj = get_store(s.registry_store_uri, s.artifact_root)
                    else:
                        client._registry_obj = client._store_obj
                    client._artifact_repository = self.repo_for  # mlflow-artifacts:/ is this server's own
                    self._client = client
        return self._client

    @property
    def store(self) -> Any:
        return self.client._store_obj

    @property
    def registry(self) -> Any:
        return self.client._registry_obj

    # -- artifacts ------------------------------------------------------------------------------------------
    def proxied_uri(self, rel: str) -> str:
        from tureen.artifacts.local import check_relative_path

        rel = check_relative_path(rel)
        dest = self.settings.destination.rstrip("/")
        return f"{dest}/{rel}" if rel else dest

    def repo_for(self, artifact_uri: str) -> Any:
        """The repository behind a run's or logged model's artifact URI, as this server sees it."""
        from tureen.artifacts import get_artifact_repository

        if artifact_uri.startswith("mlflow-artifacts:"):
            rest = artifact_uri[len("mlflow-artifacts:"):]
            if rest.startswith("//"):
                rest = rest[2:].partition("/")[2]
            return get_artifact_repository(self.proxied_uri(rest.lstrip("/")))
        return get_artifact_repository(artifact_uri)


def create_app(settings: ServerSettings | None = None, **overrides: Any) -> Any:
    """The tracking server's WSGI app.

    Args:
        settings: the server settings; keyword ``overrides`` replace single fields.

    Raises:
        MissingDependencyError: ``auth`` is requested but the auth module is not installed.

    Example:
        >>> app = create_app(backend_store_uri="sqlite:////tmp/tureen-doc.db")  # doctest: +SKIP
    """
    from flask import Flask, request
    from werkzeug.exceptions import HTTPException

    settings = (settings or ServerSettings()).replace(**overrides) if overrides else (settings or ServerSettings())
    state = _State(settings)
    app = Flask("tureen.server")
    app.config["MAX_CONTENT_LENGTH"] = None  # artifact uploads are streamed; JSON bodies are bounded by us
    app.url_map.merge_slashes = False  # ".../artifacts//etc/passwd" must reach the path check, not a redirect
    app.extensions["tureen_server"] = state

    def endpoint(fn: Callable[..., Any], spec: dict[str, str], group: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def view(**path_args: Any) -> Any:
            if settings.artifacts_only and group != "artifacts":
                return _json_response({"error_code": "ENDPOINT_NOT_FOUND",
                                       "message": f"Endpoint {request.path} is disabled: the server runs with "
                                                  "--artifacts-only"}, 503)
            if group == "artifacts" and not settings.serve_artifacts:
                from flask import Response

                return Response("The artifact proxy is disabled: start the server with --serve-artifacts", 503,
                                mimetype="text/plain")
            params = parse_request(request, spec) if spec else {}
            result = fn(state, params, **path_args)
            if isinstance(result, dict):
                return _json_response(result)
            return result
        return view

    for path, methods, fn, spec, group in api.routes:
        for prefix in ("/api", "/ajax-api"):
            base = "/2.0/mlflow-artifacts/" if group == "artifacts" else "/2.0/mlflow/"
            rule = f"{prefix}{base}{path}".rstrip("/") if path else f"{prefix}{base}".rstrip("/")
            app.add_url_rule(rule, endpoint=f"{prefix}:{'|'.join(methods)}:{path}", view_func=endpoint(fn, spec, group),
                             methods=list(methods))

    @app.get("/health")
    def health() -> Any:
        from flask import Response

        return Response("OK", mimetype="text/plain")

    @app.get("/version")
    def version() -> Any:
        from flask import Response

        from tureen import __version__

        return Response(__version__, mimetype="text/plain")

    @app.get("/api/3.0/mlflow/server-info")
    @app.get("/ajax-api/3.0/mlflow/server-info")
    def server_info() -> Any:
        return _json_response({"store_type": "SqlStore", "workspaces_enabled": False,
                               "trace_archival_enabled": False, "multipart_uploads_enabled": _mpu_enabled(state),
                               "multipart_downloads_enabled": False, "presigned_upload_run_id_supported": True,
                               "presigned_upload_model_id_supported": True, "features_enabled": {"gateway": False}})

    def _mpu_enabled(st: _State) -> bool:
        from tureen.server import _multipart

        return _multipart.enabled(st)

    # -- errors: MLflow's JSON, never a stack trace ---------------------------------------------------------
    @app.errorhandler(TureenError)
    def on_tureen_error(exc: TureenError) -> Any:
        return _error(exc)

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        if code == 404:
            return _json_response({"error_code": "ENDPOINT_NOT_FOUND",
                                   "message": f"No endpoint {request.method} {request.path} on this server"}, 404)
        if code == 405:
            return _json_response({"error_code": "BAD_REQUEST",
                                   "message": f"Method {request.method} is not allowed for {request.path}"}, 405)
        if code == 413:
            return _json_response({"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "The request is too large"},
                                  413)
        name = "BAD_REQUEST" if 400 <= code < 500 else "INTERNAL_ERROR"
        return _json_response({"error_code": name, "message": exc.description or exc.name}, code)

    @app.errorhandler(Exception)
    def on_unexpected(exc: Exception) -> Any:
        return _json_response(_unexpected(exc, request.method, request.path), 500)

    host_ok = _install_host_and_cors_checks(app, settings)
    _install_hooks(app, settings, state)
    app.wsgi_app = _FastPath(app, app.wsgi_app, settings, state, host_ok)  # type: ignore[method-assign]
    return app


def _install_host_and_cors_checks(app: Any, settings: ServerSettings) -> Callable[[str], bool]:
    """DNS-rebinding and cross-site-request protection (as MLflow 3.5+): unknown Host headers get 403,
    state-changing requests from foreign origins get 403; CORS headers for the allowed origins."""
    from flask import Response, request

    allowed = [h.lower() for h in settings.allowed_hosts]
    origins = [o.rstrip("/").lower() for o in settings.cors_allowed_origins]

    def host_ok(host_header: str) -> bool:
        host = host_header.lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.strip("[]")
        if "*" in allowed:
            return True
        for pattern in allowed:
            if pattern == host or pattern == name or (pattern.startswith("*.") and name.endswith(pattern[1:])) \
                    or (pattern.endswith(":*") and pattern[:-2] == name):
                return True
        if allowed:
            return False
        if name in ("localhost", settings.host.lower()):
            return True
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            return False
        return ip.is_loopback or ip.is_private

    def origin_ok(origin: str) -> bool:
        o = origin.rstrip("/").lower()
        if "*" in origins or o in origins:
            return True
        host = request.host.lower()
        return o in (f"http://{host}", f"https://{host}")

    @app.before_request
    def check() -> Any:
        if not host_ok(request.host or ""):
            return Response("Invalid Host header: this server does not answer for that host name "
                            "(see --allowed-hosts)", 403, mimetype="text/plain")
        origin = request.headers.get("Origin")
        if origin and not origin_ok(origin):
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                return _json_response({"error_code": "PERMISSION_DENIED",
                                       "message": f"Cross-origin request from {origin} refused (see "
                                                  "--cors-allowed-origins)"}, 403)
        if request.method == "OPTIONS" and origin and origin_ok(origin):
            resp = Response("", 204)
            return resp
        return None

    @app.after_request
    def headers(resp: Any) -> Any:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        origin = request.headers.get("Origin")
        if origin and origins and origin_ok(origin):
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Vary"] = "Origin"
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            resp.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
        return resp

    return host_ok


# ==========================================================================================================
# the fast path: the JSON endpoints straight from WSGI
# ==========================================================================================================
class _Query:
    """``request.args`` for :func:`parse_request`: the query string's values by name, in order."""

    def __init__(self, query: str) -> None:
        from urllib.parse import parse_qsl

        self._values: dict[str, list[str]] = {}
        for key, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
            self._values.setdefault(key, []).append(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def getlist(self, key: str) -> list[str]:
        return self._values.get(key, [])


class _Headers:
    def __init__(self, environ: dict[str, Any]) -> None:
        self._environ = environ

    def get(self, name: str, default: Any = None) -> Any:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
        return self._environ.get(key, default)


class _RawRequest:
    """What :func:`parse_request` reads of a request, straight from the WSGI environ."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.method = environ["REQUEST_METHOD"]
        self.args = _Query(environ.get("QUERY_STRING", ""))
        self.headers = _Headers(environ)
        length = environ.get("CONTENT_LENGTH")
        self.content_length = int(length) if length and length.isdigit() else None
        self.stream = _Body(environ["wsgi.input"], self.content_length)


class _Body:
    """The request body, never read past its Content-Length (a kept-alive connection holds the next request)."""

    def __init__(self, stream: Any, length: int | None) -> None:
        self._stream, self._left = stream, length

    def read(self, size: int = -1) -> bytes:
        if self._left is None:
            return self._stream.read(size)
        n = self._left if size < 0 else min(size, self._left)
        chunks = []
        while n > 0:
            chunk = self._stream.read(n)
            if not chunk:
                break
            chunks.append(chunk)
            n -= len(chunk)
            self._left -= len(chunk)
        return b"".join(chunks)


class _FastPath:
    """WSGI in front of Flask for the JSON endpoints of tracking and the registry (those without path
    parameters): the same host check, the same parsing (:func:`parse_request`), the same handlers and the
    same JSON and headers, without Flask's request context, routing and response objects (about a third of
    the CPU time of a small request). Everything else goes to Flask: other routes and methods, requests with
    an ``Origin`` header (CORS), a missing ``Host`` header, and every request once the app has request hooks
    beyond the host check (``--auth`` installs its own), so nothing is decided here that Flask would decide
    differently."""

    _HEADERS = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "SAMEORIGIN")]

    def __init__(self, app: Any, flask_wsgi: Callable[..., Any], settings: ServerSettings, state: _State,
                 host_ok: Callable[[str], bool]) -> None:
        self._app, self._flask, self._state, self._host_ok = app, flask_wsgi, state, host_ok
        self._routes: dict[tuple[str, str], tuple[Callable[..., Any], dict[str, str]]] = {}
        self._on: bool | None = None if not (settings.auth or settings.artifacts_only) else False
        for path, methods, fn, spec, group in api.routes:
            if group == "artifacts" or "<" in path:
                continue
            for prefix in ("/api", "/ajax-api"):
                for method in methods:
                    self._routes[(method, f"{prefix}/2.0/mlflow/{path}")] = (fn, spec)

    def _enabled(self) -> bool:
        if self._on is None:  # decided at the first request, when every hook is installed
            # app-wide hooks only (a blueprint's, like the UI's, run for its own routes): the host check and
            # the header hook of _install_host_and_cors_checks, nothing else
            app = self._app
            self._on = (len(app.before_request_funcs.get(None, [])) <= 1
                        and len(app.after_request_funcs.get(None, [])) <= 1
                        and not app.url_value_preprocessors.get(None) and not app.teardown_request_funcs.get(None))
        return self._on

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        route = self._routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        host_header = environ.get("HTTP_HOST")
        if route is None or host_header is None or "HTTP_ORIGIN" in environ or not self._enabled():
            return self._flask(environ, start_response)
        from werkzeug.sansio.utils import get_host

        host = get_host(environ.get("wsgi.url_scheme", "http"), host_header)
        if not self._host_ok(host or ""):
            return self._flask(environ, start_response)  # Flask refuses it, with its own response
        fn, spec = route
        try:
            params = parse_request(_RawRequest(environ), spec) if spec else {}
            result = fn(self._state, params)
            if not isinstance(result, dict):  # a handler's own response object (a WSGI app)
                return result(environ, start_response)
            body, status = _dumps(result), "200 OK"
        except TureenError as exc:
            body, code = _error_body(exc)
            status = _status_line(code)
        except Exception as exc:  # noqa: BLE001 - MLflow's JSON, never a stack trace
            body = _dumps(_unexpected(exc, environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")))
            status = _status_line(500)
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                *self._HEADERS])
        return [body]


def _status_line(code: int) -> str:
    """The status line Werkzeug would send for ``code``."""
    from werkzeug.http import HTTP_STATUS_CODES

    return f"{code} {HTTP_STATUS_CODES.get(code, 'UNKNOWN').upper()}"


def _install_hooks(app: Any, settings: ServerSettings, state: _State) -> None:
    """Wire in the auth and UI parts when they are installed (they live in their own packages)."""
    from tureen.exceptions import MissingDependencyError

    def exists(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            return False

    if settings.auth:
        if not exists("tureen.server.auth"):
            raise MissingDependencyError("--auth needs tureen.server.auth, which this installation lacks")
        importlib.import_module("tureen.server.auth").install(app, settings)
    if exists("tureen.server.ui"):
        ui = importlib.import_module("tureen.server.ui")
        if hasattr(ui, "install"):
            ui.install(app, lambda: state.client, artifact_repo=state.repo_for)


# ==========================================================================================================
# handlers: experiments
# ==========================================================================================================
def _experiment_id(value: Any) -> str:
    return str(value)


@api.rpc("POST", "experiments/create", name="str!", artifact_location="str", tags="objs")
def _create_experiment(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    loc = p["artifact_location"] or None
    if loc is not None:
        from tureen.uri import split_scheme

        if split_scheme(loc)[0] in ("runs", "models"):
            raise InvalidParameterError(f"Invalid artifact_location {loc!r}: a runs:/ or models:/ URI cannot hold "
                                        "an experiment's artifacts")
        if ".." in loc.replace("\\", "/").split("/"):
            raise InvalidParameterError(f"Invalid artifact_location {loc!r}: '..' is not allowed")
    eid = st.store.create_experiment(p["name"], loc, P.kv_dict(p["tags"]) or None)
    return {"experiment_id": str(eid)}


@api.rpc("GET", "experiments/get", experiment_id="str!")
def _get_experiment(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    return {"experiment": P.experiment_to_json(st.store.get_experiment(p["experiment_id"]))}


@api.rpc("GET", "experiments/get-by-name", experiment_name="str!")
def _get_experiment_by_name(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    exp = st.store.get_experiment_by_name(p["experiment_name"])
    if exp is None:
        raise ResourceNotFoundError(f"Could not find experiment with name '{p['experiment_name']}'")
    return {"experiment": P.experiment_to_json(exp)}


@api.rpc("POST,GET", "experiments/search", max_results="int", page_token="str", filter="str", order_by="strs",
         view_type="enum")
def _search_experiments(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    page = st.store.search_experiments(p["view_type"] or 1, p["max_results"] or 0, p["filter"] or None,
                                       p["order_by"] or None, p["page_token"] or None)
    out: dict[str, Any] = {"experiments": [P.experiment_to_json(e) for e in page]}
    if page.token:
        out["next_page_token"] = page.token
    return {k: v for k, v in out.items() if v}


@api.rpc("POST", "experiments/delete", experiment_id="str!")
def _delete_experiment(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.delete_experiment(p["experiment_id"])
    return {}


@api.rpc("POST", "experiments/restore", experiment_id="str!")
def _restore_experiment(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.restore_experiment(p["experiment_id"])
    return {}


@api.rpc("POST", "experiments/update", experiment_id="str!", new_name="str!")
def _update_experiment(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.rename_experiment(p["experiment_id"], p["new_name"])
    return {}


@api.rpc("POST", "experiments/set-experiment-tag", experiment_id="str!", key="str!", value="str")
def _set_experiment_tag(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.set_experiment_tag(p["experiment_id"], p["key"], p["value"] or "")
    return {}


@api.rpc("POST", "experiments/delete-experiment-tag", experiment_id="str!", key="str!")
def _delete_experiment_tag(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.delete_experiment_tag(p["experiment_id"], p["key"])
    return {}


# ==========================================================================================================
# runs
# ==========================================================================================================
def _status(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int):
        if value not in P.RUN_STATUS_NUMBERS:
            raise InvalidParameterError(f"Invalid run status {value!r}")
        return P.RUN_STATUS_NUMBERS[value]
    return value


@api.rpc("POST", "runs/create", experiment_id="str", user_id="str", run_name="str", start_time="int", tags="objs")
def _create_run(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    run = st.store.create_run(p["experiment_id"] or "0", user_id=p["user_id"] or None, start_time=p["start_time"],
                              tags=P.kv_dict(p["tags"]) or None, run_name=p["run_name"] or None)
    return {"run": P.run_to_json(run)}


@api.rpc("POST", "runs/update", run_id="str!", status="enum", end_time="int", run_name="str")
def _update_run(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    info = st.store.update_run_info(p["run_id"], run_status=_status(p["status"]), end_time=p["end_time"],
                                    run_name=p["run_name"] or None)
    return {"run_info": P.run_info_to_json(info)}


@api.rpc("POST", "runs/delete", run_id="str!")
def _delete_run(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.delete_run(p["run_id"])
    return {}


@api.rpc("POST", "runs/restore", run_id="str!")
def _restore_run(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.restore_run(p["run_id"])
    return {}


def _latest(st: _State, runs: list[Any]) -> dict[str, dict[str, Any]]:
    """The step and timestamp of each run's latest metrics (the store's ``Run`` keeps only values)."""
    points = getattr(st.store, "latest_metric_points", None)
    if points is None or not runs:
        return {}
    return points([r.info.run_id for r in runs if r.data.metrics])


@api.rpc("GET", "runs/get", run_id="str!")
def _get_run(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    both = getattr(st.store, "get_run_and_points", None)
    if both is not None:  # the run and its metrics' steps and timestamps in one read
        run, points = both(p["run_id"])
        return {"run": P.run_to_json(run, points)}
    run = st.store.get_run(p["run_id"])
    return {"run": P.run_to_json(run, _latest(st, [run]).get(run.info.run_id))}


@api.rpc("POST", "runs/log-metric", run_id="str!", key="str!", value="num!", timestamp="int!", step="int",
         model_id="str", dataset_name="str", dataset_digest="str")
def _log_metric(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.log_metric(p["run_id"], p["key"], p["value"], p["timestamp"], p["step"] or 0, p["model_id"] or None)
    return {}


@api.rpc("POST", "runs/log-parameter", run_id="str!", key="str!", value="str")
def _log_param(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.log_param(p["run_id"], p["key"], p["value"] if p["value"] is not None else "")
    return {}


@api.rpc("POST", "runs/set-tag", run_id="str!", key="str!", value="str")
def _set_tag(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.set_tag(p["run_id"], p["key"], p["value"] if p["value"] is not None else "")
    return {}


@api.rpc("POST", "runs/delete-tag", run_id="str!", key="str!")
def _delete_tag(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.store.delete_tag(p["run_id"], p["key"])
    return {}


def _metric_items(items: list[dict[str, Any]], run_id: str) -> list[Any]:
    from tureen.tracking.entities import Metric

    out = []
    for i, m in enumerate(items):
        # the usual point, as MLflow's client sends it: checked by exact type, handed on as a tuple (the
        # store's validate_metric makes the value a double); anything else takes the full path below
        get = m.get
        key, value, ts, step, model_id = get("key"), get("value"), get("timestamp"), get("step", 0), get("model_id")
        if (key.__class__ is str and (value.__class__ is float or value.__class__ is int)
                and ts.__class__ is int and step.__class__ is int and (model_id is None or model_id.__class__ is str)):
            out.append((key, value, ts, step, model_id or None))
            continue
        key = _coerce(f"metrics[{i}].key", "str", m.get("key"), False)
        if key is None:
            raise InvalidParameterError(f"Missing value for required parameter 'metrics[{i}].key'. {_HINT}")
        if m.get("value") is None:
            raise InvalidParameterError(f"Missing value for required parameter 'metrics[{i}].value'. {_HINT}")
        if m.get("timestamp") is None:
            raise InvalidParameterError(f"Missing value for required parameter 'metrics[{i}].timestamp'. {_HINT}")
        value = _coerce(f"metrics[{i}].value", "num", m.get("value"), False)
        ts = _coerce(f"metrics[{i}].timestamp", "int", m.get("timestamp"), False)
        step = _coerce(f"metrics[{i}].step", "int", m.get("step"), False) or 0
        model_id = _coerce(f"metrics[{i}].model_id", "str", m.get("model_id"), False)
        out.append(Metric(key, value, ts, step, run_id, model_id or None))
    return out


def _kv_items(items: list[dict[str, Any]], what: str) -> list[tuple[str, str]]:
    out = []
    for i, kv in enumerate(items):
        key = _coerce(f"{what}[{i}].key", "str", kv.get("key"), False)
        if key is None:
            raise InvalidParameterError(f"Missing value for required parameter '{what}[{i}].key'. {_HINT}")
        value = _coerce(f"{what}[{i}].value", "str", kv.get("value"), False)
        out.append((key, value if value is not None else ""))
    return out


@api.rpc("POST", "runs/log-batch", run_id="str!", metrics="objs", params="objs", tags="objs")
def _log_batch(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    metrics, params, tags = p["metrics"] or [], p["params"] or [], p["tags"] or []
    from tureen.tracking import _validation as v

    v.validate_batch_sizes(len(metrics), len(params), len(tags))  # before converting a huge batch
    st.store.log_batch(p["run_id"], _metric_items(metrics, p["run_id"]), _kv_items(params, "params"),
                       _kv_items(tags, "tags"))
    return {}


@api.rpc("POST", "runs/log-model", run_id="str!", model_json="str!")
def _log_model(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    try:
        model = json.loads(p["model_json"])
    except ValueError:
        raise InvalidParameterError("model_json is not valid JSON") from None
    if not isinstance(model, dict):
        raise InvalidParameterError("model_json must be a JSON object")
    st.store.record_logged_model(p["run_id"], p["model_json"])
    return {}


@api.rpc("POST", "runs/log-inputs", run_id="str!", datasets="objs", models="objs")
def _log_inputs(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    models = [m.get("model_id") for m in p["models"] or []]
    if any(not isinstance(m, str) or not m for m in models):
        raise InvalidParameterError(f"Every entry of 'models' needs a string model_id. {_HINT}")
    st.store.log_inputs(p["run_id"], datasets=p["datasets"] or None, models=models or None)
    return {}


@api.rpc("POST", "runs/outputs", run_id="str!", models="objs!")
def _log_outputs(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    from tureen.tracking.entities import LoggedModelOutput

    outs = []
    for i, m in enumerate(p["models"]):
        mid = _coerce(f"models[{i}].model_id", "str", m.get("model_id"), False)
        if not mid:
            raise InvalidParameterError(f"Missing value for required parameter 'models[{i}].model_id'. {_HINT}")
        outs.append(LoggedModelOutput(mid, _coerce(f"models[{i}].step", "int", m.get("step"), False) or 0))
    st.store.log_outputs(p["run_id"], outs)
    return {}


@api.rpc("POST", "runs/search", experiment_ids="strs", filter="str", run_view_type="enum", max_results="int",
         order_by="strs", page_token="str")
def _search_runs(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    max_results = 1000 if p["max_results"] is None else p["max_results"]
    args = (p["experiment_ids"] or [], p["filter"] or None, p["run_view_type"] or 1, max_results,
            p["order_by"] or None, p["page_token"] or None)
    both = getattr(st.store, "search_runs_and_points", None)
    if both is not None:  # the page and its metrics' steps and timestamps in one read
        page, latest = both(*args)
    else:
        page = st.store.search_runs(*args)
        latest = _latest(st, page) if page else {}
    out: dict[str, Any] = {}
    if page:
        out["runs"] = [P.run_to_json(r, latest.get(r.info.run_id)) for r in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


@api.rpc("GET", "metrics/get-history", run_id="str!", metric_key="str!", max_results="int", page_token="str")
def _metric_history(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    page = st.store.get_metric_history(p["run_id"], p["metric_key"], p["max_results"], p["page_token"] or None)
    out: dict[str, Any] = {}
    if page:
        out["metrics"] = [P.metric_to_json(m) for m in page]
    if getattr(page, "token", None):
        out["next_page_token"] = page.token
    return out


@api.rpc("GET", "metrics/get-history-bulk-interval", run_ids="strs!", metric_key="str!", start_step="int",
         end_step="int", max_results="int")
def _metric_history_bulk_interval(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    run_ids, key = p["run_ids"], p["metric_key"]
    if len(run_ids) > MAX_RUNS_BULK:
        raise InvalidParameterError(f"GetMetricHistoryBulkInterval request must specify at most {MAX_RUNS_BULK} "
                                    f"run_ids. Received {len(run_ids)} run_ids.")
    max_results = MAX_RESULTS_PER_RUN if p["max_results"] is None else p["max_results"]
    if not 1 <= max_results <= MAX_RESULTS_PER_RUN:
        raise InvalidParameterError(f"max_results must be between 1 and {MAX_RESULTS_PER_RUN}.")
    start, end = p["start_step"], p["end_step"]
    if (start is None) != (end is None):
        raise InvalidParameterError("If either start step or end step are specified, both must be specified.")
    if start is not None and start > end:
        raise InvalidParameterError(f"end_step must be greater than start_step. Found start_step={start} and "
                                    f"end_step={end}.")
    histories = {}
    for rid in dict.fromkeys(run_ids):
        pts = [m for m in st.store.get_metric_history(rid, key)
               if start is None or start <= m.step <= end]
        histories[rid] = pts
    # sample the same steps across runs: evenly spaced over the steps present, always keeping the ends
    steps = sorted({m.step for pts in histories.values() for m in pts})
    if len(steps) > max_results:
        if max_results == 1:
            chosen = {steps[0]}
        else:
            n = len(steps) - 1
            chosen = {steps[round(i * n / (max_results - 1))] for i in range(max_results)}
    else:
        chosen = set(steps)
    out = []
    for rid, pts in histories.items():
        for m in pts:
            if m.step in chosen:
                out.append(P.metric_to_json(m) | {"run_id": rid})
    out.sort(key=lambda d: (d["run_id"], d["step"], d["timestamp"]))
    return {"metrics": out} if out else {}


@api.rpc("GET", "artifacts/list", run_id="str!", path="str", page_token="str")
def _list_run_artifacts(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    from tureen.artifacts.local import check_relative_path

    run = st.store.get_run(p["run_id"])
    rel = check_relative_path(p["path"])
    repo = st.repo_for(run.info.artifact_uri)
    files = repo.list_artifacts(rel or None)
    out: dict[str, Any] = {"root_uri": run.info.artifact_uri}
    if files:
        out["files"] = [P.file_info_to_json(f) for f in files]
    return out


# ==========================================================================================================
# logged models
# ==========================================================================================================
@api.rpc("POST", "logged-models", experiment_id="str!", name="str", model_type="str", source_run_id="str",
         params="objs", tags="objs")
def _create_logged_model(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    m = st.store.create_logged_model(p["experiment_id"], p["name"] or None, p["source_run_id"] or None,
                                     dict(_kv_items(p["tags"] or [], "tags")) or None,
                                     dict(_kv_items(p["params"] or [], "params")) or None, p["model_type"] or None)
    return {"model": P.logged_model_to_json(m)}


_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w\-]{0,255}$")


def _model_id(model_id: str) -> str:
    if not _MODEL_ID.match(model_id):
        raise InvalidParameterError(f"Invalid logged model id {model_id[:300]!r}")
    return model_id


@api.rpc("GET", "logged-models/<model_id>")
def _get_logged_model(st: _State, p: dict[str, Any], model_id: str) -> dict[str, Any]:
    return {"model": P.logged_model_to_json(st.store.get_logged_model(_model_id(model_id)))}


@api.rpc("PATCH", "logged-models/<model_id>", status="enum!")
def _finalize_logged_model(st: _State, p: dict[str, Any], model_id: str) -> dict[str, Any]:
    status = p["status"]
    if isinstance(status, int):
        status = P.LOGGED_MODEL_STATUS_NUMBERS.get(status, str(status))
    return {"model": P.logged_model_to_json(st.store.finalize_logged_model(_model_id(model_id), status))}


@api.rpc("DELETE", "logged-models/<model_id>")
def _delete_logged_model(st: _State, p: dict[str, Any], model_id: str) -> dict[str, Any]:
    st.store.delete_logged_model(_model_id(model_id))
    return {}


@api.rpc("PATCH", "logged-models/<model_id>/tags", tags="objs")
def _set_logged_model_tags(st: _State, p: dict[str, Any], model_id: str) -> dict[str, Any]:
    st.store.set_logged_model_tags(_model_id(model_id), dict(_kv_items(p["tags"] or [], "tags")))
    return {"model": P.logged_model_to_json(st.store.get_logged_model(model_id))}


@api.rpc("DELETE", "logged-models/<model_id>/tags/<path:tag_key>")
def _delete_logged_model_tag(st: _State, p: dict[str, Any], model_id: str, tag_key: str) -> dict[str, Any]:
    st.store.delete_logged_model_tag(_model_id(model_id), tag_key)
    return {}


@api.rpc("POST", "logged-models/<model_id>/params", params="objs")
def _log_logged_model_params(st: _State, p: dict[str, Any], model_id: str) -> dict[str, Any]:
    st.store.log_logged_model_params(_model_id(model_id), dict(_kv_items(p["params"] or [], "params")))
    return {}


@api.rpc("POST", "logged-models/search", experiment_ids="strs!", filter="str", datasets="objs", max_results="int",
         order_by="objs", page_token="str")
def _search_logged_models(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    if p["datasets"]:
        raise InvalidParameterError("Scoping logged-model searches by dataset is not supported by this server")
    page = st.store.search_logged_models(p["experiment_ids"], p["filter"] or None,
                                         50 if p["max_results"] is None else p["max_results"], p["order_by"] or None,
                                         p["page_token"] or None)
    out: dict[str, Any] = {}
    if page:
        out["models"] = [P.logged_model_to_json(m) for m in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


@api.rpc("GET", "logged-models/<model_id>/artifacts/directories", artifact_directory_path="str", page_token="str")
def _list_logged_model_artifacts(st: _State, p: dict[str, Any], model_id: str) -> dict[str, Any]:
    from tureen.artifacts.local import check_relative_path

    m = st.store.get_logged_model(_model_id(model_id))
    rel = check_relative_path(p["artifact_directory_path"])
    files = st.repo_for(m.artifact_location).list_artifacts(rel or None)
    out: dict[str, Any] = {"root_uri": m.artifact_location}
    if files:
        out["files"] = [P.file_info_to_json(f) for f in files]
    return out


# ==========================================================================================================
# model registry
# ==========================================================================================================
def _rm(st: _State, name: str) -> dict[str, Any]:
    return {"registered_model": P.registered_model_to_json(st.registry.get_registered_model(name))}


@api.rpc("POST", "registered-models/create", group="registry", name="str!", tags="objs", description="str")
def _create_registered_model(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    rm = st.registry.create_registered_model(p["name"], dict(_kv_items(p["tags"] or [], "tags")) or None,
                                             p["description"])
    return {"registered_model": P.registered_model_to_json(rm)}


@api.rpc("GET", "registered-models/get", group="registry", name="str!")
def _get_registered_model(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    return _rm(st, p["name"])


@api.rpc("POST", "registered-models/rename", group="registry", name="str!", new_name="str!")
def _rename_registered_model(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    rm = st.registry.rename_registered_model(p["name"], p["new_name"])
    return {"registered_model": P.registered_model_to_json(rm)}


@api.rpc("PATCH", "registered-models/update", group="registry", name="str!", description="str")
def _update_registered_model(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    rm = st.registry.update_registered_model(p["name"], p["description"])
    return {"registered_model": P.registered_model_to_json(rm)}


@api.rpc("DELETE", "registered-models/delete", group="registry", name="str!")
def _delete_registered_model(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.registry.delete_registered_model(p["name"])
    return {}


@api.rpc("GET", "registered-models/search", group="registry", filter="str", max_results="int", order_by="strs",
         page_token="str")
def _search_registered_models(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    page = st.registry.search_registered_models(p["filter"] or None, 100 if p["max_results"] is None else
                                                p["max_results"], p["order_by"] or None, p["page_token"] or None)
    out: dict[str, Any] = {}
    if page:
        out["registered_models"] = [P.registered_model_to_json(m) for m in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


@api.rpc("POST,GET", "registered-models/get-latest-versions", group="registry", name="str!", stages="strs")
def _get_latest_versions(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    versions = st.registry.get_latest_versions(p["name"], p["stages"] or None)
    return {"model_versions": [P.model_version_to_json(v) for v in versions]} if versions else {}


@api.rpc("POST", "registered-models/set-tag", group="registry", name="str!", key="str!", value="str")
def _set_registered_model_tag(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.registry.set_registered_model_tag(p["name"], p["key"], p["value"] if p["value"] is not None else "")
    return {}


@api.rpc("DELETE", "registered-models/delete-tag", group="registry", name="str!", key="str!")
def _delete_registered_model_tag(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.registry.delete_registered_model_tag(p["name"], p["key"])
    return {}


@api.rpc("POST", "registered-models/alias", group="registry", name="str!", alias="str!", version="str!")
def _set_alias(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.registry.set_registered_model_alias(p["name"], p["alias"], p["version"])
    return {}


@api.rpc("DELETE", "registered-models/alias", group="registry", name="str!", alias="str!")
def _delete_alias(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.registry.delete_registered_model_alias(p["name"], p["alias"])
    return {}


@api.rpc("GET", "registered-models/alias", group="registry", name="str!", alias="str!")
def _get_by_alias(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    return {"model_version": P.model_version_to_json(st.registry.get_model_version_by_alias(p["name"], p["alias"]))}


def _check_version_source(st: _State, source: str, run_id: str | None) -> None:
    """A local-path source may only point inside its run's (local) artifact directory, as MLflow requires:
    otherwise any client could register, and then download through the server, any directory of its disk."""
    from tureen.uri import split_scheme

    scheme, _ = split_scheme(source)
    if scheme not in ("", "file"):
        return
    msg = (f"Invalid model version source: {source!r}. To use a local path as a model version source, the run_id "
           "request parameter has to be specified and the local path has to be contained within the artifact "
           "directory of the run specified by the run_id.")
    if not run_id:
        raise InvalidParameterError(msg)
    from tureen.artifacts.local import local_path_of

    run = st.store.get_run(run_id)
    if split_scheme(run.info.artifact_uri)[0] not in ("", "file"):
        raise InvalidParameterError(msg)
    root = os.path.realpath(local_path_of(run.info.artifact_uri))
    real = os.path.realpath(local_path_of(source))
    if real != root and not real.startswith(root.rstrip("/") + "/"):
        raise InvalidParameterError(msg)


@api.rpc("POST", "model-versions/create", group="registry", name="str!", source="str!", run_id="str", tags="objs",
         run_link="str", description="str", model_id="str")
def _create_model_version(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    _check_version_source(st, p["source"], p["run_id"] or None)
    mv = st.client.create_model_version(p["name"], p["source"], p["run_id"] or None,
                                        dict(_kv_items(p["tags"] or [], "tags")) or None, p["run_link"] or None,
                                        p["description"], model_id=p["model_id"] or None)
    return {"model_version": P.model_version_to_json(mv)}


@api.rpc("GET", "model-versions/get", group="registry", name="str!", version="str!")
def _get_model_version(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    return {"model_version": P.model_version_to_json(st.registry.get_model_version(p["name"], p["version"]))}


@api.rpc("PATCH", "model-versions/update", group="registry", name="str!", version="str!", description="str")
def _update_model_version(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    mv = st.registry.update_model_version(p["name"], p["version"], p["description"])
    return {"model_version": P.model_version_to_json(mv)}


@api.rpc("POST", "model-versions/transition-stage", group="registry", name="str!", version="str!", stage="str!",
         archive_existing_versions="bool")
def _transition_stage(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    mv = st.registry.transition_model_version_stage(p["name"], p["version"], p["stage"],
                                                    bool(p["archive_existing_versions"]))
    return {"model_version": P.model_version_to_json(mv)}


@api.rpc("DELETE", "model-versions/delete", group="registry", name="str!", version="str!")
def _delete_model_version(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.registry.delete_model_version(p["name"], p["version"])
    return {}


@api.rpc("GET", "model-versions/search", group="registry", filter="str", max_results="int", order_by="strs",
         page_token="str")
def _search_model_versions(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    max_results = 200000 if p["max_results"] is None else p["max_results"]
    if max_results > 200000:
        raise InvalidParameterError(f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at "
                                    "most 200000.")
    page = st.registry.search_model_versions(p["filter"] or None, max_results, p["order_by"] or None,
                                             p["page_token"] or None)
    out: dict[str, Any] = {}
    if page:
        out["model_versions"] = [P.model_version_to_json(v) for v in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


@api.rpc("GET", "model-versions/get-download-uri", group="registry", name="str!", version="str!")
def _download_uri(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    return {"artifact_uri": st.registry.get_model_version_download_uri(p["name"], p["version"])}


@api.rpc("POST", "model-versions/set-tag", group="registry", name="str!", version="str!", key="str!", value="str")
def _set_model_version_tag(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.registry.set_model_version_tag(p["name"], p["version"], p["key"], p["value"] if p["value"] is not None else "")
    return {}


@api.rpc("DELETE", "model-versions/delete-tag", group="registry", name="str!", version="str!", key="str!")
def _delete_model_version_tag(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    st.registry.delete_model_version_tag(p["name"], p["version"], p["key"])
    return {}


# ==========================================================================================================
# the artifact proxy (mlflow-artifacts): streamed both ways, paths confined to the destination
# ==========================================================================================================
def _artifact_rel(path: str) -> str:
    from tureen.artifacts.local import check_relative_path

    rel = check_relative_path(path)
    if not rel:
        raise InvalidParameterError("An artifact path is required")
    return rel


def _local_dest(st: _State) -> Any:
    """The destination as a LocalArtifactRepository, or ``None`` when it is not on the local disk."""
    from tureen.artifacts import get_artifact_repository

    repo = get_artifact_repository(st.settings.destination)
    return repo if hasattr(repo, "local_path") and hasattr(repo, "_target") else None


def _copy_stream(src: Any, dst: Any) -> int:
    total = 0
    while True:
        chunk = src.read(_CHUNK)
        if not chunk:
            return total
        dst.write(chunk)
        total += len(chunk)


@api.rpc("PUT", "artifacts/<path:artifact_path>", group="artifacts")
def _upload_artifact(st: _State, p: dict[str, Any], artifact_path: str) -> dict[str, Any]:
    from flask import request

    rel = _artifact_rel(artifact_path)
    local = _local_dest(st)
    if local is not None:
        target = local._target(rel)
        if target.is_dir():
            raise InvalidParameterError(f"Cannot upload to {rel!r}: it is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        local._target(rel)  # again: a directory created concurrently may be a symlink
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as fh:
                _copy_stream(request.stream, fh)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        return {}
    from tureen.artifacts import get_artifact_repository

    repo = get_artifact_repository(st.settings.destination)
    if hasattr(repo, "log_stream"):  # an object store that takes a stream (S3: multipart, constant memory)
        repo.log_stream(request.stream, rel)
        return {}
    # another store: spool to disk (constant memory), then hand the file to the repository
    head, _, name = rel.rpartition("/")
    with tempfile.TemporaryDirectory(prefix="tureen-upload-") as tmpdir:
        file = Path(tmpdir) / name
        with open(file, "wb") as fh:
            _copy_stream(request.stream, fh)
        get_artifact_repository(st.proxied_uri(head)).log_artifact(str(file), None)
    return {}


def _stream_file(path: Path, cleanup: str | None = None) -> Iterator[bytes]:
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    return
                yield chunk
    finally:
        if cleanup:
            shutil.rmtree(cleanup, ignore_errors=True)


@api.rpc("GET", "artifacts/<path:artifact_path>", group="artifacts")
def _download_artifact(st: _State, p: dict[str, Any], artifact_path: str) -> Any:
    from flask import Response, send_file

    rel = _artifact_rel(artifact_path)
    name = posixpath.basename(rel)
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if mime.startswith("text/") or mime in ("application/javascript", "image/svg+xml"):
        mime = "text/plain"  # never let a browser render uploaded HTML/JS/SVG from this origin
    local = _local_dest(st)
    if local is not None:
        target = local._target(rel)
        if target.is_dir():
            raise InvalidParameterError(f"{rel!r} is a directory; list it with GET ?path= instead")
        if not target.is_file():
            raise ResourceNotFoundError(f"No artifact at {rel!r}")
        resp = send_file(target, mimetype=mime, as_attachment=True, download_name=name, conditional=True,
                         etag=True)
        return resp
    from tureen.artifacts import get_artifact_repository

    repo = get_artifact_repository(st.settings.destination)
    if hasattr(repo, "open_stream") and hasattr(repo, "file_size"):
        size = repo.file_size(rel)  # raises not-found before any byte is sent
        resp = Response(repo.open_stream(rel), mimetype=mime)
        resp.headers["Content-Disposition"] = f"attachment; filename={name}"
        resp.headers["Content-Length"] = str(size)
        return resp
    tmpdir = tempfile.mkdtemp(prefix="tureen-download-")
    try:
        head = rel.rpartition("/")[0]

        got = Path(get_artifact_repository(st.proxied_uri(head)).download_artifacts(name, tmpdir))
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    if got.is_dir():
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise InvalidParameterError(f"{rel!r} is a directory; list it with GET ?path= instead")
    resp = Response(_stream_file(got, tmpdir), mimetype=mime)
    resp.headers["Content-Disposition"] = f"attachment; filename={name}"
    resp.headers["Content-Length"] = str(got.stat().st_size)
    return resp


@api.rpc("GET", "artifacts", group="artifacts", path="str")
def _list_artifacts(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    from tureen.artifacts import get_artifact_repository
    from tureen.artifacts.local import check_relative_path

    rel = check_relative_path(p["path"])
    files = get_artifact_repository(st.settings.destination).list_artifacts(rel or None)
    if not files:
        return {}
    return {"files": [P.file_info_to_json(f, posixpath.basename(f.path)) for f in files]}


@api.rpc("DELETE", "artifacts/<path:artifact_path>", group="artifacts")
def _delete_artifact(st: _State, p: dict[str, Any], artifact_path: str) -> dict[str, Any]:
    from tureen.artifacts import get_artifact_repository

    rel = _artifact_rel(artifact_path)
    get_artifact_repository(st.settings.destination).delete_artifacts(rel)
    return {}


def _artifacts_base() -> str:
    """This server's ``…/2.0/mlflow-artifacts`` URL as the client called it (``/api`` or ``/ajax-api``)."""
    from flask import request

    prefix = "/ajax-api" if request.path.startswith("/ajax-api/") else "/api"
    return f"{request.host_url.rstrip('/')}{prefix}/2.0/mlflow-artifacts"


def _unsupported(what: str) -> TureenError:
    # MLflow's wording (its clients compare the start of the message)
    return TureenError(f"{what} is not supported for the current artifact repository", error_code="NOT_IMPLEMENTED",
                       http_status=501)


def _presign_repo(st: _State, artifact_uri: str, what: str) -> Any:
    scheme = artifact_uri.partition(":")[0].lower() if ":" in artifact_uri else ""
    if scheme in ("http", "https", "mlflow-artifacts"):
        raise InvalidParameterError(f"{what} is not supported for proxied artifact storage (artifact URI scheme: "
                                    f"{scheme}). This endpoint requires a direct cloud storage artifact URI.")
    repo = st.repo_for(artifact_uri)
    if not hasattr(repo, "presigned_url"):
        raise _unsupported(what)
    return repo


def _expiration(value: Any, default: int) -> int:
    expiration = default if value is None else value
    if not 1 <= expiration <= 604800:
        raise InvalidParameterError(f"expiration must be between 1 and 604800 seconds (got {expiration}).")
    return expiration


@api.rpc("POST", "artifacts/presigned-download-url", run_id="str!", path="str!", expiration="int")
def _presigned_download_url(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    from tureen.artifacts.local import check_relative_path

    rel = check_relative_path(p["path"])
    expiration = _expiration(p["expiration"], int(os.environ.get("MLFLOW_PRESIGNED_DOWNLOAD_URL_TTL_SECONDS", 900)))
    run = st.store.get_run(p["run_id"])
    repo = _presign_repo(st, run.info.artifact_uri, "Presigned download")
    out: dict[str, Any] = {"presigned_url": repo.presigned_url(rel, "get", expiration)}
    out["file_size"] = repo.file_size(rel)
    return out


@api.rpc("POST", "artifacts/presigned-upload-url", run_id="str", model_id="str", path="str!", expiration="int")
def _presigned_upload_url(st: _State, p: dict[str, Any]) -> dict[str, Any]:
    from tureen.artifacts.local import check_relative_path

    if bool(p["run_id"]) == bool(p["model_id"]):
        raise InvalidParameterError("Exactly one of run_id and model_id must be provided.")
    rel = check_relative_path(p["path"])
    expiration = _expiration(p["expiration"], 900)
    uri = st.store.get_run(p["run_id"]).info.artifact_uri if p["run_id"] else \
        st.store.get_logged_model(_model_id(p["model_id"])).artifact_location
    repo = _presign_repo(st, uri, "Presigned upload")
    return {"presigned_url": repo.presigned_url(rel, "put", expiration)}


@api.rpc("GET", "presigned/<path:artifact_path>", group="artifacts")
def _presigned_proxied(st: _State, p: dict[str, Any], artifact_path: str) -> dict[str, Any]:
    """A presigned GET of a proxied artifact (MLflow's multipart download); S3 destinations only."""
    from tureen.artifacts import get_artifact_repository

    rel = _artifact_rel(artifact_path)
    repo = get_artifact_repository(st.settings.destination)
    if not hasattr(repo, "presigned_url"):
        raise _unsupported("Multipart download")
    ttl = _expiration(int(os.environ.get("MLFLOW_PRESIGNED_DOWNLOAD_URL_TTL_SECONDS", 900)), 900)
    return {"url": repo.presigned_url(rel, "get", ttl), "headers": {}, "file_size": repo.file_size(rel)}


@api.rpc("POST", "mpu/create/<path:artifact_path>", group="artifacts", path="str", num_parts="int")
def _mpu_create(st: _State, p: dict[str, Any], artifact_path: str) -> dict[str, Any]:
    from tureen.server import _multipart

    return _multipart.create(st, artifact_path, p["path"], p["num_parts"], _artifacts_base())


@api.rpc("POST", "mpu/complete/<path:artifact_path>", group="artifacts", path="str", upload_id="str",
         parts="objs")
def _mpu_complete(st: _State, p: dict[str, Any], artifact_path: str) -> dict[str, Any]:
    from tureen.server import _multipart

    return _multipart.complete(st, artifact_path, p["path"], p["upload_id"], p["parts"])


@api.rpc("POST", "mpu/abort/<path:artifact_path>", group="artifacts", path="str", upload_id="str")
def _mpu_abort(st: _State, p: dict[str, Any], artifact_path: str) -> dict[str, Any]:
    from tureen.server import _multipart

    return _multipart.abort(st, artifact_path, p["path"], p["upload_id"])


@api.rpc("PUT", "mpu/upload/<upload_id>/<int:part_number>", group="artifacts")
def _mpu_upload_part(st: _State, p: dict[str, Any], upload_id: str, part_number: int) -> Any:
    """One part of a multipart upload to a local-disk destination (the URL handed out by ``mpu/create``)."""
    from flask import request

    from tureen.server import _multipart

    etag = _multipart.upload_part(st, upload_id, part_number, request.stream)
    resp = _json_response({})
    resp.headers["ETag"] = etag
    return resp
