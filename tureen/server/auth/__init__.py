"""Authentication and permissions for ``tureen server --auth`` (MLflow's basic-auth model).

:func:`install` adds to a server app:

* **who is calling**: HTTP basic auth (``MLFLOW_TRACKING_USERNAME`` / ``_PASSWORD`` in MLflow's client)
  or a bearer token (``MLFLOW_TRACKING_TOKEN``); anything else on a protected route is 401
  ``UNAUTHENTICATED`` (JSON, with ``WWW-Authenticate: Basic``).
* **what they may do**: one table (:mod:`tureen.server.auth._rules`) maps every route to the permission it
  needs. Admins may do everything; other users need READ / EDIT / MANAGE on the experiment or registered
  model the request touches (their grant, else the configured default permission); a route missing from
  the table is refused (fail closed). Creators get MANAGE on what they create; searches return only
  what the caller can read. A refusal is 403 ``PERMISSION_DENIED``.
* MLflow's REST endpoints for users (``users/create``, ``get``, ``current``, ``list``, ``update-password``,
  ``update-admin``, ``delete``) and grants (``experiments/permissions/*``,
  ``registered-models/permissions/*``) under ``/api/2.0/mlflow/`` and ``/ajax-api/2.0/mlflow/``.

Users and grants live in their own database (:class:`~tureen.server.auth._store.AuthStore`; SQLite
by default). Settings (keyword, ``ServerSettings.auth_config`` or environment):

========================  ==============================================  ===============================
``database_uri``          ``TUREEN_AUTH_DATABASE_URI``                     ``sqlite:///$TUREEN_HOME/auth.db``
``default_permission``    ``TUREEN_AUTH_DEFAULT_PERMISSION``               ``READ``
``admin_username``        ``TUREEN_AUTH_ADMIN_USERNAME`` (or MLflow's      ``admin``
                          ``MLFLOW_AUTH_ADMIN_USERNAME``)
``admin_password``        ``TUREEN_AUTH_ADMIN_PASSWORD`` (or               none: needed while the
                          ``MLFLOW_AUTH_ADMIN_PASSWORD``)                  database has no user
========================  ==============================================  ===============================

Example:
    >>> from flask import Flask
    >>> app = Flask("demo")
    >>> install(app, {"database_uri": "sqlite://", "admin_password": "s3cret-pass"})  # doctest: +SKIP
    >>> app.test_client().get("/api/2.0/mlflow/users/current").status_code  # doctest: +SKIP
    401
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
from dataclasses import dataclass, fields
from typing import Any

from tureen.exceptions import InvalidParameterError, TureenError

__all__ = ["install", "AuthSettings", "AuthenticationError", "PermissionDeniedError"]

_MAX_AUTH_HEADER = 8192
_MAX_JSON_BODY = 32 * 1024 * 1024
_GRANT_FOLLOWERS = ("/registered-models/rename", "/registered-models/delete")


class AuthenticationError(TureenError):
    """No valid credentials (401)."""

    error_code = "UNAUTHENTICATED"
    http_status = 401


class PermissionDeniedError(TureenError):
    """Valid credentials, not enough permission (403)."""

    error_code = "PERMISSION_DENIED"
    http_status = 403


@dataclass(frozen=True)
class AuthSettings:
    """How the auth part is configured; see the module docstring for the environment variables.

    Example:
        >>> AuthSettings.resolve({"default_permission": "NO_PERMISSIONS"}).default_permission
        'NO_PERMISSIONS'
    """

    database_uri: str | None = None
    default_permission: str = "READ"
    admin_username: str = "admin"
    admin_password: str | None = None
    #: failed sign-ins allowed per client address (and per user name) within ``failure_window`` seconds;
    #: beyond it every sign-in from there (or as that user) gets 429 until the window has passed
    max_auth_failures: int = 20
    failure_window: float = 60.0

    @classmethod
    def resolve(cls, settings: Any = None) -> AuthSettings:
        """From an ``AuthSettings``, a dict, a ``ServerSettings`` (its ``auth_config``) or ``None`` + env."""
        if isinstance(settings, AuthSettings):
            given: dict[str, Any] = {f.name: getattr(settings, f.name) for f in fields(cls)}
        elif isinstance(settings, dict):
            given = dict(settings)
        else:
            given = dict(getattr(settings, "auth_config", None) or {})
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise InvalidParameterError(f"Unknown auth settings: {', '.join(sorted(unknown))}")
        env = os.environ

        def pick(name: str, *env_names: str, default: Any = None) -> Any:
            if given.get(name) is not None:
                return given[name]
            for e in env_names:
                if env.get(e):
                    return env[e]
            return default

        from tureen.server.auth._permissions import get_permission

        default_permission = pick("default_permission", "TUREEN_AUTH_DEFAULT_PERMISSION", default="READ")
        get_permission(default_permission)
        uri = pick("database_uri", "TUREEN_AUTH_DATABASE_URI")
        if uri is None:
            from tureen.tracking._config import tureen_home

            home = tureen_home()
            home.mkdir(parents=True, exist_ok=True)
            uri = f"sqlite:///{home / 'auth.db'}"
        try:
            max_failures = int(pick("max_auth_failures", "TUREEN_AUTH_MAX_FAILURES", default=20))
            window = float(pick("failure_window", "TUREEN_AUTH_FAILURE_WINDOW", default=60.0))
        except (TypeError, ValueError):
            raise InvalidParameterError("max_auth_failures must be an integer and failure_window a number of "
                                        "seconds") from None
        if max_failures < 1 or not 0 < window <= 86400:
            raise InvalidParameterError("max_auth_failures must be at least 1 and failure_window within "
                                        "(0, 86400] seconds")
        return cls(database_uri=uri, default_permission=default_permission, max_auth_failures=max_failures,
                   failure_window=window,
                   admin_username=pick("admin_username", "TUREEN_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_USERNAME",
                                       default="admin"),
                   admin_password=pick("admin_password", "TUREEN_AUTH_ADMIN_PASSWORD", "MLFLOW_AUTH_ADMIN_PASSWORD"))


def open_store(settings: AuthSettings) -> Any:
    """The auth database, with the initial admin created if it has no user yet."""
    from tureen._optional import import_optional
    from tureen.exceptions import ResourceAlreadyExistsError
    from tureen.server.auth._store import AuthStore

    import_optional("argon2", "password hashing (tureen server --auth)")
    store = AuthStore(settings.database_uri or "sqlite://")
    if not store.has_users():
        if not settings.admin_password:
            raise InvalidParameterError(
                "The auth database has no user yet: set TUREEN_AUTH_ADMIN_PASSWORD (and optionally "
                "TUREEN_AUTH_ADMIN_USERNAME) so the first admin can be created, or create one with "
                "'tureen server users create NAME --admin'")
        try:
            store.create_user(settings.admin_username, settings.admin_password, is_admin=True)
        except ResourceAlreadyExistsError:  # another worker was first
            pass
    return store


# ==========================================================================================================
# the request hooks
# ==========================================================================================================
def _unauthenticated(message: str) -> Any:
    from flask import Response

    body = {"error_code": "UNAUTHENTICATED", "message": message}
    return Response(json.dumps(body, indent=2), 401, mimetype="application/json",
                    headers={"WWW-Authenticate": 'Basic realm="tureen"'})


def _denied(message: str) -> Any:
    from flask import Response

    return Response(json.dumps({"error_code": "PERMISSION_DENIED", "message": message}, indent=2), 403,
                    mimetype="application/json")


def _error(exc: TureenError) -> Any:
    from flask import Response

    return Response(json.dumps(exc.to_json(), indent=2), exc.http_status, mimetype="application/json")


class _FailureLimiter:
    """Failed sign-ins per client address and per user name in a sliding window (per worker process).

    A key over the limit is refused *before* its password is checked (no argon2 work is spent on it), so
    guessing passwords or tokens costs a caller ``failure_window`` seconds per ``max_failures`` guesses.
    Memory is bounded: at most ``max_keys`` keys are tracked (the oldest are forgotten first).
    """

    def __init__(self, max_failures: int, window: float, max_keys: int = 10_000) -> None:
        import collections
        import threading

        self.max_failures, self.window, self.max_keys = max_failures, window, max_keys
        self._failures: collections.OrderedDict[str, list[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, ()) if t > now - self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def retry_after(self, keys: list[str]) -> float | None:
        """Seconds until a locked key may try again, or ``None`` when none is locked."""
        import time

        now = time.monotonic()
        with self._lock:
            waits = []
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.max_failures:
                    waits.append(times[-self.max_failures] + self.window - now)
            return max(waits) if waits else None

    def failed(self, keys: list[str]) -> None:
        import time

        now = time.monotonic()
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times[-self.max_failures:]
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)


def _limited(seconds: float) -> Any:
    import math

    from flask import Response

    body = {"error_code": "REQUEST_LIMIT_EXCEEDED",
            "message": f"Too many failed sign-ins; try again in {math.ceil(seconds)} s"}
    return Response(json.dumps(body, indent=2), 429, mimetype="application/json",
                    headers={"Retry-After": str(max(1, math.ceil(seconds)))})


def _limit_keys(header: str | None) -> list[str]:
    """The keys a request's sign-in counts against: its client address, and the user name it claims."""
    from flask import request

    keys = [f"addr:{request.remote_addr or '?'}"]
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() == "basic" and len(value) < _MAX_AUTH_HEADER:
        try:
            username = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, ValueError, UnicodeDecodeError):
            username = ""
        if username:
            keys.append(f"user:{username[:256]}")
    return keys


def _credentials(store: Any, limiter: _FailureLimiter | None = None) -> Any:
    """The calling user, or a 401 (429 after too many failures) response naming what is wrong."""
    from flask import request

    if limiter is None:
        return _check_credentials(store)
    header = request.headers.get("Authorization")
    keys = _limit_keys(header)
    wait = limiter.retry_after(keys)
    if wait is not None and header is not None:
        return _limited(wait)
    user = _check_credentials(store)
    if not hasattr(user, "username") and header is not None:
        limiter.failed(keys)
    return user


def _check_credentials(store: Any) -> Any:
    from flask import g, request

    header = request.headers.get("Authorization")
    if header is None:
        return _unauthenticated("You are not authenticated: send HTTP basic credentials "
                                "(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD) or a bearer token "
                                "(MLFLOW_TRACKING_TOKEN)")
    if len(header) > _MAX_AUTH_HEADER:
        return _unauthenticated("Malformed Authorization header: it is too long")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return _unauthenticated("Malformed Authorization header: basic credentials must be base64 of "
                                    "'username:password'")
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            return _unauthenticated("Malformed Authorization header: basic credentials must be base64 of "
                                    "'username:password'")
        user = store.authenticate_basic(username, password)
        g.tureen_auth_scheme = "basic"
    elif scheme.lower() == "bearer":
        if not value or any(c.isspace() for c in value):
            return _unauthenticated("Malformed Authorization header: 'Bearer <token>' expected")
        user = store.authenticate_token(value)
        g.tureen_auth_scheme = "bearer"
    else:
        return _unauthenticated(f"Unsupported authorization scheme {scheme[:20]!r}: use Basic or Bearer")
    if user is None:
        return _unauthenticated("Invalid username, password or token")
    return user


def _request_params() -> dict[str, Any]:
    """The request's fields read as the REST handlers read them: query string for GET, JSON body else.

    The body is read once (bounded) and put back, so the handler sees the same bytes; camelCase names
    and ``run_uuid`` are mapped like the handlers map them, so a check cannot be pointed at one resource
    while the handler acts on another.
    """
    import re

    from flask import request

    if request.method in ("GET", "HEAD"):
        raw: dict[str, Any] = {}
        for key in request.args:
            values = request.args.getlist(key)
            raw[key] = values if len(values) > 1 else values[0]
    else:
        length = request.content_length
        if length is not None and length > _MAX_JSON_BODY:
            from tureen.exceptions import RequestTooLargeError

            raise RequestTooLargeError(f"The request body has {length} bytes; at most {_MAX_JSON_BODY} are "
                                       "accepted")
        data = request.stream.read(_MAX_JSON_BODY + 1)
        # put the bytes back for the handler (Werkzeug caches the stream object per request)
        request.environ["wsgi.input"] = io.BytesIO(data)
        request.environ["CONTENT_LENGTH"] = str(len(data))
        request.__dict__.pop("stream", None)
        request.__dict__["stream"] = io.BytesIO(data)
        raw = {}
        if data.strip():
            try:
                body = json.loads(data)
                if isinstance(body, str):
                    body = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                body = None
            if isinstance(body, dict):
                raw = body
    camel = re.compile(r"(?<!^)(?=[A-Z])")
    for key in list(raw):
        snake = camel.sub("_", key).lower()
        if snake != key:
            if snake in raw:
                raise InvalidParameterError(f"Both '{key}' and '{snake}' were given; use one spelling")
            raw[snake] = raw.pop(key)
    if raw.get("run_id") in (None, "") and raw.get("run_uuid") not in (None, ""):
        raw["run_id"] = raw["run_uuid"]
    return raw


class _Resolver:
    """Finds the experiment of a run or logged model, and names of experiments, through the tracking store."""

    def __init__(self, client_factory: Any) -> None:
        self._factory = client_factory

    def client(self) -> Any:
        return self._factory()

    def experiment_of_run(self, run_id: str) -> str:
        return str(self.client().get_run(run_id).info.experiment_id)

    def experiment_of_logged_model(self, model_id: str) -> str:
        return str(self.client().get_logged_model(model_id).experiment_id)

    def experiment_of_name(self, name: str) -> str | None:
        exp = self.client().get_experiment_by_name(name)
        return None if exp is None else str(exp.experiment_id)


def install(app: Any, settings: Any = None, client_factory: Any = None) -> Any:
    """Protect ``app`` (a ``tureen server`` Flask app) with authentication and permissions.

    Args:
        app: the Flask app; its routes are checked against the permission table.
        settings: :class:`AuthSettings`, a dict of its fields, or the server's settings (``auth_config``).
        client_factory: returns the tracking client used to find a run's experiment; by default the
            server app's own (``app.extensions["tureen_server"].client``).

    Returns:
        The :class:`~tureen.server.auth._store.AuthStore` in use.

    Example:
        >>> install(app, AuthSettings(database_uri="sqlite:///auth.db", admin_password="pw-123456"))  # doctest: +SKIP
    """
    from flask import g, request

    from tureen.server.auth import _endpoints
    from tureen.server.auth._permissions import get_permission
    from tureen.server.auth._rules import lookup

    auth = AuthSettings.resolve(settings)
    store = open_store(auth)
    default = get_permission(auth.default_permission)
    if client_factory is None:
        def client_factory() -> Any:
            state = app.extensions.get("tureen_server")
            if state is None:
                raise TureenError("tureen.server.auth needs the server's tracking client "
                                  "(app.extensions['tureen_server'] or client_factory=)")
            return state.client
    resolver = _Resolver(client_factory)
    limiter = _FailureLimiter(auth.max_auth_failures, auth.failure_window)
    app.extensions["tureen_auth"] = store
    _endpoints.register(app, store)

    def permission_on(user: Any, kind: str, resource: str) -> Any:
        cache = g.setdefault("tureen_grants", {})
        key = (kind, resource)
        if key not in cache:
            granted = store.get_grant(kind, resource, user.id)
            cache[key] = get_permission(granted) if granted else default
        return cache[key]

    def check() -> Any:
        rule = request.url_rule
        found = lookup(rule.rule, request.method, rule.endpoint) if rule is not None else None
        if found is not None and found.scope == "public":
            return None
        if request.method == "OPTIONS" and rule is not None:
            return None  # CORS preflight carries no credentials; the real request is checked
        user = _credentials(store, limiter)
        if not hasattr(user, "username"):
            return user  # the 401 response
        g.tureen_user = user
        if rule is not None and rule.rule.endswith(_GRANT_FOLLOWERS) and request.method != "GET":
            try:  # the after-hook moves or drops the model's grants with it
                g.tureen_params = _request_params()
            except TureenError as exc:
                return _error(exc)
        if rule is None:
            return None  # no such route: Flask answers 404/405 to a signed-in caller
        if found is None:
            return _denied(f"Permission denied: {request.method} {rule.rule} has no entry in the permission "
                           "table, so it is refused (fail closed)")
        if user.is_admin:
            return None
        if found.scope == "admin":
            return _denied(f"Permission denied: only admins may call {request.path}")
        if found.scope == "authenticated":
            return None
        try:
            params = _request_params()
        except TureenError as exc:
            return _error(exc)
        if found.scope == "self":
            target = params.get("username")
            if target == user.username:
                return None
            return _denied(f"Permission denied: {user.username!r} may only read or change its own account")
        try:
            resources = found.locate(params, request.view_args or {}, resolver)  # type: ignore[misc]
        except TureenError as exc:
            return _error(exc)
        kind = found.scope
        for resource in resources:
            if not permission_on(user, kind, resource).allows(found.action):  # type: ignore[arg-type]
                what = "experiment" if kind == "experiment" else "registered model"
                return _denied(f"Permission denied: {user.username!r} lacks {found.action} permission on "
                               f"{what} {resource!r}")
        return None

    def after(resp: Any) -> Any:
        user = g.get("tureen_user")
        rule = request.url_rule
        if user is None or rule is None or resp.status_code != 200:
            return resp
        found = lookup(rule.rule, request.method, rule.endpoint)
        key = rule.rule.rsplit("/2.0/mlflow/", 1)[-1]
        try:
            if key == "experiments/create":
                store.set_grant("experiment", str(resp.get_json()["experiment_id"]), user.id, "MANAGE")
            elif key == "registered-models/create":
                store.set_grant("model", resp.get_json()["registered_model"]["name"], user.id, "MANAGE")
            elif key == "registered-models/rename":
                params = g.get("tureen_params") or {}
                new = ((resp.get_json() or {}).get("registered_model") or {}).get("name") or params.get("new_name")
                if isinstance(params.get("name"), str) and isinstance(new, str):
                    store.rename_model_grants(params["name"], new)
            elif key == "registered-models/delete":
                params = g.get("tureen_params") or {}
                if isinstance(params.get("name"), str):
                    store.delete_model_grants(params["name"])
            elif found is not None and found.filter is not None and not user.is_admin:
                return _filter(resp, found.filter, user)
        except (ValueError, KeyError, TypeError):  # not the JSON this route answers: leave it alone
            return resp
        return resp

    def _filter(resp: Any, spec: tuple[str, str, Any], user: Any) -> Any:
        list_key, kind, get = spec
        if resp.is_streamed:
            return resp
        body = json.loads(resp.get_data())
        items = body.get(list_key)
        if isinstance(items, list):
            body[list_key] = [item for item in items
                              if permission_on(user, kind, str(get(item))).can_read]
            if not body[list_key]:
                del body[list_key]
            resp.set_data(json.dumps(body, separators=(",", ":")))
        return resp

    def ui_permission(kind: str, resource: str) -> Any:
        """What the signed-in caller may do on an experiment or registered model (the web UI checks each
        page and form with it: its pages read through the server's own client)."""
        from tureen.server.auth._permissions import MANAGE, NO_PERMISSIONS

        user = g.get("tureen_user")
        if user is None:
            return NO_PERMISSIONS
        if user.is_admin:
            return MANAGE
        return permission_on(user, kind, str(resource))

    def ui_changed(event: str, kind: str, name: str, new_name: str | None = None) -> None:
        """Grants follow what the web UI creates, renames and deletes, as they follow the REST calls."""
        user = g.get("tureen_user")
        if event == "created" and user is not None:
            store.set_grant(kind, str(name), user.id, "MANAGE")
        elif event == "renamed" and kind == "model" and new_name:
            store.rename_model_grants(name, new_name)
        elif event == "deleted" and kind == "model":
            store.delete_model_grants(name)

    app.extensions["tureen_auth_permission"] = ui_permission
    app.extensions["tureen_auth_changed"] = ui_changed
    app.before_request(check)
    app.after_request(after)
    return store

