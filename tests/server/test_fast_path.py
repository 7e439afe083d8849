"""The WSGI fast path of the JSON endpoints answers exactly as the Flask path does: the same status, body and
headers, for answers and for errors. A request with an ``Origin`` header always takes the Flask path, so the
same request with and without one compares the two paths."""

from __future__ import annotations

import json

import pytest

from tureen.server.app import ServerSettings, create_app

API = "/api/2.0/mlflow"


@pytest.fixture
def app(tmp_path):
    return create_app(ServerSettings(backend_store_uri=f"sqlite:///{tmp_path / 't.db'}",
                                     artifacts_destination=str(tmp_path / "a")))


def _both(client, method, path, **kw):
    """(fast, flask) responses of one request; the Origin is this server's own, so Flask lets it through."""
    fast = client.open(path, method=method, **kw)
    slow = client.open(path, method=method, headers={"Origin": "http://localhost"}, **kw)
    return fast, slow


def _same(fast, slow):
    assert fast.status == slow.status
    assert json.loads(fast.data) == json.loads(slow.data)
    for header in ("Content-Type", "X-Content-Type-Options", "X-Frame-Options"):
        assert fast.headers.get(header) == slow.headers.get(header), header
    assert int(fast.headers["Content-Length"]) == len(fast.data)


@pytest.mark.parametrize("method, path, kw", [
    ("GET", f"{API}/experiments/get", {"query_string": {"experiment_id": "0"}}),
    ("GET", f"{API}/experiments/get", {"query_string": {"experiment_id": "12345"}}),          # 404 JSON
    ("GET", f"{API}/runs/get", {"query_string": {"run_id": "../etc"}}),                        # 400 JSON
    ("POST", f"{API}/runs/search", {"json": {"experiment_ids": ["0"], "filter": "metrics.x >"}}),
    ("POST", f"{API}/runs/search", {"data": b"{not json", "content_type": "application/json"}),
    ("POST", f"{API}/runs/search", {"data": b"{}", "content_type": "text/plain"}),             # content type
    ("POST", f"{API}/runs/log-batch", {"json": {"run_id": "nope", "metrics": [{"key": "a"}]}}),
    ("POST", f"{API}/experiments/search", {"json": {"max_results": "many"}}),
    ("GET", f"{API}/experiments/search", {"query_string": {"max_results": "2"}}),
    ("POST", f"{API}/runs/search", {"data": b'{"experiment_ids": ["0"], "max_results": NaN}',
                                    "content_type": "application/json"}),                      # stdlib fallback
])
def test_fast_and_flask_paths_answer_alike(app, method, path, kw):
    fast, slow = _both(app.test_client(), method, path, **kw)
    _same(fast, slow)


def test_a_run_round_trip_is_the_same_on_both_paths(app):
    client = app.test_client()
    runs = []
    for headers in ({}, {"Origin": "http://localhost"}):
        r = client.post(f"{API}/runs/create", json={"experiment_id": "0", "run_name": "same", "start_time": 5},
                        headers=headers)
        assert r.status_code == 200, r.data
        run_id = r.get_json()["run"]["info"]["run_id"]
        assert client.post(f"{API}/runs/log-batch", headers=headers, json={
            "run_id": run_id, "metrics": [{"key": "m", "value": "NaN", "timestamp": 1, "step": 2}],
            "params": [{"key": "p", "value": "é"}]}).status_code == 200
        got = client.get(f"{API}/runs/get", query_string={"run_id": run_id}, headers=headers).get_json()["run"]
        for field in ("run_id", "run_uuid", "artifact_uri"):
            got["info"].pop(field)
        runs.append(got)
    assert runs[0] == runs[1]
    assert runs[0]["data"]["metrics"] == [{"key": "m", "value": "NaN", "timestamp": 1, "step": 2}]


def test_a_foreign_host_is_refused_on_the_fast_path_too(app):
    r = app.test_client().get(f"{API}/experiments/get", query_string={"experiment_id": "0"},
                              headers={"Host": "evil.example.com"})
    assert r.status_code == 403


def test_an_unexpected_error_is_mlflow_json_without_a_trace(app, monkeypatch):
    from tureen.store.sql import SqlStore

    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(SqlStore, "get_experiment", boom)
    fast, slow = _both(app.test_client(), "GET", f"{API}/experiments/get", query_string={"experiment_id": "0"})
    _same(fast, slow)
    assert fast.status_code == 500 and b"secret" not in fast.data
    assert fast.get_json()["error_code"] == "INTERNAL_ERROR"


def test_the_fast_path_is_taken_and_only_when_it_may_be(app, monkeypatch):
    calls = []
    flask_dispatch = app.full_dispatch_request
    monkeypatch.setattr(app, "full_dispatch_request", lambda: calls.append(1) or flask_dispatch())
    client = app.test_client()
    assert client.get(f"{API}/experiments/get", query_string={"experiment_id": "0"}).status_code == 200
    assert calls == []  # answered without Flask
    client.get(f"{API}/experiments/get", query_string={"experiment_id": "0"}, headers={"Origin": "http://localhost"})
    client.get("/health")
    assert len(calls) == 2


@pytest.mark.parametrize("bad, message", [
    ({"key": "b", "value": True, "timestamp": 1}, "metrics[1].value"),
    ({"key": 5, "value": 1.0, "timestamp": 1}, "metrics[1].key"),
    ({"key": "b", "value": 1.0, "timestamp": 1.5}, "metrics[1].timestamp"),
    ({"key": "b", "value": 1.0, "timestamp": 1, "step": "x"}, "metrics[1].step"),
    ({"key": "b", "value": 1.0, "timestamp": 1, "model_id": 7}, "metrics[1].model_id"),
    ({"key": "b", "value": [1], "timestamp": 1}, "metrics[1].value"),
    ({"key": "b", "value": 1.0, "timestamp": -1}, "Invalid timestamp -1"),
    ({"key": "../b", "value": 1.0, "timestamp": 1}, "Invalid metric key"),
    ({"key": "b", "timestamp": 1}, "metrics[1].value"),
    ({"key": "b", "value": 10 ** 400, "timestamp": 1}, "too large"),  # an integer no double holds
])
def test_a_bad_point_beside_good_ones_fails_the_whole_batch_by_name(app, bad, message):
    """Points of the usual shape skip the general coercion; anything else still gets its typed error, and a
    batch with one bad point stores none of it."""
    client = app.test_client()
    run_id = client.post(f"{API}/runs/create", json={"experiment_id": "0"}).get_json()["run"]["info"]["run_id"]
    good = {"key": "a", "value": 2, "timestamp": 1, "step": 3}
    for path_headers in ({}, {"Origin": "http://localhost"}):  # fast path, Flask path
        r = client.post(f"{API}/runs/log-batch", headers=path_headers,
                        json={"run_id": run_id, "metrics": [good, bad]})
        assert r.status_code == 400 and r.get_json()["error_code"] == "INVALID_PARAMETER_VALUE", r.data
        assert message in r.get_json()["message"]
    assert client.get(f"{API}/metrics/get-history", query_string={"run_id": run_id, "metric_key": "a"}
                      ).get_json().get("metrics", []) == []


def test_usual_and_unusual_points_are_stored_alike(app):
    client = app.test_client()
    run_id = client.post(f"{API}/runs/create", json={"experiment_id": "0"}).get_json()["run"]["info"]["run_id"]
    points = [{"key": "a", "value": 2, "timestamp": 1, "step": 3},            # int value: stored as a double
              {"key": "a", "value": "2.5", "timestamp": "2", "step": None},    # strings and null: general path
              {"key": "a", "value": 1e308 * 10, "timestamp": 3},               # inf: clamped as MLflow does
              {"key": "a", "value": "NaN", "timestamp": 4, "step": 1}]
    body = json.dumps({"run_id": run_id, "metrics": points}).replace("Infinity", "1e999")
    assert client.post(f"{API}/runs/log-batch", data=body, content_type="application/json").status_code == 200
    got = client.get(f"{API}/metrics/get-history", query_string={"run_id": run_id, "metric_key": "a"}
                     ).get_json()["metrics"]
    assert sorted((m["timestamp"], m["step"], m["value"]) for m in got) == [
        (1, 3, 2.0), (2, 0, 2.5), (3, 0, 1.7976931348623157e308), (4, 1, "NaN")]


def test_log_metric_with_an_integer_no_double_holds_is_a_typed_error(app):
    client = app.test_client()
    run_id = client.post(f"{API}/runs/create", json={"experiment_id": "0"}).get_json()["run"]["info"]["run_id"]
    r = client.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "a", "value": 10 ** 400,
                                                    "timestamp": 1})
    assert r.status_code == 400 and r.get_json()["error_code"] == "INVALID_PARAMETER_VALUE", r.data
    assert "'value'" in r.get_json()["message"]
    assert client.get(f"{API}/metrics/get-history", query_string={"run_id": run_id, "metric_key": "a"}
                      ).get_json().get("metrics", []) == []
