"""Every endpoint of ``tureen server`` answers hostile input with a 4xx MLflow error JSON, never a stack
trace, and never touches a file outside the artifact destination."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote
from pathlib import Path

import pytest

from tureen.server.app import ServerSettings, api, create_app

from server_support import fresh_tureen_db


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def app(root: Path, tureen_template_db: Path):
    """One app for the module (hostile requests write nothing; the few writes use their own names)."""
    return create_app(ServerSettings(backend_store_uri=fresh_tureen_db(tureen_template_db, root),
                                     artifacts_destination=str(root / "dest")))


@pytest.fixture
def http(app):
    return app.test_client()


def _url(path: str, group: str, prefix: str = "/api") -> str:
    base = "/2.0/mlflow-artifacts/" if group == "artifacts" else "/2.0/mlflow/"
    concrete = re.sub(r"<(?:path:)?(\w+)>", lambda m: "m-0123" if m.group(1) == "model_id" else "x/y", path)
    return f"{prefix}{base}{concrete}".rstrip("/")


ROUTES = [(path, method, spec, group) for path, methods, _fn, spec, group in api.routes for method in methods]


def _assert_clean_error(resp, statuses=range(400, 500)) -> dict:
    assert resp.status_code in statuses, (resp.status_code, resp.data[:500])
    body = resp.get_json()
    assert isinstance(body, dict) and body.get("error_code") and body.get("message"), resp.data[:500]
    assert "Traceback" not in resp.get_data(as_text=True) and 'File "' not in resp.get_data(as_text=True)
    return body


def _wrong(kind: str):
    return {"str": {"a": 1}, "int": "twelve", "num": [1], "bool": "maybe", "enum": {"x": 1}, "strs": 7,
            "objs": "nope", "obj": 3}[kind.rstrip("!")]


@pytest.mark.parametrize("path,method,spec,group", [r for r in ROUTES if r[2]],
                         ids=[f"{r[1]} {r[0]}" for r in ROUTES if r[2]])
def test_wrong_types_are_400_json(http, path, method, spec, group):
    for name, kind in spec.items():
        if method == "GET":
            if kind.rstrip("!") not in ("int", "bool"):
                continue  # a query string only carries strings
            resp = http.get(_url(path, group), query_string={name: "not-a-number-or-bool"})
        else:
            resp = http.open(_url(path, group), method=method, json={name: _wrong(kind)})
        body = _assert_clean_error(resp)
        assert name in body["message"] or "Content-Type" in body["message"], body


@pytest.mark.parametrize("path,method,spec,group", [r for r in ROUTES if r[1] != "GET" and r[2]],
                         ids=[f"{r[1]} {r[0]}" for r in ROUTES if r[1] != "GET" and r[2]])
def test_malformed_json_and_missing_content_type(http, path, method, spec, group):
    for body in (b"{bad", b"[1, 2]", b"\xff\xfe", b'"just a string"'):
        _assert_clean_error(http.open(_url(path, group), method=method, data=body,
                                      content_type="application/json"))
    if method in ("POST", "PUT"):
        body = _assert_clean_error(http.open(_url(path, group), method=method, data=b"{}"))
        assert "Content-Type" in body["message"]
        body = _assert_clean_error(http.open(_url(path, group), method=method, data=b"{}", content_type="text/html"))
        assert "Content-Type" in body["message"]


@pytest.mark.parametrize("path,method,spec,group", [r for r in ROUTES if any(k.endswith("!") for k in r[2].values())],
                         ids=[f"{r[1]} {r[0]}" for r in ROUTES if any(k.endswith("!") for k in r[2].values())])
def test_missing_required_fields(http, path, method, spec, group):
    resp = http.get(_url(path, group)) if method == "GET" else http.open(_url(path, group), method=method, json={})
    body = _assert_clean_error(resp)
    assert body["error_code"] == "INVALID_PARAMETER_VALUE" and "Missing value for required parameter" in \
        body["message"]


def test_huge_json_body_is_413_without_reading_it_all(http):
    big = b'{"name": "' + b"x" * (33 * 1024 * 1024) + b'"}'
    body = _assert_clean_error(http.post("/api/2.0/mlflow/experiments/create", data=big,
                                         content_type="application/json"), [413])
    assert body["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_huge_batches_are_refused_with_mlflow_limits(http):
    run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).get_json()["run"]
    rid = run["info"]["run_id"]
    metrics = [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(1001)]
    body = _assert_clean_error(http.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": rid, "metrics": metrics}))
    assert "1000" in body["message"]
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    _assert_clean_error(http.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": rid, "params": params}))
    bad = [{"key": "m", "value": "abc", "timestamp": 1}]
    _assert_clean_error(http.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": rid, "metrics": bad}))
    _assert_clean_error(http.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": rid, "metrics": [{"key": "m"}]}))
    _assert_clean_error(http.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": rid, "tags": [{"value": "v"}]}))
    assert "metrics" not in http.get(f"/api/2.0/mlflow/runs/get?run_id={rid}").get_json()["run"]["data"]


TRAVERSALS = ["../outside.txt", "a/../../outside.txt", "..%2foutside.txt", "%2e%2e/outside.txt",
              "a/%2e%2e/%2e%2e/outside.txt", "/etc/passwd", "a/\x00b", "..\\outside.txt", "a/..%5c..%5coutside.txt"]


@pytest.mark.parametrize("bad", TRAVERSALS)
def test_artifact_paths_cannot_leave_the_destination(http, root, bad):
    tmp_path = root
    (tmp_path / "dest").mkdir(exist_ok=True)
    (tmp_path / "outside.txt").write_text("secret")
    for prefix in ("/api", "/ajax-api"):
        base = f"{prefix}/2.0/mlflow-artifacts/artifacts/"
        for method in ("PUT", "GET", "DELETE"):
            resp = http.open(base + bad, method=method, data=b"evil")
            assert resp.status_code in (400, 404), (method, bad, resp.status_code)
            _assert_clean_error(resp)
        _assert_clean_error(http.get(base.rstrip("/"), query_string={"path": unquote(bad)}))
    assert (tmp_path / "outside.txt").read_text() == "secret"
    assert not (tmp_path / "evil").exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == b"evil"] == []


def test_symlink_inside_destination_leading_outside_is_refused(http, root):
    tmp_path = root
    dest = tmp_path / "dest"
    dest.mkdir(exist_ok=True)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "key.txt").write_text("k")
    (dest / "link").symlink_to(tmp_path / "secret")
    _assert_clean_error(http.get("/api/2.0/mlflow-artifacts/artifacts/link/key.txt"))
    _assert_clean_error(http.put("/api/2.0/mlflow-artifacts/artifacts/link/new.txt", data=b"x"))
    _assert_clean_error(http.delete("/api/2.0/mlflow-artifacts/artifacts/link/key.txt"))
    assert (tmp_path / "secret" / "key.txt").read_text() == "k" and not (tmp_path / "secret" / "new.txt").exists()


def test_run_artifact_listing_is_confined(http):
    rid = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).get_json()["run"]["info"]["run_id"]
    for bad in ("../..", "/etc", "a/../../.."):
        _assert_clean_error(http.get("/api/2.0/mlflow/artifacts/list", query_string={"run_id": rid, "path": bad}))


def test_a_local_model_version_source_must_be_inside_its_runs_artifacts(http, tmp_path):
    http.post("/api/2.0/mlflow/registered-models/create", json={"name": "m"})
    rid = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).get_json()["run"]["info"]["run_id"]
    for source, run_id in (("/etc", None), ("/etc", rid), (f"file://{tmp_path}", rid), ("file:///x/../etc", None)):
        body = {"name": "m", "source": source, **({"run_id": run_id} if run_id else {})}
        _assert_clean_error(http.post("/api/2.0/mlflow/model-versions/create", json=body))
    assert "model_versions" not in http.get("/api/2.0/mlflow/model-versions/search", query_string={
        "filter": "name = 'm'"}).get_json()


def test_experiment_artifact_location_cannot_be_a_model_uri_or_escape(http):
    for loc in ("runs:/abc/x", "models:/m/1", "/tmp/a/../../etc"):
        _assert_clean_error(http.post("/api/2.0/mlflow/experiments/create", json={"name": "e", "artifact_location": loc}))


@pytest.mark.parametrize("path", ["/api/2.0/mlflow/traces/search", "/api/3.0/mlflow/traces", "/api/2.0/mlflow/gateway/routes",
                                  "/api/2.0/mlflow/prompts/search", "/api/3.0/mlflow/scorers/list", "/api/2.0/nope",
                                  "/ajax-api/2.0/mlflow/traces/search"])
def test_genai_and_unknown_endpoints_are_endpoint_not_found(http, path):
    for method in ("GET", "POST"):
        body = _assert_clean_error(http.open(path, method=method, json={}), [404])
        assert body["error_code"] == "ENDPOINT_NOT_FOUND"


def test_wrong_method_is_405_json(http):
    body = _assert_clean_error(http.post("/api/2.0/mlflow/registered-models/search", json={}), [405])
    assert body["error_code"] == "BAD_REQUEST"


def test_errors_carry_mlflow_codes_and_statuses(http):
    assert http.get("/api/2.0/mlflow/experiments/get?experiment_id=999").status_code == 404
    assert http.get("/api/2.0/mlflow/experiments/get?experiment_id=999").get_json()["error_code"] == \
        "RESOURCE_DOES_NOT_EXIST"
    http.post("/api/2.0/mlflow/experiments/create", json={"name": "dup"})
    resp = http.post("/api/2.0/mlflow/experiments/create", json={"name": "dup"})
    assert (resp.status_code, resp.get_json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    resp = http.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=nope")
    assert (resp.status_code, resp.get_json()["message"]) == (404, "Could not find experiment with name 'nope'")
    resp = http.get("/api/2.0/mlflow/registered-models/get?name=nope")
    assert (resp.status_code, resp.get_json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    resp = http.post("/api/2.0/mlflow/runs/search", json={"experiment_ids": ["0"], "filter": "metrics.acc >> 1"})
    assert (resp.status_code, resp.get_json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    resp = http.post("/api/2.0/mlflow/experiments/search", json={})  # no max_results: 400 as in MLflow 3.17
    assert resp.status_code == 400


def test_camel_case_and_run_uuid_are_accepted_but_not_both_spellings(http):
    eid = http.post("/api/2.0/mlflow/experiments/create", json={"name": "c"}).get_json()["experiment_id"]
    rid = http.post("/api/2.0/mlflow/runs/create", json={"experimentId": eid}).get_json()["run"]["info"]["run_id"]
    assert http.post("/api/2.0/mlflow/runs/set-tag", json={"run_uuid": rid, "key": "k", "value": "v"}).status_code == 200
    _assert_clean_error(http.post("/api/2.0/mlflow/runs/create", json={"experimentId": eid, "experiment_id": eid}))


def test_responses_are_mlflow_shaped(http):
    resp = http.post("/api/2.0/mlflow/experiments/create", json={"name": "shape"})
    # one JSON object (compact: MLflow indents its answers, whitespace that no client reads and that costs a
    # large search half its time in Python's pure-Python encoder)
    assert resp.mimetype == "application/json" and isinstance(json.loads(resp.get_data(as_text=True)), dict)
    rid = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).get_json()["run"]["info"]["run_id"]
    http.post("/api/2.0/mlflow/runs/log-metric", json={"run_id": rid, "key": "n", "value": "NaN", "timestamp": 5})
    hist = http.get(f"/api/2.0/mlflow/metrics/get-history?run_id={rid}&metric_key=n").get_json()["metrics"]
    assert hist == [{"key": "n", "value": "NaN", "timestamp": 5, "step": 0}]
    assert http.get("/health").data == b"OK"


def test_artifact_proxy_disabled_is_503(tmp_path, tureen_template_db):
    app = create_app(ServerSettings(backend_store_uri=fresh_tureen_db(tureen_template_db, tmp_path),
                                    serve_artifacts=False))
    resp = app.test_client().get("/api/2.0/mlflow-artifacts/artifacts?path=x")
    assert resp.status_code == 503


def test_host_header_and_cross_origin_writes_are_checked(http):
    assert http.get("/health", headers={"Host": "evil.example.com"}).status_code == 403
    assert http.get("/health", headers={"Host": "127.0.0.1:5000"}).status_code == 200
    resp = http.post("/api/2.0/mlflow/experiments/create", json={"name": "x"}, headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403 and resp.get_json()["error_code"] == "PERMISSION_DENIED"
