"""Every route of the server app's ``url_map``, called as an anonymous user, as a user without any
permission and as a reader, gets 401/403 wherever MLflow's permission model requires it: no route is
left open. The expectations are written here from MLflow's documented model, not read from the table."""

from __future__ import annotations

import re
import uuid

import pytest

from conftest_auth import ADMIN, ALICE, BOB, add_users, basic, build_app

API = "/api/2.0/mlflow"

#: anyone, without credentials
PUBLIC = {("/health", "GET"), ("mlflow/server-info", "GET"),
          # a part of a local-disk multipart upload: the random upload id from mpu/create (which needs update
          # permission) is the capability, as a presigned part URL on S3; an unknown id is a 404
          ("mlflow-artifacts/mpu/upload/<upload_id>/<int:part_number>", "PUT")}
#: any signed-in user, whatever their grants (creations, searches filtered to what they can read, themselves)
ANY_USER = PUBLIC | {
    ("/version", "GET"), ("mlflow/experiments/create", "POST"), ("mlflow/experiments/search", "POST"),
    ("mlflow/experiments/search", "GET"), ("mlflow/runs/search", "POST"), ("mlflow/registered-models/create", "POST"),
    ("mlflow/registered-models/search", "GET"), ("mlflow/model-versions/search", "GET"),
    ("mlflow/users/current", "GET"),
    # the web UI: lists filtered to what the caller reads, creations, a redirect, its static files
    ("/", "GET"), ("/experiments", "GET"), ("/models", "GET"), ("/experiments/create", "POST"),
    ("/models/create", "POST"), ("/compare-experiments", "GET"), ("/ui-static/<path:filename>", "GET"),
}
#: reads that MLflow's clients send with POST
READ_BY_POST = {("mlflow/logged-models/search", "POST"), ("mlflow/registered-models/get-latest-versions", "POST"),
                ("mlflow/artifacts/presigned-download-url", "POST")}
#: never for a non-admin reader (user administration, other users' accounts, webhooks)
ADMIN_ONLY_PREFIXES = ("mlflow/users/", "mlflow/webhooks")


def _key(rule: str) -> str:
    return re.sub(r"^/(?:api|ajax-api)/\d+\.\d+/", "", rule)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A strict server (default NO_PERMISSIONS) with one experiment, run, registered model and logged model
    owned by alice; bob has no grant; 'reader' has READ on the experiment and the model."""
    app = build_app(tmp_path_factory.mktemp("walk"), default_permission="NO_PERMISSIONS")
    reader = ("reader", "reader-pass-1")
    add_users(app, ALICE, BOB, reader)
    http = app.test_client()
    name = f"walk-{uuid.uuid4().hex[:6]}"
    exp = http.post(f"{API}/experiments/create", json={"name": name}, headers=basic(ALICE)).get_json()["experiment_id"]
    run = http.post(f"{API}/runs/create", json={"experiment_id": exp}, headers=basic(ALICE)).get_json()
    run_id = run["run"]["info"]["run_id"]
    model = f"walk-model-{uuid.uuid4().hex[:6]}"
    assert http.post(f"{API}/registered-models/create", json={"name": model}, headers=basic(ALICE)).status_code == 200
    model_id = "m-" + "0" * 32
    lm = http.post(f"{API}/logged-models", json={"experiment_id": exp, "name": "lm"}, headers=basic(ALICE))
    if lm.status_code == 200:
        model_id = lm.get_json()["model"]["info"]["model_id"]
    http.put(f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/x.txt", data=b"x", headers=basic(ALICE))
    for path, body in (("experiments/permissions/create", {"experiment_id": exp, "username": "reader",
                                                           "permission": "READ"}),
                       ("registered-models/permissions/create", {"name": model, "username": "reader",
                                                                 "permission": "READ"})):
        assert http.post(f"{API}/{path}", json=body, headers=basic(ALICE)).status_code == 200
    params = {"experiment_id": exp, "experiment_ids": [exp], "experiment_name": name, "run_id": run_id,
              "run_ids": [run_id], "name": model, "new_name": model + "-x", "username": "admin",
              "password": "some-password", "is_admin": True, "permission": "MANAGE", "key": "k", "value": "v",
              "metric_key": "m", "timestamp": 1, "version": "1", "alias": "a", "stage": "Production",
              "source": "models:/" + model_id, "path": f"{exp}/{run_id}/artifacts", "max_results": 10,
              "status": "LOGGED_MODEL_READY", "description": "d", "tags": [], "models": [],
              "model_json": "{}", "upload_id": "u", "parts": [], "url": "http://127.0.0.1:9/hook",
              "events": [],
              # the web UI's query and form fields
              "experiment": exp, "run": run_id}
    path_values = {"model_id": model_id, "artifact_path": f"{exp}/{run_id}/artifacts/x.txt", "tag_key": "k",
                   "webhook_id": "w", "experiment_id": exp, "run_id": run_id, "upload_id": "0" * 32, "part_number": "1"}
    return {"app": app, "users": {"nobody": BOB, "reader": reader}, "params": params, "path_values": path_values,
            "exp": exp}


def _requests(world):
    app = world["app"]
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(rf"<(?:[^:>]+:)?{arg}>", world["path_values"].get(arg, "x"), url)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule.rule, _key(rule.rule), method, url


def _call(http, method, url, params, headers):
    if method == "GET":
        return http.get(url, query_string=params, headers=headers)
    if not url.startswith(("/api/", "/ajax-api/")):  # the web UI's forms
        return http.open(url, method=method, data={k: v for k, v in params.items() if isinstance(v, (str, int))},
                         headers=headers)
    if method == "PUT" and "mlflow-artifacts" in url:
        return http.put(url, data=b"walk", headers=headers)
    return http.open(url, method=method, json=params, headers=headers)


def _denied(r) -> bool:
    """403 with MLflow's JSON (the API) or the UI's error page naming the refusal."""
    if r.status_code != 403:
        return False
    body = r.get_json(silent=True)
    if body is not None:
        return body.get("error_code") == "PERMISSION_DENIED"
    return "Permission denied" in r.get_data(as_text=True)


def test_every_route_is_refused_to_anonymous_callers(world):
    http = world["app"].test_client()
    open_routes = []
    for rule, key, method, url in _requests(world):
        r = _call(http, method, url, world["params"], {})
        if (key, method) in PUBLIC:
            assert r.status_code not in (401, 403), (method, rule)
            if "<upload_id>" in rule:
                assert r.status_code == 404, (method, rule, r.status_code)
        elif r.status_code != 401 or r.get_json().get("error_code") != "UNAUTHENTICATED":
            open_routes.append((method, rule, r.status_code))
    assert not open_routes, open_routes


def test_every_route_is_refused_to_a_user_without_permissions(world):
    http = world["app"].test_client()
    headers = basic(world["users"]["nobody"])
    wrong = []
    for rule, key, method, url in _requests(world):
        r = _call(http, method, url, world["params"], headers)
        if (key, method) in ANY_USER:
            if r.status_code in (401, 403):
                wrong.append(("refused", method, rule, r.status_code))
        elif not _denied(r):
            wrong.append(("open", method, rule, r.status_code))
    assert not wrong, wrong


def test_a_reader_reads_and_writes_nothing(world):
    http = world["app"].test_client()
    headers = basic(world["users"]["reader"])
    wrong = []
    for rule, key, method, url in _requests(world):
        if (key, method) in ANY_USER:
            continue
        r = _call(http, method, url, world["params"], headers)
        may_read = (method == "GET" or (key, method) in READ_BY_POST) and not key.startswith(ADMIN_ONLY_PREFIXES) \
            and "/permissions/" not in key
        if may_read and r.status_code in (401, 403):
            wrong.append(("read refused", method, rule, r.status_code))
        if not may_read and r.status_code != 403:
            wrong.append(("write allowed", method, rule, r.status_code))
    assert not wrong, wrong
    # and the things read are still there: nothing above deleted the experiment
    r = http.get(f"{API}/experiments/get", query_string={"experiment_id": world["exp"]}, headers=basic(ADMIN))
    assert r.status_code == 200


def test_every_route_of_the_app_is_in_the_permission_table(world):
    """Else it is refused to everyone, admins too (fail closed): a new route must get an entry."""
    from tureen.server.auth._rules import lookup

    missing = [(method, rule.rule) for rule in world["app"].url_map.iter_rules()
               for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}) if lookup(rule.rule, method, rule.endpoint) is None]
    assert not missing, missing
    http = world["app"].test_client()
    r = http.get(f"{API}/experiments/get", query_string={"experiment_id": world["exp"]}, headers=basic(ADMIN))
    assert r.status_code == 200
