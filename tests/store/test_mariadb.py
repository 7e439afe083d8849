"""The SQL store on MariaDB (Debian's mariadb-server, MySQL's dialect): tureen's schema is MLflow's there
too, and the store's writes (upserts, insert-or-ignore, latest metrics) work."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

pytestmark = pytest.mark.mariadb


def test_the_store_works_on_mariadb(mariadb_uri, tmp_path):
    from tureen.store.sql import SqlStore
    from tureen.tracking.entities import Metric

    store = SqlStore(mariadb_uri, artifact_root=str(tmp_path))
    eid = store.create_experiment("churn", tags={"team": "ml"})
    assert [(e.experiment_id, e.name) for e in store.search_experiments()] == [(eid, "churn"), ("0", "Default")]
    assert eid == "1"
    run = store.create_run(eid, run_name="r1").info.run_id
    store.log_batch(run, metrics=[Metric("loss", 1.0 / (i + 1), 1000 + i, i) for i in range(20)],
                    params=[("C", "1.0")], tags=[("k", "v")])
    store.log_metric(run, "loss", 5.0, 999, 0)  # an older point: the latest value stays
    store.log_metric(run, "loss", 5.0, 999, 0)  # the same point again: kept once
    store.log_metric(run, "nan", float("nan"), 1, 0)
    got = store.get_run(run)
    assert got.data.metrics["loss"] == pytest.approx(1 / 20) and math.isnan(got.data.metrics["nan"])
    assert len(store.get_metric_history(run, "loss")) == 21
    store.set_tag(run, "k", "v2")
    assert store.get_run(run).data.tags["k"] == "v2"
    assert [r.info.run_id for r in store.search_runs([eid], "metrics.loss < 0.1 and params.C = '1.0'")] == [run]
    store.create_registered_model("m")
    store.create_model_version("m", "file:///tmp/x")
    store.create_model_version("m", "file:///tmp/y")
    store.set_registered_model_alias("m", "prod", "2")
    store.set_registered_model_tag("m", "t", "1")
    store.set_registered_model_tag("m", "t", "2")
    store.delete_model_version("m", "1")
    assert store.get_model_version_by_alias("m", "prod").version == 2
    assert store.create_model_version("m", "file:///tmp/z").version == 3
    assert store.get_registered_model("m").tags == {"t": "2"}
    assert [h.version for h in store.get_registered_model_alias_history("m")] == ["2"]
    store.rename_registered_model("m", "m2")
    assert store.get_model_version_by_alias("m2", "prod").version == 2
    store.close()


@pytest.mark.mlflow
def test_mlflow_and_tureen_share_a_mariadb_database(mariadb_server, mlflow_run, tmp_path):
    from _schema_diff import describe, diff
    from conftest_mariadb import create_database

    from tureen.store.sql import SqlStore

    theirs, ours = create_database(mariadb_server), create_database(mariadb_server)
    code = ("import json, sys, mlflow; mlflow.set_tracking_uri(sys.argv[1]); "
            "eid = mlflow.create_experiment('e', artifact_location=sys.argv[2]); "
            "r = mlflow.start_run(experiment_id=eid); mlflow.log_metric('m', 1.5, step=2); mlflow.log_param('p', 'v');"
            "mlflow.end_run(); print(json.dumps(r.info.run_id))")
    run_id = mlflow_run(code, theirs, tmp_path.as_uri(), cwd=str(tmp_path))
    store = SqlStore(theirs, artifact_root=str(tmp_path))
    got = store.get_run(run_id)
    assert (got.data.metrics, got.data.params) == ({"m": 1.5}, {"p": "v"})
    store.log_metric(run_id, "m", 2.5, 10, 3)
    store.close()
    SqlStore(ours, artifact_root=str(tmp_path)).close()
    assert diff(describe(theirs), describe(ours, skip=("tureen_",))) == []
    back = mlflow_run("import json, sys; from mlflow import MlflowClient; c = MlflowClient(sys.argv[1]); "
                      "print(json.dumps(c.get_run(sys.argv[2]).data.metrics))", theirs, run_id, cwd=str(tmp_path))
    assert back == {"m": 2.5}
