"""The tracking store contract, run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import math
import time

import pytest

from tureen.exceptions import (
    InvalidParameterError,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
)
from tureen.tracking.entities import Metric, RunStatus, ViewType


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.name == "Default" and exp.lifecycle_stage == "active"
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_experiment_lifecycle(client):
    eid = client.create_experiment("churn", tags={"team": "ml"})
    exp = client.get_experiment(eid)
    assert (exp.name, exp.tags, exp.lifecycle_stage) == ("churn", {"team": "ml"}, "active")
    assert exp.artifact_location.endswith(f"/{eid}")
    with pytest.raises(ResourceAlreadyExistsError, match="churn"):
        client.create_experiment("churn")
    client.rename_experiment(eid, "churn2")
    client.set_experiment_tag(eid, "owner", "ana")
    assert client.get_experiment(eid).tags == {"team": "ml", "owner": "ana"}
    client.delete_experiment_tag(eid, "team")
    run = client.create_run(eid)
    client.delete_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(InvalidParameterError, match="active"):
        client.create_run(eid)
    client.restore_experiment(eid)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"
    with pytest.raises(ResourceNotFoundError):
        client.get_experiment("999")
    assert client.get_experiment_by_name("nope") is None


def test_bad_experiment_names(client):
    with pytest.raises(InvalidParameterError, match="empty"):
        client.create_experiment("  ")
    with pytest.raises(InvalidParameterError, match="500"):
        client.create_experiment("x" * 501)
    with pytest.raises(InvalidParameterError, match="integers"):
        client.get_experiment("abc")


def test_search_experiments(client):
    for name in ("a1", "a2", "b1"):
        client.create_experiment(name)
    names = [e.name for e in client.search_experiments(filter_string="name LIKE 'a%'")]
    assert sorted(names) == ["a1", "a2"]
    page = client.search_experiments(max_results=2, order_by=["name ASC"])
    assert [e.name for e in page] == ["Default", "a1"] and page.token
    rest = client.search_experiments(max_results=2, order_by=["name ASC"], page_token=page.token)
    assert [e.name for e in rest] == ["a2", "b1"] and rest.token is None
    client.delete_experiment(client.get_experiment_by_name("b1").experiment_id)
    assert [e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)] == ["b1"]


def test_run_lifecycle_and_data(client):
    run = client.create_run("0", run_name="baseline", tags={"k": "v"})
    rid = run.info.run_id
    assert run.info.status == "RUNNING" and run.data.tags["mlflow.runName"] == "baseline"
    assert run.info.artifact_uri.endswith(f"/{rid}/artifacts")
    client.log_param(rid, "C", 0.5)
    client.log_param(rid, "C", 0.5)  # the same value again is fine
    with pytest.raises(InvalidParameterError, match="Changing param values is not allowed"):
        client.log_param(rid, "C", 1.0)
    client.log_metric(rid, "auc", 0.8, step=1, timestamp=10)
    client.log_metric(rid, "auc", 0.9, step=2, timestamp=5)
    client.log_metric(rid, "auc", 0.7, step=1, timestamp=20)  # older step: not the latest
    client.set_tag(rid, "mlflow.runName", "renamed")
    got = client.get_run(rid)
    assert got.data.params == {"C": "0.5"}
    assert got.data.metrics == {"auc": 0.9}
    assert got.info.run_name == "renamed" and got.info.run_uuid == rid
    history = client.get_metric_history(rid, "auc")
    assert [(m.step, m.value) for m in history] == [(1, 0.8), (1, 0.7), (2, 0.9)]
    client.delete_tag(rid, "k")
    with pytest.raises(ResourceNotFoundError):
        client.delete_tag(rid, "k")
    info = client.set_terminated(rid, "FAILED")
    assert info.status == "FAILED" and info.end_time is not None
    client.delete_run(rid)
    with pytest.raises(InvalidParameterError, match="must be in the 'active' state"):
        client.log_metric(rid, "x", 1.0)
    client.restore_run(rid)
    client.log_metric(rid, "x", 1.0)
    with pytest.raises(ResourceNotFoundError, match="not found"):
        client.get_run("f" * 32)


def test_nan_and_inf_metrics_are_stored_as_mlflow_does(client):
    rid = client.create_run("0").info.run_id
    client.log_metric(rid, "nan", float("nan"))
    client.log_metric(rid, "inf", float("inf"))
    client.log_metric(rid, "ninf", float("-inf"))
    metrics = client.get_run(rid).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == 1.7976931348623157e308 and metrics["ninf"] == -1.7976931348623157e308
    assert math.isnan(client.get_metric_history(rid, "nan")[0].value)


@pytest.mark.parametrize("key", ["", "a" * 251, "bad/../x", "/abs", "semi;colon", "..", "a//b"])
def test_invalid_keys_are_rejected_and_nothing_is_written(client, key):
    rid = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameterError):
        client.log_metric(rid, key, 1.0)
    with pytest.raises(InvalidParameterError):
        client.log_param(rid, key, "v")
    with pytest.raises(InvalidParameterError):
        client.log_batch(rid, metrics=[Metric("ok", 1.0, 1, 0), Metric(key, 1.0, 1, 0)], params=[("p", "v")])
    data = client.get_run(rid).data
    assert data.metrics == {} and data.params == {}


@pytest.mark.parametrize("value", ["1.0", None, True, [1]])
def test_non_numeric_metric_values_are_rejected(client, value):
    rid = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameterError, match="number"):
        client.log_metric(rid, "m", value)


def test_log_batch_is_one_transaction(client):
    rid = client.create_run("0").info.run_id
    client.log_param(rid, "p", "1")
    with pytest.raises(InvalidParameterError, match="Changing param"):
        client._store.log_batch(rid, metrics=[Metric("m", 1.0, 1, 0)], params=[("q", "x"), ("p", "2")],
                                tags=[("t", "v")])
    data = client.get_run(rid).data
    assert data.metrics == {} and data.params == {"p": "1"} and "t" not in data.tags
    with pytest.raises(InvalidParameterError, match="at most"):
        client._store.log_batch(rid, metrics=[Metric("m", 1.0, 1, i) for i in range(1001)])
    with pytest.raises(InvalidParameterError, match="Duplicate"):
        client._store.log_batch(rid, params=[("a", "1"), ("a", "1")])
    # the client splits large inputs into batches within the limits
    client.log_batch(rid, metrics=[Metric("m", float(i), 1, i) for i in range(2500)])
    assert len(client.get_metric_history(rid, "m")) == 2500
    assert client.get_run(rid).data.metrics["m"] == 2499.0


def test_long_values_are_truncated_like_mlflow(client):
    rid = client.create_run("0").info.run_id
    with pytest.warns(UserWarning, match="truncated"):
        client.log_param(rid, "long", "x" * 7000)
    assert len(client.get_run(rid).data.params["long"]) == 6000


def test_search_runs_filters_in_sql(client):
    eid = client.create_experiment("search")
    ids = []
    for i in range(6):
        rid = client.create_run(eid, run_name=f"run-{i}", start_time=1000 + i).info.run_id
        client.log_batch(rid, metrics=[Metric("auc", i / 10, 1, 0)], params=[("C", str(i % 2))],
                         tags=[("team", "Ana" if i < 3 else "bob")])
        ids.append(rid)
    client.log_metric(ids[0], "other", 1.0)

    def found(flt, **kw):
        return [r.info.run_name for r in client.search_runs([eid], flt, **kw)]

    assert found("metrics.auc >= 0.3") == ["run-5", "run-4", "run-3"]
    assert found("metrics.auc > 0.1 AND params.C = '1'") == ["run-5", "run-3"]
    assert found("tags.team LIKE 'a%'") == []  # LIKE is case-sensitive on every backend
    assert sorted(found("tags.team ILIKE 'a%'")) == ["run-0", "run-1", "run-2"]
    assert found(f"attributes.run_id IN ('{ids[1]}', '{ids[2]}')") == ["run-2", "run-1"]
    assert found("attributes.run_name != 'run-0' AND attributes.start_time < 1002") == ["run-1"]
    assert found("metrics.other IS NULL AND params.C = '0'") == ["run-4", "run-2"]
    assert found("tags.`team` = 'bob'", order_by=["metrics.auc ASC"]) == ["run-3", "run-4", "run-5"]
    assert found("", order_by=["metrics.other DESC", "attributes.start_time ASC"])[:2] == ["run-0", "run-1"]
    page = client.search_runs([eid], "", max_results=4)
    assert len(page) == 4 and page.token
    rest = client.search_runs([eid], "", max_results=4, page_token=page.token)
    assert len(rest) == 2 and rest.token is None
    client.delete_run(ids[0])
    assert len(client.search_runs([eid], "", run_view_type=ViewType.DELETED_ONLY)) == 1
    assert len(client.search_runs([eid], "", run_view_type="ALL")) == 6


@pytest.mark.parametrize("bad, message", [
    ("metrics.auc >> 1", "comparator"),
    ("metrics.auc > 1 OR params.C = '1'", "OR"),
    ("params.C > '1'", "comparator"),
    ("metrics.auc = 'x'", "number"),
    ("foo.bar = 1", "entity"),
    ("attributes.nope = 'x'", "attribute"),
    ("params.C = ", "quoted string"),
])
def test_search_runs_bad_filters(client, bad, message):
    with pytest.raises(InvalidParameterError, match=message):
        client.search_runs(["0"], bad)


def test_search_runs_bad_paging(client):
    with pytest.raises(InvalidParameterError, match="page token"):
        client.search_runs(["0"], "", page_token="garbage")
    with pytest.raises(InvalidParameterError, match="max_results"):
        client.search_runs(["0"], "", max_results=50001)
    with pytest.raises(InvalidParameterError, match="twice"):
        client.search_runs(["0"], "", order_by=["metrics.a", "metrics.a DESC"])


def test_logged_models_and_outputs(client):
    from tureen.tracking.entities import LoggedModelOutput

    rid = client.create_run("0").info.run_id
    lm = client.create_logged_model("0", name="model", source_run_id=rid, params={"C": "1"})
    assert lm.model_id.startswith("m-") and lm.status == "LOGGED_MODEL_PENDING"
    assert lm.artifact_location.endswith(f"/models/{lm.model_id}/artifacts")
    client.log_outputs(rid, [LoggedModelOutput(lm.model_id, 0)])
    assert client.get_run(rid).outputs.model_outputs == [LoggedModelOutput(lm.model_id, 0)]
    assert client.finalize_logged_model(lm.model_id, "LOGGED_MODEL_READY").status == "LOGGED_MODEL_READY"
    with pytest.raises(ResourceNotFoundError):
        client.get_logged_model("m-nope")
    other = client.create_logged_model("0", name="other", tags={"k": "v"}, model_type="sklearn")
    found = client.search_logged_models(["0"], "name = 'model' AND params.C = '1'")
    assert [m.model_id for m in found] == [lm.model_id]
    assert [m.name for m in client.search_logged_models(["0"], "tags.k = 'v' AND model_type LIKE 'sk%'")] == ["other"]
    assert [m.name for m in client.search_logged_models(["0"], order_by=[{"field_name": "name",
                                                                          "ascending": True}])] == ["model", "other"]
    client.delete_logged_model_tag(other.model_id, "k")
    assert client.get_logged_model(other.model_id).tags == {}
    client.delete_logged_model(other.model_id)
    assert [m.name for m in client.search_logged_models(["0"])] == ["model"]
    with pytest.raises(InvalidParameterError, match="Invalid attribute key"):
        client.search_logged_models(["0"], "nope = 'x'")


def test_timestamps_are_milliseconds(client):
    before = int(time.time() * 1000)
    run = client.create_run("0")
    assert before <= run.info.start_time <= int(time.time() * 1000)
    assert RunStatus.is_terminated(client.set_terminated(run.info.run_id).status)
