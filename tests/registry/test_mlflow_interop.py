"""A model logged and registered by tureen loads in MLflow 3.x, with the MLmodel fields MLflow 3.x writes."""

from __future__ import annotations

import json

import pytest

import tureen
from tureen.uri import resolve_model_uri

pytestmark = pytest.mark.mlflow

_LOAD = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
import mlflow.pyfunc
from mlflow.models import Model
path, csv = sys.argv[1], sys.argv[2]
meta = Model.load(path)
model = mlflow.pyfunc.load_model(path)
print(json.dumps({"pred": [int(x) for x in model.predict(pd.read_csv(csv))], "run_id": meta.run_id,
                  "model_id": meta.model_id, "model_uuid": meta.model_uuid, "artifact_path": meta.artifact_path}))
"""


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)  # the format is the same on every backend
def test_mlflow_loads_a_model_logged_by_tureen(client, mlflow_run, sk_pipeline, breast_cancer, tmp_path):
    from tureen import flavors

    X, _ = breast_cancer
    with tureen.start_run() as run:
        info = flavors.sklearn.log_model(sk_pipeline, name="model", input_example=X[:5],
                                         registered_model_name="churn")
    client.transition_model_version_stage("churn", "1", "Production")
    path = resolve_model_uri("models:/churn/Production")
    X[:8].to_csv(tmp_path / "rows.csv", index=False)
    theirs = mlflow_run(_LOAD, str(path), str(tmp_path / "rows.csv"))
    assert theirs["pred"] == [int(x) for x in sk_pipeline.predict(X[:8])]
    assert (theirs["run_id"], theirs["model_id"], theirs["model_uuid"]) == (run.info.run_id, info.model_id,
                                                                             info.model_id)
    assert theirs["artifact_path"] == info.artifact_path
    assert json.loads(client.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])[0]["model_id"] \
        == info.model_id
