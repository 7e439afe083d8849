"""``tureen server --auth``: credentials, MLflow's permission model, the user and grant endpoints, and
hostile requests (bad credentials, malformed headers, privilege escalation), all answered with JSON."""

from __future__ import annotations

import base64
import json

import pytest

import uuid

from conftest_auth import ADMIN, ALICE, BOB, auth_app, basic, build_app, http, new_user, strict_app  # noqa: F401

API = "/api/2.0/mlflow"


def _assert_json_error(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.data
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert body["error_code"] == code and body["message"]
    assert "Traceback" not in r.get_data(as_text=True)
    return body


def _exp(http, user, name) -> str:
    r = http.post(f"{API}/experiments/create", json={"name": f"{name}-{uuid.uuid4().hex[:8]}"}, headers=basic(user))
    assert r.status_code == 200, r.data
    return r.get_json()["experiment_id"]


# -- credentials ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("header", [
    None,
    "Basic",
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Basic " + base64.b64encode(b":password-without-user").decode(),
    "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    "Basic " + base64.b64encode(b"admin:wrong-password").decode(),
    "Basic " + base64.b64encode(b"nobody:admin-pass-1").decode(),
    "Bearer",
    "Bearer not a token",
    "Bearer tur_forged",
    "Digest username=admin",
    "Basic " + "A" * 10000,
])
def test_bad_credentials_are_401_json(http, header):
    headers = {} if header is None else {"Authorization": header}
    r = http.get(f"{API}/experiments/get?experiment_id=0", headers=headers)
    _assert_json_error(r, 401, "UNAUTHENTICATED")
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_public_routes_need_no_credentials(http):
    assert http.get("/health").status_code == 200


def test_bearer_tokens(auth_app, http):
    store = auth_app.extensions["tureen_auth"]
    token = store.create_token("bob", "ci")
    r = http.get(f"{API}/users/current", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.get_json()["user"]["username"] == "bob"
    assert "tur_" not in json.dumps(r.get_json())
    assert store.revoke_tokens("bob") == 1
    _assert_json_error(http.get(f"{API}/users/current", headers={"Authorization": f"Bearer {token}"}), 401,
                       "UNAUTHENTICATED")


def test_password_change_takes_effect_at_once(auth_app, http):
    carol = new_user(auth_app)
    assert http.get(f"{API}/users/current", headers=basic(carol)).status_code == 200  # verified, remembered
    r = http.patch(f"{API}/users/update-password", json={"username": carol[0], "password": "new-carol-pass"},
                   headers=basic(ADMIN))
    assert r.status_code == 200
    _assert_json_error(http.get(f"{API}/users/current", headers=basic(carol)), 401, "UNAUTHENTICATED")
    assert http.get(f"{API}/users/current", headers=basic((carol[0], "new-carol-pass"))).status_code == 200


# -- the permission model ------------------------------------------------------------------------------------
def test_creator_gets_manage_default_read_and_grants(http):
    exp = _exp(http, ALICE, "alice-exp")
    me = http.get(f"{API}/users/current", headers=basic(ALICE)).get_json()["user"]
    assert me["experiment_permissions"] == [{"experiment_id": exp, "user_id": me["id"], "permission": "MANAGE"}]
    run = http.post(f"{API}/runs/create", json={"experiment_id": exp}, headers=basic(ALICE))
    assert run.status_code == 200
    run_id = run.get_json()["run"]["info"]["run_id"]
    # bob has the default (READ): he reads but cannot write
    assert http.get(f"{API}/experiments/get?experiment_id={exp}", headers=basic(BOB)).status_code == 200
    assert http.get(f"{API}/runs/get?run_id={run_id}", headers=basic(BOB)).status_code == 200
    body = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1}
    _assert_json_error(http.post(f"{API}/runs/log-metric", json=body, headers=basic(BOB)), 403, "PERMISSION_DENIED")
    _assert_json_error(http.post(f"{API}/runs/create", json={"experiment_id": exp}, headers=basic(BOB)), 403,
                       "PERMISSION_DENIED")
    # alice grants EDIT: now he can log
    r = http.post(f"{API}/experiments/permissions/create",
                  json={"experiment_id": exp, "username": "bob", "permission": "EDIT"}, headers=basic(ALICE))
    assert r.status_code == 200
    assert r.get_json()["experiment_permission"]["permission"] == "EDIT"
    assert http.post(f"{API}/runs/log-metric", json=body, headers=basic(BOB)).status_code == 200
    got = http.get(f"{API}/experiments/permissions/get?experiment_id={exp}&username=bob", headers=basic(ALICE))
    assert got.get_json()["experiment_permission"]["permission"] == "EDIT"
    # NO_PERMISSIONS hides it, even from reads
    r = http.patch(f"{API}/experiments/permissions/update",
                   json={"experiment_id": exp, "username": "bob", "permission": "NO_PERMISSIONS"},
                   headers=basic(ALICE))
    assert r.status_code == 200
    _assert_json_error(http.get(f"{API}/runs/get?run_uuid={run_id}", headers=basic(BOB)), 403, "PERMISSION_DENIED")
    assert http.delete(f"{API}/experiments/permissions/delete", json={"experiment_id": exp, "username": "bob"},
                       headers=basic(ALICE)).status_code == 200
    assert http.get(f"{API}/runs/get?run_uuid={run_id}", headers=basic(BOB)).status_code == 200  # default again


def test_searches_show_only_readable(strict_app):
    http = strict_app.test_client()
    mine = _exp(http, ALICE, "alice-only")
    theirs = _exp(http, BOB, "bob-only")
    a_model, b_model = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    for name, user in ((a_model, ALICE), (b_model, BOB)):
        assert http.post(f"{API}/registered-models/create", json={"name": name}, headers=basic(user)).status_code == 200
    for user, eid in ((ALICE, mine), (BOB, theirs)):
        http.post(f"{API}/runs/create", json={"experiment_id": eid}, headers=basic(user))
    exps = http.post(f"{API}/experiments/search", json={"max_results": 100}, headers=basic(BOB)).get_json()
    assert theirs in [e["experiment_id"] for e in exps["experiments"]]
    assert mine not in [e["experiment_id"] for e in exps["experiments"]]
    assert "0" not in [e["experiment_id"] for e in exps["experiments"]]  # Default: no grant, default NO_PERMISSIONS
    runs = http.post(f"{API}/runs/search", json={"experiment_ids": [mine, theirs]}, headers=basic(BOB)).get_json()
    assert {r["info"]["experiment_id"] for r in runs["runs"]} == {theirs}
    models = http.get(f"{API}/registered-models/search", headers=basic(BOB)).get_json()
    names = [m["name"] for m in models["registered_models"]]
    assert b_model in names and a_model not in names
    admin_view = http.post(f"{API}/experiments/search", json={"max_results": 100}, headers=basic(ADMIN)).get_json()
    assert {mine, theirs} <= {e["experiment_id"] for e in admin_view["experiments"]}
    _assert_json_error(http.get(f"{API}/registered-models/get?name={a_model}", headers=basic(BOB)), 403,
                       "PERMISSION_DENIED")


def test_model_grants_follow_rename_and_delete(http):
    m1, m2 = f"m1-{uuid.uuid4().hex[:6]}", f"m2-{uuid.uuid4().hex[:6]}"
    assert http.post(f"{API}/registered-models/create", json={"name": m1}, headers=basic(ALICE)).status_code == 200
    assert http.post(f"{API}/registered-models/rename", json={"name": m1, "new_name": m2},
                     headers=basic(ALICE)).status_code == 200
    me = http.get(f"{API}/users/current", headers=basic(ALICE)).get_json()["user"]
    names = [p["name"] for p in me["registered_model_permissions"]]
    assert m2 in names and m1 not in names
    assert http.delete(f"{API}/registered-models/delete", json={"name": m2}, headers=basic(ALICE)).status_code == 200
    me = http.get(f"{API}/users/current", headers=basic(ALICE)).get_json()["user"]
    assert m2 not in [p["name"] for p in me["registered_model_permissions"]]
    # a model made later under the old name does not inherit the old grants: bob's create makes him MANAGE
    assert http.post(f"{API}/registered-models/create", json={"name": m2}, headers=basic(BOB)).status_code == 200
    _assert_json_error(http.delete(f"{API}/registered-models/delete", json={"name": m2}, headers=basic(ALICE)),
                       403, "PERMISSION_DENIED")


def test_artifact_proxy_paths_follow_the_experiment(http):
    exp = _exp(http, ALICE, "art")
    path = f"/api/2.0/mlflow-artifacts/artifacts/{exp}/run1/artifacts/x.txt"
    assert http.put(path, data=b"abc", headers=basic(ALICE)).status_code == 200
    assert http.get(path, headers=basic(BOB)).status_code == 200  # default READ
    _assert_json_error(http.put(path, data=b"evil", headers=basic(BOB)), 403, "PERMISSION_DENIED")
    for hostile in ("../1/x", "%2e%2e/1/x", "not-an-experiment/x", f"{exp}/../{exp}/x"):
        r = http.put(f"/api/2.0/mlflow-artifacts/artifacts/{hostile}", data=b"evil", headers=basic(BOB))
        assert r.status_code in (403, 404), (hostile, r.status_code)


def test_unlisted_route_is_refused_for_everyone(tmp_path):
    from flask import Response

    app = build_app(tmp_path)
    app.add_url_rule("/new-endpoint-nobody-listed", endpoint="nobody-listed", view_func=lambda: Response("secret"))
    http = app.test_client()
    _assert_json_error(http.get("/new-endpoint-nobody-listed"), 401, "UNAUTHENTICATED")
    body = _assert_json_error(http.get("/new-endpoint-nobody-listed", headers=basic(ADMIN)), 403,
                              "PERMISSION_DENIED")
    assert "fail closed" in body["message"]


# -- privilege escalation ------------------------------------------------------------------------------------
def test_non_admin_cannot_manage_users(http):
    for method, path, body in (
            ("post", "users/create", {"username": "mallory", "password": "mallory-pass"}),
            ("patch", "users/update-admin", {"username": "bob", "is_admin": True}),
            ("delete", "users/delete", {"username": "alice"}),
            ("patch", "users/update-password", {"username": "alice", "password": "hijacked-pass"}),
            ("get", "users/list", None),
    ):
        kwargs = {"json": body} if body is not None else {}
        r = getattr(http, method)(f"{API}/{path}", headers=basic(BOB), **kwargs)
        _assert_json_error(r, 403, "PERMISSION_DENIED")
    _assert_json_error(http.get(f"{API}/users/get?username=alice", headers=basic(BOB)), 403, "PERMISSION_DENIED")
    # the /ajax-api twin is guarded the same way
    _assert_json_error(http.post("/ajax-api/2.0/mlflow/users/create",
                                 json={"username": "mallory", "password": "mallory-pass"}, headers=basic(BOB)),
                       403, "PERMISSION_DENIED")
    me = http.get(f"{API}/users/get?username=bob", headers=basic(BOB)).get_json()["user"]
    assert me["is_admin"] is False
    assert http.post(f"{API}/users/create", json={"username": "mallory", "password": "x" * 8},
                     headers=basic(ALICE)).status_code == 403


def test_non_manager_cannot_grant_itself_manage(http):
    exp = _exp(http, ALICE, "alice-private")
    alice_model = f"alice-model-{uuid.uuid4().hex[:6]}"
    http.post(f"{API}/registered-models/create", json={"name": alice_model}, headers=basic(ALICE))
    _assert_json_error(http.post(f"{API}/experiments/permissions/create",
                                 json={"experiment_id": exp, "username": "bob", "permission": "MANAGE"},
                                 headers=basic(BOB)), 403, "PERMISSION_DENIED")
    _assert_json_error(http.patch(f"{API}/experiments/permissions/update",
                                  json={"experiment_id": exp, "username": "alice", "permission": "NO_PERMISSIONS"},
                                  headers=basic(BOB)), 403, "PERMISSION_DENIED")
    _assert_json_error(http.post(f"{API}/registered-models/permissions/create",
                                 json={"name": alice_model, "username": "bob", "permission": "MANAGE"},
                                 headers=basic(BOB)), 403, "PERMISSION_DENIED")
    # camelCase and run_uuid spellings reach the same check
    _assert_json_error(http.post(f"{API}/experiments/permissions/create",
                                 json={"experimentId": exp, "username": "bob", "permission": "MANAGE"},
                                 headers=basic(BOB)), 403, "PERMISSION_DENIED")
    # a query string cannot point the check at another experiment than the body
    _assert_json_error(http.post(f"{API}/experiments/permissions/create?experiment_id=999",
                                 json={"experiment_id": exp, "username": "bob", "permission": "MANAGE"},
                                 headers=basic(BOB)), 403, "PERMISSION_DENIED")
    r = http.get(f"{API}/users/get?username=bob", headers=basic(BOB)).get_json()["user"]
    assert exp not in [p["experiment_id"] for p in r["experiment_permissions"]]
    assert alice_model not in [p["name"] for p in r["registered_model_permissions"]]


def test_self_password_change_needs_the_current_one(auth_app, http):
    dave = new_user(auth_app)
    _assert_json_error(http.patch(f"{API}/users/update-password", json={"username": dave[0], "password": "n3w-pass!"},
                                  headers=basic(dave)), 403, "PERMISSION_DENIED")
    _assert_json_error(http.patch(f"{API}/users/update-password",
                                  json={"username": dave[0], "password": "n3w-pass!", "current_password": "guess"},
                                  headers=basic(dave)), 403, "PERMISSION_DENIED")
    r = http.patch(f"{API}/users/update-password",
                   json={"username": dave[0], "password": "n3w-pass!", "current_password": dave[1]},
                   headers=basic(dave))
    assert r.status_code == 200
    assert http.get(f"{API}/users/current", headers=basic((dave[0], "n3w-pass!"))).status_code == 200


@pytest.mark.parametrize("method,path,body,code", [
    ("post", "users/create", {"username": "x"}, "INVALID_PARAMETER_VALUE"),
    ("post", "users/create", {"username": "x", "password": "short"}, "INVALID_PARAMETER_VALUE"),
    ("post", "users/create", {"username": "a:b", "password": "long-enough"}, "INVALID_PARAMETER_VALUE"),
    ("post", "users/create", {"username": 5, "password": "long-enough"}, "INVALID_PARAMETER_VALUE"),
    ("post", "users/create", {"username": "alice", "password": "long-enough"}, "RESOURCE_ALREADY_EXISTS"),
    ("get", "users/get?username=ghost", None, "RESOURCE_DOES_NOT_EXIST"),
    ("patch", "users/update-admin", {"username": "bob", "is_admin": "maybe"}, "INVALID_PARAMETER_VALUE"),
    ("patch", "users/update-admin", {"username": "admin", "is_admin": False}, "INVALID_PARAMETER_VALUE"),
    ("delete", "users/delete", {"username": "admin"}, "INVALID_PARAMETER_VALUE"),
    ("delete", "users/delete", {"username": "ghost"}, "RESOURCE_DOES_NOT_EXIST"),
    ("post", "experiments/permissions/create", {"experiment_id": "0", "username": "bob", "permission": "GOD"},
     "INVALID_PARAMETER_VALUE"),
    ("post", "experiments/permissions/create", {"experiment_id": "0", "username": "ghost", "permission": "READ"},
     "RESOURCE_DOES_NOT_EXIST"),
    ("get", "experiments/permissions/get?experiment_id=0&username=bob", None, "RESOURCE_DOES_NOT_EXIST"),
    ("patch", "registered-models/permissions/update", {"name": "nope", "username": "bob", "permission": "READ"},
     "RESOURCE_DOES_NOT_EXIST"),
    ("delete", "registered-models/permissions/delete", {"name": "nope", "username": "bob"},
     "RESOURCE_DOES_NOT_EXIST"),
])
def test_bad_requests_to_auth_endpoints_are_typed(http, method, path, body, code):
    kwargs = {"json": body} if body is not None else {}
    r = getattr(http, method)(f"{API}/{path}", headers=basic(ADMIN), **kwargs)
    assert r.status_code in (400, 404) and r.get_json()["error_code"] == code, r.data
    assert "Traceback" not in r.get_data(as_text=True)


def test_malformed_bodies_and_content_types(http):
    r = http.post(f"{API}/users/create", data="{not json", headers={**basic(ADMIN), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.get_json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = http.post(f"{API}/users/create", data="username=x", headers={**basic(ADMIN), "Content-Type": "text/plain"})
    assert r.status_code == 400 and "Content-Type" in r.get_json()["message"]
    r = http.post(f"{API}/runs/create", data="[1, 2]", headers={**basic(BOB), "Content-Type": "application/json"})
    assert r.status_code in (400, 403) and r.mimetype == "application/json"
    r = http.post(f"{API}/experiments/permissions/create", json={"experiment_id": {"$ne": 1}, "username": "bob",
                                                                  "permission": "MANAGE"}, headers=basic(BOB))
    assert r.status_code == 400 and r.get_json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_missing_admin_password_is_a_clear_error(tmp_path, monkeypatch):
    from tureen.exceptions import InvalidParameterError
    from tureen.server.auth import open_store, AuthSettings

    for var in ("TUREEN_AUTH_ADMIN_PASSWORD", "MLFLOW_AUTH_ADMIN_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(InvalidParameterError, match="TUREEN_AUTH_ADMIN_PASSWORD"):
        open_store(AuthSettings.resolve({"database_uri": f"sqlite:///{tmp_path / 'a.db'}"}))
    with pytest.raises(InvalidParameterError, match="Invalid permission"):
        AuthSettings.resolve({"default_permission": "ALL"})
    with pytest.raises(InvalidParameterError, match="Unknown auth settings"):
        AuthSettings.resolve({"databse_uri": "typo"})
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "from-mlflow-env")
    store = open_store(AuthSettings.resolve({"database_uri": f"sqlite:///{tmp_path / 'b.db'}"}))
    assert store.authenticate_basic("admin", "from-mlflow-env").is_admin


def test_passwords_are_argon2_hashed(auth_app):
    store = auth_app.extensions["tureen_auth"]
    with store.engine.connect() as conn:
        hashes = [r.password_hash for r in conn.execute(store.users.select())]
    assert all(h.startswith("$argon2id$") for h in hashes) and not any(BOB[1] in h for h in hashes)


# -- tokens through the REST API -----------------------------------------------------------------------------
def test_tokens_are_created_and_revoked_through_the_api(auth_app, http):
    carol = new_user(auth_app)
    r = http.post(f"{API}/users/create-token", json={"username": carol[0], "name": "laptop"}, headers=basic(carol))
    assert r.status_code == 200, r.data
    token = r.get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.get(f"{API}/users/current", headers=bearer).get_json()["user"]["username"] == carol[0]
    # a token cannot mint more tokens, and nobody makes tokens for someone else unless admin
    _assert_json_error(http.post(f"{API}/users/create-token", json={"username": carol[0]}, headers=bearer), 403,
                       "PERMISSION_DENIED")
    _assert_json_error(http.post(f"{API}/users/create-token", json={"username": "alice"}, headers=basic(carol)), 403,
                       "PERMISSION_DENIED")
    _assert_json_error(http.post(f"{API}/users/create-token", json={"username": carol[0]}), 401, "UNAUTHENTICATED")
    _assert_json_error(http.post(f"{API}/users/create-token", json={"username": carol[0], "name": ["x"]},
                                 headers=basic(carol)), 400, "INVALID_PARAMETER_VALUE")
    admin_made = http.post(f"{API}/users/create-token", json={"username": carol[0]}, headers=basic(ADMIN))
    assert admin_made.status_code == 200
    r = http.delete(f"{API}/users/revoke-tokens", json={"username": carol[0]}, headers=basic(carol))
    assert r.status_code == 200 and r.get_json() == {"revoked": 2}
    _assert_json_error(http.get(f"{API}/users/current", headers=bearer), 401, "UNAUTHENTICATED")


# -- sign-in failure limit -----------------------------------------------------------------------------------
def test_failed_sign_ins_are_rate_limited(tmp_path):
    app = build_app(tmp_path, max_auth_failures=3)
    add_users_ = __import__("conftest_auth").add_users
    add_users_(app, ALICE)
    http = app.test_client()
    url = f"{API}/users/current"
    for _ in range(3):
        _assert_json_error(http.get(url, headers=basic(("alice", "guess"))), 401, "UNAUTHENTICATED")
    # now locked: even the right password waits (no password is checked while locked), and so do tokens
    body = _assert_json_error(http.get(url, headers=basic(ALICE)), 429, "REQUEST_LIMIT_EXCEEDED")
    assert "try again" in body["message"]
    r = http.get(url, headers=basic(ALICE))
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    _assert_json_error(http.get(url, headers={"Authorization": "Bearer tur_guess"}), 429, "REQUEST_LIMIT_EXCEEDED")
    # another address is not locked out for the same user name's failures... but the user name is
    other = http.get(url, headers=basic(ALICE), environ_base={"REMOTE_ADDR": "10.0.0.9"})
    _assert_json_error(other, 429, "REQUEST_LIMIT_EXCEEDED")
    fresh = http.get(url, headers=basic(ADMIN), environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert fresh.status_code == 200
    # no credentials at all is a plain 401 (browsers ask first), never counted
    _assert_json_error(http.get(url, environ_base={"REMOTE_ADDR": "10.0.0.10"}), 401, "UNAUTHENTICATED")


def test_failure_limit_settings_are_checked(tmp_path):
    from tureen.exceptions import InvalidParameterError
    from tureen.server.auth import AuthSettings

    for bad in ({"max_auth_failures": 0}, {"max_auth_failures": "many"}, {"failure_window": -1}):
        with pytest.raises(InvalidParameterError):
            AuthSettings.resolve({"database_uri": "sqlite://", **bad})


# -- the web UI checks permissions per experiment and model -------------------------------------------------
def test_web_ui_shows_and_edits_only_what_the_user_may(strict_app):
    http = strict_app.test_client()
    mine = _exp(http, ALICE, "ui-mine")
    hidden = _exp(http, ADMIN, "ui-hidden")
    run_id = http.post(f"{API}/runs/create", json={"experiment_id": mine}, headers=basic(ALICE)).get_json()["run"]["info"]["run_id"]
    assert http.post(f"{API}/experiments/permissions/create", headers=basic(ALICE),
                     json={"experiment_id": mine, "username": "bob", "permission": "READ"}).status_code == 200
    page = http.get("/experiments", headers=basic(BOB)).get_data(as_text=True)
    assert f"/experiments/{mine}" in page and f"/experiments/{hidden}" not in page
    assert http.get(f"/experiments/{mine}", headers=basic(BOB)).status_code == 200
    assert http.get(f"/runs/{run_id}", headers=basic(BOB)).status_code == 200
    for url in (f"/experiments/{hidden}", f"/experiments/{hidden}/keys"):
        r = http.get(url, headers=basic(BOB))
        assert r.status_code == 403 and "Permission denied" in r.get_data(as_text=True), url
    # READ does not edit: rename, tag, description and delete are refused, and nothing changed
    for url, form in ((f"/experiments/{mine}/rename", {"name": "stolen"}), (f"/runs/{run_id}/tags", {"key": "k"}),
                      (f"/runs/{run_id}/description", {"description": "x"}), ("/runs/delete", {"run": run_id}),
                      ("/experiments/delete", {"experiment": mine})):
        assert http.post(url, data=form, headers=basic(BOB)).status_code == 403, url
    assert http.get(f"{API}/runs/get", query_string={"run_id": run_id}, headers=basic(ADMIN)).get_json()["run"]["info"]["lifecycle_stage"] == "active"
    # EDIT edits but does not delete
    assert http.patch(f"{API}/experiments/permissions/update", headers=basic(ALICE),
                     json={"experiment_id": mine, "username": "bob", "permission": "EDIT"}).status_code == 200
    assert http.post(f"/runs/{run_id}/description", data={"description": "by bob"}, headers=basic(BOB)).status_code == 303
    assert http.post("/runs/delete", data={"run": run_id}, headers=basic(BOB)).status_code == 403
    # what a user creates in the UI is theirs to manage, and hidden from others under NO_PERMISSIONS
    r = http.post("/experiments/create", data={"name": f"ui-bob-{uuid.uuid4().hex[:6]}"}, headers=basic(BOB))
    assert r.status_code == 303
    bobs = r.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert http.post("/experiments/delete", data={"experiment": bobs}, headers=basic(BOB)).status_code == 303
    name = f"ui-model-{uuid.uuid4().hex[:6]}"
    assert http.post("/models/create", data={"name": name}, headers=basic(BOB)).status_code == 303
    assert http.get("/model", query_string={"name": name}, headers=basic(BOB)).status_code == 200
    assert name not in http.get("/models", headers=basic(ALICE)).get_data(as_text=True)
    assert http.get("/model", query_string={"name": name}, headers=basic(ALICE)).status_code == 403
