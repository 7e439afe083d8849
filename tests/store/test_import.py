"""``tureen import`` of an MLflow file store written by the real MLflow 3.17: lossless, idempotent, resumable,
verified, and refusing what is not a file store."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tureen.exceptions import InvalidParameterError

_MAKE_FILE_STORE = """
import json, os, sys, warnings
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
warnings.filterwarnings("ignore")
import mlflow
from mlflow import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
eid = mlflow.create_experiment("fs-exp", tags={"team": "ml"})
ids = []
for r in range(5):
    with mlflow.start_run(experiment_id=eid, run_name=f"r{r}") as run:
        mlflow.log_param("C", str(r))
        mlflow.set_tag("a/b", "nested")
        for i in range(4):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i, timestamp=1_700_000_000_000 + i)
        mlflow.log_metric("nan", float("nan"), timestamp=5)
        mlflow.log_metric("inf", float("inf"), timestamp=5)
        ids.append(run.info.run_id)
c = MlflowClient()
c.delete_run(ids[-1])
c.create_registered_model("fsm", tags={"o": "x"}, description="d")
c.create_model_version("fsm", f"runs:/{ids[0]}/model", run_id=ids[0])
c.create_model_version("fsm", f"runs:/{ids[1]}/model", run_id=ids[1])
c.set_registered_model_alias("fsm", "champ", "2")
c.transition_model_version_stage("fsm", "1", "Staging")
c.set_model_version_tag("fsm", "1", "k", "v")
print(json.dumps({"experiment_id": eid, "runs": ids}))
"""


@pytest.fixture(scope="module")
def file_store(tmp_path_factory, mlflow_run):
    root = tmp_path_factory.mktemp("fs") / "mlruns"
    made = mlflow_run(_MAKE_FILE_STORE, root.as_uri(), cwd=str(root.parent))
    return root, made


@pytest.mark.mlflow
def test_import_is_lossless_idempotent_and_resumable(file_store, tmp_path):
    from tureen.store._import import import_file_store
    from tureen.tracking import TrackingClient

    root, made = file_store
    uri = f"sqlite:///{tmp_path / 'imported.db'}"

    class Killed(Exception):
        pass

    def kill_after_two(done: int, _total: int) -> None:
        if done >= 2:
            raise Killed

    with pytest.raises(Killed):  # a kill in the middle: the committed batches stay
        import_file_store(root, uri, batch=1, progress=kill_after_two)
    client = TrackingClient(uri)
    exp = client.get_experiment_by_name("fs-exp")
    assert len(client.search_runs([exp.experiment_id], run_view_type=3)) == 2
    summary = import_file_store(root, uri, batch=2)  # resumed
    assert (summary.runs_seen, summary.runs_added, summary.verified) == (5, 3, True)
    again = import_file_store(root, uri)  # idempotent
    assert (again.runs_added, again.verified, again.metric_points) == (0, True, summary.metric_points)

    runs = {r.info.run_id: r for r in client.search_runs([exp.experiment_id], run_view_type=3)}
    assert set(runs) == set(made["runs"]) and exp.tags["team"] == "ml"
    first = runs[made["runs"][0]]
    assert (first.info.run_name, first.info.status, first.data.params) == ("r0", "FINISHED", {"C": "0"})
    assert first.data.tags["a/b"] == "nested" and first.data.tags["mlflow.runName"] == "r0"
    assert math.isnan(first.data.metrics["nan"]) and first.data.metrics["inf"] == 1.7976931348623157e308
    history = client.get_metric_history(first.info.run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(i, 1.0 / (i + 1), 1_700_000_000_000 + i)
                                                                  for i in range(4)]
    assert runs[made["runs"][-1]].info.lifecycle_stage == "deleted"
    model = client.get_registered_model("fsm")
    assert (model.description, model.tags, model.aliases) == ("d", {"o": "x"}, {"champ": 2})  # ints from a SQL store, as MLflow gives
    v1 = client.get_model_version("fsm", "1")
    assert (v1.current_stage, v1.tags, v1.run_id) == ("Staging", {"k": "v"}, made["runs"][0])


def test_import_refuses_what_is_not_a_file_store(tmp_path):
    from tureen.store._import import import_file_store

    with pytest.raises(InvalidParameterError, match="not an MLflow file store"):
        import_file_store(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    bad = tmp_path / "mlruns" / "1"
    bad.mkdir(parents=True)
    (bad / "meta.yaml").write_text("name: e\nexperiment_id: '1'\n")
    run = bad / ("a" * 32)
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text(f"run_id: {'a' * 32}\nstatus: 3\nstart_time: 1\n")
    (run / "metrics" / "loss").write_text("not a metric line at all\n")
    with pytest.raises(InvalidParameterError, match="Malformed metric line 1"):
        import_file_store(tmp_path / "mlruns", f"sqlite:///{tmp_path / 'y.db'}")
    (run / "metrics" / "loss").unlink()
    (run / "metrics" / "loss").symlink_to("/etc/passwd")
    with pytest.raises(InvalidParameterError, match="symlink"):
        import_file_store(tmp_path / "mlruns", f"sqlite:///{tmp_path / 'z.db'}")


def test_tureen_import_command(tmp_path):
    import subprocess
    import sys

    root = tmp_path / "mlruns" / "7"
    run = root / ("b" * 32)
    (run / "params").mkdir(parents=True)
    (root / "meta.yaml").write_text("name: seven\nexperiment_id: '7'\ncreation_time: 1\nlast_update_time: 1\n")
    (run / "meta.yaml").write_text(f"run_id: {'b' * 32}\nstatus: 3\nstart_time: 1\nexperiment_id: '7'\n")
    (run / "params" / "p").write_text("v")
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    out = subprocess.run([sys.executable, "-m", "tureen.cli", "import", str(tmp_path / "mlruns"), "--to", uri],
                         capture_output=True, text=True, check=True).stdout
    assert "runs: 1 seen, 1 added" in out and "verified" in out
    from tureen.tracking import TrackingClient

    assert TrackingClient(uri).get_experiment("7").name == "seven"  # the id was free: kept
    assert Path(tmp_path / "cli.db").exists()
