"""One database for MLflow and tureen, with the real MLflow 3.17 from the peer venv, on SQLite and PostgreSQL.

Per backend, in order: MLflow creates a database and logs a run, a dataset input, a registered model with an
alias and a stage; tureen opens that database (changing nothing about it), reads and serves MLflow's model
and writes a run and a model of its own; tureen also creates a database of its own; then MLflow reads both
and loads tureen's model by alias. The schemas of the MLflow-made and the tureen-made database are diffed
table by table, column by column.
"""

from __future__ import annotations

import sqlite3
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _schema_diff import describe, diff  # noqa: E402

pytestmark = pytest.mark.mlflow

_MLFLOW_WRITES = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
import mlflow
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
uri, art = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri); mlflow.set_registry_uri(uri)
eid = mlflow.create_experiment("theirs", artifact_location=art)
with mlflow.start_run(experiment_id=eid, run_name="their-run") as run:
    mlflow.log_param("C", "0.5")
    for i in range(5):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i, timestamp=1_700_000_000_000 + i)
    mlflow.set_tag("team", "ml")
    mlflow.log_input(mlflow.data.from_numpy(np.arange(6.0).reshape(3, 2), name="train-set"), context="train")
    model = LogisticRegression().fit([[0, 0], [1, 1], [0, 1], [1, 0]], [0, 1, 0, 1])
    mlflow.sklearn.log_model(model, name="model", registered_model_name="theirs",
                             pip_requirements=["scikit-learn"])
client = MlflowClient()
client.set_registered_model_alias("theirs", "champion", "1")
client.transition_model_version_stage("theirs", "1", "Production")
print(json.dumps({"run_id": run.info.run_id, "experiment_id": eid}))
"""

_MLFLOW_READS = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import mlflow, mlflow.pyfunc
from mlflow import MlflowClient
out = {}
for label, uri in (("shared", sys.argv[1]), ("ours", sys.argv[2])):
    mlflow.set_tracking_uri(uri); mlflow.set_registry_uri(uri)
    client = MlflowClient()
    exp = client.get_experiment_by_name("from-tureen")
    runs = client.search_runs([exp.experiment_id], "params.alpha = '0.1'")
    run = runs[0]
    history = client.get_metric_history(run.info.run_id, "acc")
    mv = client.get_model_version_by_alias("tureen-model", "prod")
    model = mlflow.pyfunc.load_model("models:/tureen-model@prod")
    out[label] = {"run_id": run.info.run_id, "run_name": run.info.run_name, "status": run.info.status,
                  "metrics": run.data.metrics, "tags": {k: v for k, v in run.data.tags.items() if k == "team"},
                  "history": [(m.step, m.value, m.timestamp) for m in history], "version": mv.version,
                  "stage": mv.current_stage,
                  "latest": [v.version for v in client.get_latest_versions("tureen-model", ["Staging"])],
                  "pred": [int(x) for x in model.predict([[0.0, 0.0], [1.0, 1.0]])],
                  "experiments": sorted(e.name for e in client.search_experiments())}
print(json.dumps(out))
"""


def _tables(uri: str) -> set[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(uri.replace("postgresql://", "postgresql+psycopg://"))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _tureen_writes(uri: str, artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A run with a metric history, and a registered sklearn model with an alias and a stage."""
    from sklearn.linear_model import LogisticRegression

    import tureen
    from tureen import flavors
    from tureen.tracking import TrackingClient

    monkeypatch.setenv("TUREEN_TRACKING_URI", uri)
    monkeypatch.setenv("TUREEN_REGISTRY_URI", uri)
    client = TrackingClient(uri)
    eid = client.create_experiment("from-tureen", artifact_location=str(artifacts))
    with tureen.start_run(experiment_id=eid, run_name="our-run", tags={"team": "store"}) as run:
        tureen.log_param("alpha", "0.1")
        for i in range(4):
            tureen.log_metric("acc", 0.5 + i / 10, step=i, timestamp=1_800_000_000_000 + i)
        model = LogisticRegression().fit([[0, 0], [1, 1], [0, 1], [1, 0]], [0, 1, 0, 1])
        flavors.sklearn.log_model(model, name="model", registered_model_name="tureen-model",
                                  pip_requirements=["scikit-learn"])
    client.set_registered_model_alias("tureen-model", "prod", "1")
    client.transition_model_version_stage("tureen-model", "1", "Staging")
    return run.info.run_id


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(an empty database for MLflow, an empty database for tureen) on one backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mlflow.db'}", f"sqlite:///{tmp_path / 'tureen.db'}"
    from conftest_postgres import _admin

    server = request.getfixturevalue("postgres_server")
    names = [f"x_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for name in names:
        _admin(server, f"CREATE DATABASE {name}")
    return tuple(f"postgresql://postgres@127.0.0.1:{server['port']}/{n}" for n in names)  # type: ignore[return-value]


def _sa_uri(uri: str) -> str:
    return uri.replace("postgresql://", "postgresql+psycopg://")


def _peer_uri(uri: str) -> str:
    return uri.replace("postgresql://", "postgresql+psycopg2://")


def test_one_database_for_mlflow_and_tureen(two_databases, mlflow_run, tmp_path, monkeypatch):
    from tureen import pyfunc
    from tureen.store import _schema as s
    from tureen.tracking import TrackingClient
    from tureen.tracking.stores import reset_stores

    shared, ours = two_databases
    theirs = mlflow_run(_MLFLOW_WRITES, _peer_uri(shared), (tmp_path / "their-artifacts").as_uri(),
                        cwd=str(tmp_path))
    before_tables = _tables(shared)
    journal = None
    if shared.startswith("sqlite"):
        with sqlite3.connect(shared[len("sqlite:///"):]) as conn:
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]

    # -- tureen opens MLflow's database: sees everything, serves its model, writes ---------------------------
    client = TrackingClient(shared)
    run = client.get_run(theirs["run_id"])
    assert (run.info.run_name, run.data.params, run.data.tags["team"]) == ("their-run", {"C": "0.5"}, "ml")
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")] == \
        [(i, 1.0 / (i + 1)) for i in range(5)]
    (ds,) = run.inputs.dataset_inputs
    assert ds.dataset.name == "train-set" and [(t.key, t.value) for t in ds.tags] == [("mlflow.data.context",
                                                                                          "train")]
    assert [r.info.run_id for r in client.search_runs([theirs["experiment_id"]], "metrics.loss < 0.3")] == \
        [run.info.run_id]
    assert run.outputs.model_outputs and client.get_logged_model(run.outputs.model_outputs[0].model_id).status \
        == "LOGGED_MODEL_READY"
    mv = client.get_model_version_by_alias("theirs", "champion")
    assert (mv.version, mv.current_stage) == (1, "Production")
    monkeypatch.setenv("TUREEN_TRACKING_URI", shared)
    monkeypatch.setenv("TUREEN_REGISTRY_URI", shared)
    served = pyfunc.load_model("models:/theirs@champion", allow_pickle=True)
    assert [int(x) for x in served.predict([[0.0, 0.0], [1.0, 1.0]])] == [0, 1]
    _tureen_writes(shared, tmp_path / "shared-artifacts", monkeypatch)
    reset_stores()
    # opening and writing changed nothing about the database itself: no new tables, same journal
    assert _tables(shared) == before_tables and not any(t.startswith("tureen_") for t in before_tables)
    if journal is not None:
        with sqlite3.connect(shared[len("sqlite:///"):]) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == journal == "delete"

    # -- tureen creates a database of its own ----------------------------------------------------------------
    our_run = _tureen_writes(ours, tmp_path / "our-artifacts", monkeypatch)
    reset_stores()

    # -- MLflow reads both, and loads tureen's model by alias -------------------------------------------------
    seen = mlflow_run(_MLFLOW_READS, _peer_uri(shared), _peer_uri(ours), cwd=str(tmp_path))
    for label in ("shared", "ours"):
        got = seen[label]
        assert got["run_name"] == "our-run" and got["status"] == "FINISHED" and got["tags"] == {"team": "store"}
        assert got["metrics"] == {"acc": pytest.approx(0.8)}
        assert got["history"] == [[i, pytest.approx(0.5 + i / 10), 1_800_000_000_000 + i] for i in range(4)]
        assert (str(got["version"]), got["stage"], [str(x) for x in got["latest"]]) == ("1", "Staging", ["1"])
        assert got["pred"] == [0, 1]
    assert seen["ours"]["run_id"] == our_run
    assert seen["ours"]["experiments"] == ["Default", "from-tureen"]
    # MLflow's models:/ load of a local model writes its registered_model_meta into the model's own artifact
    # directory (it uses local artifacts in place): tureen still loads the model, its digests still verify
    for uri in (shared, ours):
        monkeypatch.setenv("TUREEN_TRACKING_URI", uri)
        monkeypatch.setenv("TUREEN_REGISTRY_URI", uri)
        reset_stores()
        again = pyfunc.load_model("models:/tureen-model@prod")
        assert [int(x) for x in again.predict([[0.0, 0.0], [1.0, 1.0]])] == [0, 1]
    reset_stores()

    # -- the two databases have one schema -------------------------------------------------------------------
    theirs_schema = describe(_sa_uri(shared))
    ours_schema = describe(_sa_uri(ours), skip=("tureen_",))
    assert diff(theirs_schema, ours_schema) == []
    import sqlalchemy as sa

    for uri in (shared, ours):
        engine = sa.create_engine(_sa_uri(uri))
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == s.MLFLOW_HEAD_REVISION
        engine.dispose()


def test_mlflow_server_serves_a_database_tureen_created_and_writes_into_it(tmp_path, mlflow_python):
    """``mlflow server --backend-store-uri sqlite:///<tureen's db>`` (the peer's real server, which ``mlflow ui``
    is too): its REST API lists tureen's runs, full metric histories and models by alias, and what it
    writes there tureen reads back."""
    import importlib.util
    import json
    import urllib.parse
    import urllib.request

    from tureen.store.sql import SqlStore
    from tureen.tracking.entities import Metric

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent / "server"))
    spec = importlib.util.spec_from_file_location("_server_conftest_shared", here.parent / "server" / "conftest.py")
    support = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(support)

    made = tmp_path / "made.db"
    store = SqlStore(f"sqlite:///{made}", str(tmp_path / "art"))
    eid = store.create_experiment("from-tureen", tags={"team": "store"})
    rid = store.create_run(eid, run_name="our-run", start_time=1_800_000_000_000).info.run_id
    store.log_batch(rid, metrics=[Metric("loss", 1.0 / (i + 1), 1_800_000_000_000 + i, i) for i in range(6)],
                    params=[("C", "0.5")], tags=[("team", "store")])
    store.create_registered_model("ours")
    store.create_model_version("ours", f"runs:/{rid}/model", run_id=rid)
    store.set_registered_model_alias("ours", "prod", "1")
    store.close()

    server = support.start_mlflow_server(mlflow_python, made, tmp_path)  # serves a copy: tmp_path/mlflow.db

    def call(method: str, path: str, body: dict | None = None, **query: str) -> dict:
        url = f"{server}/api/2.0/mlflow/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    try:
        exp = call("GET", "experiments/get-by-name", experiment_name="from-tureen")["experiment"]
        assert exp["experiment_id"] == eid and {t["key"]: t["value"] for t in exp["tags"]} == {"team": "store"}
        (run,) = call("POST", "runs/search", {"experiment_ids": [eid], "filter": "params.C = '0.5'"})["runs"]
        assert run["info"]["run_id"] == rid and run["info"]["run_name"] == "our-run"
        assert run["info"]["start_time"] == 1_800_000_000_000
        history = call("GET", "metrics/get-history", run_id=rid, metric_key="loss")["metrics"]
        assert [(m["step"], m["value"]) for m in history] == [(i, 1.0 / (i + 1)) for i in range(6)]
        mv = call("GET", "registered-models/alias", name="ours", alias="prod")["model_version"]
        assert (mv["version"], mv["run_id"]) == ("1", rid)
        # MLflow writes into tureen's database through its server
        theirs = call("POST", "runs/create", {"experiment_id": eid, "run_name": "their-run",
                                              "start_time": 1_900_000_000_000})["run"]["info"]["run_id"]
        call("POST", "runs/log-metric", {"run_id": theirs, "key": "acc", "value": 0.75, "timestamp": 1, "step": 3})
    finally:
        support.stop_process_group(server.process)
    back = SqlStore(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = back.get_run(theirs)
    assert run.info.run_name == "their-run" and run.data.metrics == {"acc": 0.75}
    assert {r.info.run_id for r in back.search_runs([eid])} == {rid, theirs}
    back.close()


_MLFLOW_CLIENT_THROUGH_ITS_SERVER = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import mlflow, mlflow.pyfunc
from mlflow import MlflowClient
url, rid = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(url); mlflow.set_registry_uri(url)
c = MlflowClient()
exp = c.get_experiment_by_name("from-tureen")
runs = c.search_runs([exp.experiment_id], "params.alpha = '0.1' and metrics.acc > 0.7")
history = c.get_metric_history(rid, "acc")
mv = c.get_model_version_by_alias("tureen-model", "prod")
model = mlflow.pyfunc.load_model("models:/tureen-model@prod")
with mlflow.start_run(experiment_id=exp.experiment_id, run_name="their-run") as run:
    mlflow.log_param("written_by", "mlflow")
    mlflow.log_metrics({"acc": 0.25}, step=7, timestamp=1_900_000_000_000)
c.set_registered_model_alias("tureen-model", "theirs", "1")
print(json.dumps({"experiment_id": exp.experiment_id, "found": [r.info.run_id for r in runs],
                  "history": [(m.step, m.value, m.timestamp) for m in history],
                  "version": mv.version, "stage": mv.current_stage, "run_of_version": mv.run_id,
                  "pred": [int(x) for x in model.predict([[0.0, 0.0], [1.0, 1.0]])], "their_run": run.info.run_id}))
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def tureen_made(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URI of an empty database (a SQLite file not yet there, or an empty PostgreSQL database): tureen
    creates the schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'made.db'}"
    from conftest_postgres import _admin

    server = request.getfixturevalue("postgres_server")
    name = f"x_{uuid.uuid4().hex[:12]}"
    _admin(server, f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:{server['port']}/{name}"


def test_mlflow_server_on_a_database_tureen_created_serves_mlflows_client(tureen_made, tmp_path, monkeypatch,
                                                                          mlflow_python, mlflow_run):
    """The peer's ``mlflow server --backend-store-uri <tureen's database>`` on SQLite and PostgreSQL: MLflow's
    own client, through that server, searches tureen's runs, reads a full metric history, resolves
    ``models:/name@alias`` and loads the model with ``mlflow.pyfunc``; what it writes (a run, a metric, an
    alias) tureen reads back from the database."""
    import importlib.util

    from tureen.tracking import TrackingClient
    from tureen.tracking.stores import reset_stores

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent / "server"))
    spec = importlib.util.spec_from_file_location("_server_conftest_shared", here.parent / "server" / "conftest.py")
    support = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(support)

    rid = _tureen_writes(tureen_made, tmp_path / "our-artifacts", monkeypatch)
    reset_stores()
    server = support.start_mlflow_server(mlflow_python, None, tmp_path, backend_uri=_peer_uri(tureen_made))
    try:
        seen = mlflow_run(_MLFLOW_CLIENT_THROUGH_ITS_SERVER, str(server), rid, cwd=str(tmp_path))
    finally:
        support.stop_process_group(server.process)
    assert seen["found"] == [rid]
    assert seen["history"] == [[i, pytest.approx(0.5 + i / 10), 1_800_000_000_000 + i] for i in range(4)]
    assert (str(seen["version"]), seen["stage"], seen["run_of_version"]) == ("1", "Staging", rid)
    assert seen["pred"] == [0, 1]

    client = TrackingClient(tureen_made, registry_uri=tureen_made)
    theirs = client.get_run(seen["their_run"])
    assert theirs.info.run_name == "their-run" and theirs.info.status == "FINISHED"
    assert theirs.data.params == {"written_by": "mlflow"} and theirs.data.metrics == {"acc": 0.25}
    assert [(m.step, m.timestamp) for m in client.get_metric_history(theirs.info.run_id, "acc")] == [
        (7, 1_900_000_000_000)]
    assert {r.info.run_id for r in client.search_runs([seen["experiment_id"]])} == {rid, theirs.info.run_id}
    assert client.get_registered_model("tureen-model").aliases == {"prod": 1, "theirs": 1}
    reset_stores()
