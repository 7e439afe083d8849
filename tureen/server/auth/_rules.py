"""THE permission table: every route of ``tureen server`` -> who may call it and on which resource.

A route is named by its Flask rule with the API prefix taken off (``/api/2.0/mlflow/runs/get`` and its
``/ajax-api/2.0/mlflow/runs/get`` twin are both ``mlflow/runs/get``) and its HTTP method. Each entry is a
:class:`Rule`: a *scope* and, for experiment and model scopes, the action needed (``read``, ``update``,
``delete``, ``manage``; MLflow's model) and a *locator* that finds the resources in the request:

=================  =====================================================================================
``public``         anyone, no credentials (``/health``, ``server-info``)
``authenticated``  any signed-in user (creating experiments and models; searches, whose results are
                   then filtered to what the user can read)
``admin``          admins only (user management, webhooks)
``self``           the user named in the request, or an admin (``users/get``, ``users/update-password``)
``experiment``     the action on every experiment the locator finds (run ids, logged model ids and
                   artifact paths lead to their experiment)
``model``          the action on the registered model named in the request
=================  =====================================================================================

A route that is not in the table is refused for everyone (fail closed), so a new endpoint cannot be
left open by forgetting it here; ``tests/server/test_auth_walk.py`` walks every rule of the app's
``url_map`` to keep the table complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from tureen.exceptions import InvalidParameterError

__all__ = ["Rule", "RULES", "rule_key", "lookup"]

_PREFIX = re.compile(r"^/(?:api|ajax-api)/\d+\.\d+/")

#: a locator: (params, view_args, resolver) -> resource ids (experiment ids or model names)
Locator = Callable[[dict[str, Any], dict[str, Any], Any], list[str]]


@dataclass(frozen=True)
class Rule:
    scope: str
    action: str | None = None
    locate: Locator | None = None
    #: response filtering for searches: (list key, how to get an experiment id / model name of an item)
    filter: tuple[str, str, Callable[[dict[str, Any]], Any]] | None = None


def rule_key(rule: str) -> str:
    """``/api/2.0/mlflow/runs/get`` -> ``mlflow/runs/get`` (``/health`` stays ``/health``).

    Example:
        >>> rule_key("/ajax-api/2.0/mlflow-artifacts/artifacts/<path:artifact_path>")
        'mlflow-artifacts/artifacts/<path:artifact_path>'
    """
    return _PREFIX.sub("", rule) if _PREFIX.match(rule) else rule


# -- locators -----------------------------------------------------------------------------------------------
def _required(params: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = params.get(name)
        if value not in (None, ""):
            return value
    raise InvalidParameterError(f"Missing value for required parameter '{names[0]}'. See the API docs for more "
                                "information about request parameters.")


def _one(value: Any, name: str) -> str:
    if isinstance(value, list):  # a repeated query key: the handlers use the last value
        value = value[-1] if value else None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidParameterError(f"Invalid value {value!r} for parameter '{name}'")
    return str(value)


def by_experiment_id(params: dict[str, Any], _va: dict[str, Any], _r: Any) -> list[str]:
    return [_one(_required(params, "experiment_id"), "experiment_id")]


def by_experiment_id_or_default(params: dict[str, Any], _va: dict[str, Any], _r: Any) -> list[str]:
    value = params.get("experiment_id")
    return [_one(value, "experiment_id") if value not in (None, "") else "0"]


def by_experiment_ids(params: dict[str, Any], _va: dict[str, Any], _r: Any) -> list[str]:
    value = _required(params, "experiment_ids")
    values = value if isinstance(value, list) else [value]
    return [_one(v, "experiment_ids") for v in values]


def by_experiment_name(params: dict[str, Any], _va: dict[str, Any], resolver: Any) -> list[str]:
    name = _one(_required(params, "experiment_name"), "experiment_name")
    exp_id = resolver.experiment_of_name(name)
    return [] if exp_id is None else [exp_id]  # none: the handler answers 404


def by_run_id(params: dict[str, Any], _va: dict[str, Any], resolver: Any) -> list[str]:
    return [resolver.experiment_of_run(_one(_required(params, "run_id", "run_uuid"), "run_id"))]


def by_run_ids(params: dict[str, Any], _va: dict[str, Any], resolver: Any) -> list[str]:
    value = _required(params, "run_ids")
    values = value if isinstance(value, list) else [value]
    return sorted({resolver.experiment_of_run(_one(v, "run_ids")) for v in values})


def by_logged_model(_p: dict[str, Any], view_args: dict[str, Any], resolver: Any) -> list[str]:
    return [resolver.experiment_of_logged_model(_one(view_args.get("model_id"), "model_id"))]


def by_run_or_logged_model(params: dict[str, Any], _va: dict[str, Any], resolver: Any) -> list[str]:
    """``run_id`` or ``model_id`` in the body (presigned uploads take either)."""
    if params.get("model_id") not in (None, "") and params.get("run_id") in (None, ""):
        return [resolver.experiment_of_logged_model(_one(params["model_id"], "model_id"))]
    return by_run_id(params, _va, resolver)


def by_artifact_path(params: dict[str, Any], view_args: dict[str, Any], _r: Any) -> list[str]:
    """``mlflow-artifacts`` paths start with the experiment id (``<exp>/<run>/artifacts/...``)."""
    from tureen.artifacts.local import check_relative_path

    raw = view_args.get("artifact_path")
    if raw is None:
        raw = params.get("path")
    if isinstance(raw, list):
        raw = raw[-1] if raw else None
    try:
        rel = check_relative_path(raw if isinstance(raw, str) else None, "artifact path")
    except InvalidParameterError:
        return ["<invalid>"]  # an unparseable path names no experiment a user can hold: refused
    first = rel.split("/", 1)[0]
    return [first] if first.isdigit() else ["<none>"]


def by_model_name(params: dict[str, Any], _va: dict[str, Any], _r: Any) -> list[str]:
    return [_one(_required(params, "name"), "name")]


# -- the table ----------------------------------------------------------------------------------------------
PUBLIC = Rule("public")
AUTHENTICATED = Rule("authenticated")
ADMIN = Rule("admin")
SELF = Rule("self")


def exp(action: str, locate: Locator = by_experiment_id) -> Rule:
    return Rule("experiment", action, locate)


def model(action: str, locate: Locator = by_model_name) -> Rule:
    return Rule("model", action, locate)


def _filtered(key: str, kind: str, get: Callable[[dict[str, Any]], Any]) -> Rule:
    return Rule("authenticated", filter=(key, kind, get))


_M = "mlflow/"
_A = "mlflow-artifacts/"
_ART = "<path:artifact_path>"

RULES: dict[tuple[str, str], Rule] = {
    ("/health", "GET"): PUBLIC,
    ("/version", "GET"): AUTHENTICATED,
    (_M + "server-info", "GET"): PUBLIC,
    # experiments
    (_M + "experiments/create", "POST"): AUTHENTICATED,  # the creator then gets MANAGE
    (_M + "experiments/get", "GET"): exp("read"),
    (_M + "experiments/get-by-name", "GET"): exp("read", by_experiment_name),
    (_M + "experiments/search", "POST"): _filtered("experiments", "experiment", lambda e: e.get("experiment_id")),
    (_M + "experiments/search", "GET"): _filtered("experiments", "experiment", lambda e: e.get("experiment_id")),
    (_M + "experiments/delete", "POST"): exp("delete"),
    (_M + "experiments/restore", "POST"): exp("delete"),
    (_M + "experiments/update", "POST"): exp("update"),
    (_M + "experiments/set-experiment-tag", "POST"): exp("update"),
    (_M + "experiments/delete-experiment-tag", "POST"): exp("update"),
    # runs
    (_M + "runs/create", "POST"): exp("update", by_experiment_id_or_default),
    (_M + "runs/update", "POST"): exp("update", by_run_id),
    (_M + "runs/delete", "POST"): exp("delete", by_run_id),
    (_M + "runs/restore", "POST"): exp("delete", by_run_id),
    (_M + "runs/get", "GET"): exp("read", by_run_id),
    (_M + "runs/log-metric", "POST"): exp("update", by_run_id),
    (_M + "runs/log-parameter", "POST"): exp("update", by_run_id),
    (_M + "runs/set-tag", "POST"): exp("update", by_run_id),
    (_M + "runs/delete-tag", "POST"): exp("update", by_run_id),
    (_M + "runs/log-batch", "POST"): exp("update", by_run_id),
    (_M + "runs/log-model", "POST"): exp("update", by_run_id),
    (_M + "runs/log-inputs", "POST"): exp("update", by_run_id),
    (_M + "runs/outputs", "POST"): exp("update", by_run_id),
    (_M + "runs/search", "POST"): _filtered("runs", "experiment", lambda r: (r.get("info") or {}).get("experiment_id")),
    (_M + "metrics/get-history", "GET"): exp("read", by_run_id),
    (_M + "metrics/get-history-bulk-interval", "GET"): exp("read", by_run_ids),
    (_M + "metrics/get-history-bulk", "GET"): exp("read", by_run_ids),
    (_M + "artifacts/list", "GET"): exp("read", by_run_id),
    (_M + "artifacts/presigned-download-url", "POST"): exp("read", by_run_id),
    (_M + "artifacts/presigned-upload-url", "POST"): exp("update", by_run_or_logged_model),
    (_M + "upload-artifact", "POST"): exp("update", by_run_id),
    ("/get-artifact", "GET"): exp("read", by_run_id),
    # logged models
    (_M + "logged-models", "POST"): exp("update"),
    (_M + "logged-models/<model_id>", "GET"): exp("read", by_logged_model),
    (_M + "logged-models/<model_id>", "PATCH"): exp("update", by_logged_model),
    (_M + "logged-models/<model_id>", "DELETE"): exp("delete", by_logged_model),
    (_M + "logged-models/<model_id>/tags", "PATCH"): exp("update", by_logged_model),
    (_M + "logged-models/<model_id>/tags/<path:tag_key>", "DELETE"): exp("delete", by_logged_model),
    (_M + "logged-models/<model_id>/params", "POST"): exp("update", by_logged_model),
    (_M + "logged-models/search", "POST"): exp("read", by_experiment_ids),
    (_M + "logged-models/<model_id>/artifacts/directories", "GET"): exp("read", by_logged_model),
    (_M + "logged-models/<model_id>/artifacts/files", "GET"): exp("read", by_logged_model),
    # registered models and versions
    (_M + "registered-models/create", "POST"): AUTHENTICATED,  # the creator then gets MANAGE
    (_M + "registered-models/get", "GET"): model("read"),
    (_M + "registered-models/rename", "POST"): model("update"),
    (_M + "registered-models/update", "PATCH"): model("update"),
    (_M + "registered-models/delete", "DELETE"): model("delete"),
    (_M + "registered-models/search", "GET"): _filtered("registered_models", "model", lambda m: m.get("name")),
    (_M + "registered-models/get-latest-versions", "POST"): model("read"),
    (_M + "registered-models/get-latest-versions", "GET"): model("read"),
    (_M + "registered-models/set-tag", "POST"): model("update"),
    (_M + "registered-models/delete-tag", "DELETE"): model("update"),
    (_M + "registered-models/alias", "POST"): model("update"),
    (_M + "registered-models/alias", "DELETE"): model("delete"),
    (_M + "registered-models/alias", "GET"): model("read"),
    (_M + "model-versions/create", "POST"): model("update"),
    (_M + "model-versions/get", "GET"): model("read"),
    (_M + "model-versions/update", "PATCH"): model("update"),
    (_M + "model-versions/transition-stage", "POST"): model("update"),
    (_M + "model-versions/delete", "DELETE"): model("delete"),
    (_M + "model-versions/search", "GET"): _filtered("model_versions", "model", lambda v: v.get("name")),
    (_M + "model-versions/get-download-uri", "GET"): model("read"),
    (_M + "model-versions/set-tag", "POST"): model("update"),
    (_M + "model-versions/delete-tag", "DELETE"): model("delete"),
    ("/model-versions/get-artifact", "GET"): model("read"),
    # registry webhooks: admins only (as MLflow)
    (_M + "webhooks", "POST"): ADMIN,
    (_M + "webhooks", "GET"): ADMIN,
    (_M + "webhooks/<webhook_id>", "GET"): ADMIN,
    (_M + "webhooks/<webhook_id>", "PATCH"): ADMIN,
    (_M + "webhooks/<webhook_id>", "DELETE"): ADMIN,
    (_M + "webhooks/<webhook_id>/test", "POST"): ADMIN,
    # the artifact proxy: the path's first segment is the experiment id
    (_A + "artifacts/" + _ART, "GET"): exp("read", by_artifact_path),
    (_A + "artifacts/" + _ART, "PUT"): exp("update", by_artifact_path),
    (_A + "artifacts/" + _ART, "DELETE"): exp("manage", by_artifact_path),
    (_A + "artifacts", "GET"): exp("read", by_artifact_path),
    (_A + "mpu/create/" + _ART, "POST"): exp("update", by_artifact_path),
    (_A + "mpu/complete/" + _ART, "POST"): exp("update", by_artifact_path),
    (_A + "mpu/abort/" + _ART, "POST"): exp("update", by_artifact_path),
    (_A + "presigned/" + _ART, "GET"): exp("read", by_artifact_path),
    # a part of a local-disk multipart upload: the 128-bit upload id handed out by mpu/create (to a caller
    # with update permission) is the capability, as a presigned part URL is on S3; MLflow's client sends no
    # credentials with parts
    (_A + "mpu/upload/<upload_id>/<int:part_number>", "PUT"): PUBLIC,
    # users (the auth part's own endpoints)
    (_M + "users/create", "POST"): ADMIN,
    (_M + "users/get", "GET"): SELF,
    (_M + "users/current", "GET"): AUTHENTICATED,
    (_M + "users/list", "GET"): ADMIN,
    (_M + "users/update-password", "PATCH"): SELF,
    (_M + "users/update-admin", "PATCH"): ADMIN,
    (_M + "users/delete", "DELETE"): ADMIN,
    (_M + "users/create-token", "POST"): SELF,
    (_M + "users/revoke-tokens", "DELETE"): SELF,
    # grants: MANAGE on the experiment / model
    (_M + "experiments/permissions/create", "POST"): exp("manage"),
    (_M + "experiments/permissions/get", "GET"): exp("manage"),
    (_M + "experiments/permissions/update", "PATCH"): exp("manage"),
    (_M + "experiments/permissions/delete", "DELETE"): exp("manage"),
    (_M + "registered-models/permissions/create", "POST"): model("manage"),
    (_M + "registered-models/permissions/get", "GET"): model("manage"),
    (_M + "registered-models/permissions/update", "PATCH"): model("manage"),
    (_M + "registered-models/permissions/delete", "DELETE"): model("manage"),
}

#: rules whose paths are served by Flask itself (``static``) or the web UI: any signed-in user
AUTHENTICATED_PREFIXES = ("/static/",)


#: the web UI's blueprint: any signed-in user; its pages read through the server's own client, so each page and
#: form checks the caller's permission on the experiments, runs and models it touches
#: (``app.extensions["tureen_auth_permission"]``, see :mod:`tureen.server.ui._views`)
UI_ENDPOINT_PREFIX = "tureen_ui."


def lookup(rule: str, method: str, endpoint: str | None = None) -> Rule | None:
    """The rule for a Flask rule string, method and endpoint; ``None`` = not in the table (refused)."""
    if method == "HEAD":
        method = "GET"
    found = RULES.get((rule_key(rule), method))
    if found is None and endpoint is not None and endpoint.startswith(UI_ENDPOINT_PREFIX) and method != "OPTIONS":
        return AUTHENTICATED
    if found is None and method != "OPTIONS" and rule.startswith(AUTHENTICATED_PREFIXES):
        return AUTHENTICATED
    return found
