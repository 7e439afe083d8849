"""A database written by tureen before the store moved onto MLflow's schema (revision 0003, the committed
fixture made by that code) migrates in place, losing nothing, and MLflow's checks then accept it."""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tureen_0003.db"


def test_a_0003_database_migrates_in_place_losslessly(tmp_path):
    from tureen.store._schema import MLFLOW_HEAD_REVISION, TUREEN_REVISION
    from tureen.store.sql import SqlStore

    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    with sqlite3.connect(path) as conn:
        old = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
               for t in ("experiments", "runs", "params", "tags", "latest_metrics", "experiment_tags",
                         "registered_models", "model_versions", "registered_model_aliases", "datasets", "inputs")}
        old_points = conn.execute("SELECT COUNT(*) FROM (SELECT DISTINCT run_uuid, key, value, timestamp, step, "
                                  "is_nan FROM metrics)").fetchone()[0]
    store = SqlStore(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == MLFLOW_HEAD_REVISION
        assert conn.execute("SELECT version_num FROM tureen_alembic_version").fetchone()[0] == TUREEN_REVISION
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'tureen_legacy%'").fetchall()
        new = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in old}
        assert conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == old_points
    # one more version row: the deleted version 3 is kept as MLflow's Deleted_Internal row
    assert new == {**old, "model_versions": old["model_versions"] + 1, "inputs": old["inputs"] + 1}

    (exp,) = [e for e in store.search_experiments() if e.name == "churn"]
    assert exp.tags["team"] == "ml" and exp.tags["note"] == "x" * 300
    (run,) = store.search_runs([exp.experiment_id], "params.C = '1.0'")
    assert (run.info.run_name, run.info.user_id, run.info.status, run.info.start_time, run.info.end_time) == \
        ("first", "ann", "FINISHED", 1_700_000_000_000, 1_700_000_100_000)
    assert run.info.artifact_uri == f"file:///srv/artifacts/1/{run.info.run_id}/artifacts"
    assert run.data.params == {"C": "1.0", "long": "p" * 600}
    assert run.data.tags["src"] == "nb" and run.data.tags["mlflow.user"] == "ann"
    assert math.isnan(run.data.metrics["acc"]) and run.data.metrics["inf"] == 1.7976931348623157e308
    history = store.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history][:3] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert len(history) == 51 and (10, 0.5) in [(m.step, m.value) for m in history]
    (ds,) = run.inputs.dataset_inputs
    assert (ds.dataset.name, ds.dataset.digest, ds.dataset.schema, [t.value for t in ds.tags]) == \
        ("iris", "ab12cd34", '{"s": 1}', ["train"])
    (out,) = run.outputs.model_outputs
    lm = store.get_logged_model(out.model_id)
    assert (out.step, lm.status, lm.tags, lm.params) == (3, "LOGGED_MODEL_READY", {"k": "v"}, {"C": "1.0"})
    deleted = store.search_runs([exp.experiment_id], run_view_type=2)
    assert [r.data.params for r in deleted] == [{"C": "2.0"}]
    gone = [e for e in store.search_experiments(view_type=2)]
    assert [e.name for e in gone] == ["deleted-exp"]
    store.restore_experiment(gone[0].experiment_id)

    model = store.get_registered_model("iris")
    assert (model.description, model.tags, model.aliases) == ("flowers", {"owner": "ann"}, {"champion": 1})  # ints, as MLflow's SQL store gives
    assert {v.version: v.current_stage for v in model.latest_versions} == {1: "Production", 2: "Staging"}
    v1 = store.get_model_version("iris", "1")
    assert (v1.description, v1.tags, v1.model_id, v1.run_id) == ("one", {"q": "1"}, lm.model_id, run.info.run_id)
    assert store.get_model_version_download_uri("iris", "1") == lm.artifact_location
    assert [(h.alias, h.version) for h in store.get_registered_model_alias_history("iris")] == \
        [("champion", "2"), ("champion", "1"), ("old", "3"), ("old", None)]
    assert store.create_model_version("iris", "file:///srv/models/iris4").version == 4  # 3 stays taken
    assert store.create_experiment("after-migration") == "3"
    store.close()
