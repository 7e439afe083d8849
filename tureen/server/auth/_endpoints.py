"""MLflow's REST endpoints for users and grants (``/api/2.0/mlflow/users/*``, ``…/permissions/*``).

Who may call each one is decided by the permission table before the handler runs; the handlers here
only validate their fields and act on the auth database. Answers are MLflow's JSON shapes.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from tureen.exceptions import InvalidParameterError, TureenError

__all__ = ["register"]


def _json(body: Any, status: int = 200) -> Any:
    from flask import Response

    return Response(json.dumps(body, indent=2), status, mimetype="application/json")


def _field(params: dict[str, Any], name: str, kind: type = str) -> Any:
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None or value == "":
        raise InvalidParameterError(f"Missing value for required parameter '{name}'. See the API docs for more "
                                    "information about request parameters.")
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise InvalidParameterError(f"Invalid value {value!r} for parameter '{name}': true or false expected")
        return value
    if kind is str and isinstance(value, int) and not isinstance(value, bool) and name == "experiment_id":
        return str(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidParameterError(f"Invalid value {value!r} for parameter '{name}' supplied: Hint: Value was of "
                                    f"type '{type(value).__name__}'.")
    return value


def register(app: Any, store: Any) -> None:
    """Add the user and grant endpoints to ``app`` under both API prefixes."""
    from flask import g, request

    from tureen.server.auth import _request_params

    def params() -> dict[str, Any]:
        if request.method not in ("GET", "HEAD") and request.method in ("POST", "PUT"):
            ctype = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise InvalidParameterError("Bad Request. Content-Type must be one of ['application/json'].")
        return _request_params()

    def me() -> Any:
        return g.tureen_user

    # -- users --------------------------------------------------------------------------------------------
    def create_user() -> Any:
        p = params()
        user = store.create_user(_field(p, "username"), _field(p, "password"))
        return _json({"user": user.to_json()})

    def get_user() -> Any:
        return _json({"user": store.get_user(_field(params(), "username")).to_json()})

    def current_user() -> Any:
        return _json({"user": store.get_user(me().username).to_json()})

    def list_users() -> Any:
        return _json({"users": [u.to_json() for u in store.list_users()]})

    def update_password() -> Any:
        p = params()
        username, password = _field(p, "username"), _field(p, "password")
        if username == me().username:
            # changing one's own password needs the current one (a stolen token alone is not enough)
            current = p.get("current_password")
            if not isinstance(current, str) or store.authenticate_basic(username, current) is None:
                from tureen.server.auth import PermissionDeniedError

                raise PermissionDeniedError("Changing your own password needs 'current_password' (your current "
                                            "password)")
        store.update_password(username, password)
        return _json({})

    def update_admin() -> Any:
        p = params()
        store.set_admin(_field(p, "username"), _field(p, "is_admin", bool))
        return _json({})

    def delete_user() -> Any:
        store.delete_user(_field(params(), "username"))
        return _json({})

    # -- bearer tokens (tureen's addition; MLflow's auth app has none) ----------------------------------------
    def create_token() -> Any:
        p = params()
        username = _field(p, "username")
        name = p.get("name", "default")
        if not isinstance(name, str) or not name or len(name) > 255:
            raise InvalidParameterError("'name' must be a non-empty string of at most 255 characters")
        if not me().is_admin and g.get("tureen_auth_scheme") != "basic":
            from tureen.server.auth import PermissionDeniedError

            # a token must not mint more tokens: a leaked one would then outlive its revocation
            raise PermissionDeniedError("Creating a token needs your password (HTTP basic auth), not a token")
        return _json({"token": store.create_token(username, name), "username": username, "name": name})

    def revoke_tokens() -> Any:
        return _json({"revoked": store.revoke_tokens(_field(params(), "username"))})

    # -- grants -------------------------------------------------------------------------------------------
    def grants(kind: str, key: str, entity: str) -> dict[str, Callable[[], Any]]:
        def create() -> Any:
            p = params()
            grant = store.create_grant(kind, _field(p, key), _field(p, "username"), _field(p, "permission"))
            return _json({entity: grant.to_json()})

        def get() -> Any:
            p = params()
            return _json({entity: store.read_grant(kind, _field(p, key), _field(p, "username")).to_json()})

        def update() -> Any:
            p = params()
            store.update_grant(kind, _field(p, key), _field(p, "username"), _field(p, "permission"))
            return _json({})

        def delete() -> Any:
            p = params()
            store.delete_grant(kind, _field(p, key), _field(p, "username"))
            return _json({})

        return {"create": create, "get": get, "update": update, "delete": delete}

    routes: list[tuple[str, str, Callable[[], Any]]] = [
        ("users/create", "POST", create_user),
        ("users/get", "GET", get_user),
        ("users/current", "GET", current_user),
        ("users/list", "GET", list_users),
        ("users/update-password", "PATCH", update_password),
        ("users/update-admin", "PATCH", update_admin),
        ("users/delete", "DELETE", delete_user),
        ("users/create-token", "POST", create_token),
        ("users/revoke-tokens", "DELETE", revoke_tokens),
    ]
    for base, kind, key, entity in (("experiments/permissions", "experiment", "experiment_id", "experiment_permission"),
                                    ("registered-models/permissions", "model", "name",
                                     "registered_model_permission")):
        handlers = grants(kind, key, entity)
        for verb, method in (("create", "POST"), ("get", "GET"), ("update", "PATCH"), ("delete", "DELETE")):
            routes.append((f"{base}/{verb}", method, handlers[verb]))

    def wrap(fn: Callable[[], Any]) -> Callable[[], Any]:
        def view() -> Any:
            try:
                return fn()
            except TureenError as exc:
                return _json(exc.to_json(), exc.http_status)
        return view

    for path, method, fn in routes:
        for prefix in ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"):
            app.add_url_rule(prefix + path, endpoint=f"tureen_auth:{prefix}{path}", view_func=wrap(fn),
                             methods=[method])
