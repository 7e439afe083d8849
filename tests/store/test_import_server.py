"""``tureen import http://...`` from a real ``mlflow server`` (3.17.2, peer venv): lossless, idempotent,
resumable after a kill, verified."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent / "server"))  # server_support, which tests/server/conftest.py imports
_spec = importlib.util.spec_from_file_location("_server_conftest", _HERE.parent / "server" / "conftest.py")
_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server)  # its start_mlflow_server / stop_process_group: one way to run mlflow server

_FILL = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import mlflow
from mlflow import MlflowClient
from mlflow.entities import DatasetInput, InputTag, Metric
import pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
c = MlflowClient()
eid = c.create_experiment("served", tags={"team": "ml"})
gone = c.create_experiment("gone")
c.delete_experiment(gone)
ids = []
for r in range(7):
    run = c.create_run(eid, run_name=f"r{r}", start_time=1_700_000_000_000 + r)
    rid = run.info.run_id
    c.log_param(rid, "C", str(r))
    c.set_tag(rid, "a/b", "nested")
    c.log_batch(rid, metrics=[Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(30)])
    c.log_metric(rid, "nan", float("nan"), timestamp=5)
    c.log_metric(rid, "acc", 0.5, timestamp=6, step=2)
    if r == 0:
        ds = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="train-set")._to_mlflow_entity()
        c.log_inputs(rid, datasets=[DatasetInput(ds, tags=[InputTag("mlflow.data.context", "training")])])
    c.set_terminated(rid, end_time=1_700_000_999_000 + r)
    ids.append(rid)
c.delete_run(ids[-1])
c.create_registered_model("served-model", tags={"o": "x"}, description="d")
c.create_model_version("served-model", f"runs:/{ids[0]}/model", run_id=ids[0])
c.create_model_version("served-model", f"runs:/{ids[1]}/model", run_id=ids[1], tags={"k": "v"})
c.set_registered_model_alias("served-model", "champ", "2")
c.transition_model_version_stage("served-model", "1", "Staging")
print(json.dumps({"experiment_id": eid, "runs": ids}))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, mlflow_python):
    """One mlflow server for the module, filled once through MLflow's own client."""
    tmp = tmp_path_factory.mktemp("served")
    template = tmp / "template.db"
    code = ("import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as S; "
            "S('sqlite:///' + sys.argv[1], sys.argv[2]); print('{}')")
    subprocess.run([str(mlflow_python), "-c", code, str(template), str(tmp / "art")], check=True,
                   capture_output=True, timeout=300)
    server = _server.start_mlflow_server(mlflow_python, template, tmp)
    try:
        out = subprocess.run([str(mlflow_python), "-c", _FILL, server], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        import json

        yield str(server), json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        _server.stop_process_group(server.process)


@pytest.mark.mlflow
def test_import_from_a_live_server_is_lossless_idempotent_and_resumable(served, tmp_path):
    from tureen.store._import_server import import_server
    from tureen.tracking import TrackingClient

    url, made = served
    uri = f"sqlite:///{tmp_path / 'imported.db'}"

    class Killed(Exception):
        pass

    def die_after_first_batch(done: int, total: int) -> None:
        if done >= 3:
            raise Killed()

    with pytest.raises(Killed):  # killed after the first committed batch of 3 runs
        import_server(url, uri, batch=3, progress=die_after_first_batch)
    first = TrackingClient(uri).search_runs([made["experiment_id"]], run_view_type=3)
    assert len(first) == 3
    summary = import_server(url, uri, batch=3)  # resumes
    assert summary.verified and summary.runs_added == 4 and summary.runs_seen == 7
    again = import_server(url, uri, batch=3)  # adds nothing
    assert again.runs_added == 0 and again.verified

    c = TrackingClient(uri)
    eid = made["experiment_id"]
    exp = c.get_experiment(eid)  # the id was free: kept
    assert exp.name == "served" and exp.tags.get("team") == "ml"
    assert c.get_experiment_by_name("gone").lifecycle_stage == "deleted"
    runs = {r.info.run_id: r for r in c.search_runs([eid], run_view_type=3)}
    assert set(runs) == set(made["runs"])
    r0 = runs[made["runs"][0]]
    assert r0.info.start_time == 1_700_000_000_000 and r0.info.end_time == 1_700_000_999_000
    assert r0.info.status == "FINISHED" and r0.info.run_name == "r0"
    assert r0.data.params == {"C": "0"} and r0.data.tags["a/b"] == "nested"
    history = c.get_metric_history(r0.info.run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (i, 1.0 / (i + 1), 1_700_000_000_000 + i) for i in range(30)]
    assert math.isnan(r0.data.metrics["nan"]) and r0.data.metrics["acc"] == 0.5
    assert [d.dataset.name for d in r0.inputs.dataset_inputs] == ["train-set"]
    assert {t.key: t.value for t in r0.inputs.dataset_inputs[0].tags}["mlflow.data.context"] == "training"
    assert runs[made["runs"][-1]].info.lifecycle_stage == "deleted"
    reg = TrackingClient(uri, registry_uri=uri)
    model = reg.get_registered_model("served-model")
    assert model.description == "d" and model.tags == {"o": "x"} and model.aliases == {"champ": 2}
    assert reg.get_model_version("served-model", "1").current_stage == "Staging"
    v2 = reg.get_model_version("served-model", "2")
    assert v2.tags == {"k": "v"} and v2.run_id == made["runs"][1]


@pytest.mark.mlflow
def test_tureen_import_command_from_a_server(served, tmp_path):
    url, made = served
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    out = subprocess.run([sys.executable, "-m", "tureen.cli", "import", url, "--to", uri], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "runs: 7 seen, 7 added" in out.stdout and "verified" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "tureen.cli", "import", "http://127.0.0.1:9/", "--to", uri],
                         capture_output=True, text=True, timeout=300, env={**__import__("os").environ,
                                                                           "TUREEN_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert bad.returncode == 1 and "Error" in bad.stderr and "Traceback" not in bad.stderr
