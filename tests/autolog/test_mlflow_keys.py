"""The same trainings autologged by MLflow 3.x (peer venv) and by tureen record the same keys."""

from __future__ import annotations

import json

import pytest

from autolog_support import artifacts, runs

pytestmark = pytest.mark.mlflow

_TRAININGS = r'''
import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(size=(120, 5))
y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)

def train_all():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier
    import xgboost as xgb, lightgbm as lgb
    LogisticRegression(max_iter=200).fit(X, y)
    GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]}, cv=2).fit(X, y)
    d = xgb.DMatrix(X[:90], label=y[:90]); dv = xgb.DMatrix(X[90:], label=y[90:])
    xgb.train({"objective": "binary:logistic", "max_depth": 2}, d, num_boost_round=5, evals=[(d, "train"), (dv, "eval")],
              early_stopping_rounds=2, verbose_eval=False)
    t = lgb.Dataset(X[:90], label=y[:90]); v = lgb.Dataset(X[90:], label=y[90:], reference=t)
    lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4}, t, num_boost_round=5, valid_sets=[t, v],
              valid_names=["train", "valid"], callbacks=[lgb.early_stopping(2, verbose=False)])
'''

_MLFLOW = _TRAININGS + r'''
import json, sys, mlflow
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
mlflow.autolog(log_models=False)
train_all()
client = mlflow.MlflowClient()
out = []
for r in client.search_runs(["0"], order_by=["attributes.start_time ASC"]):
    out.append({"params": sorted(r.data.params), "metrics": sorted(r.data.metrics),
                "tags": sorted(k for k in r.data.tags if not k.startswith("mlflow.") or k in
                               ("mlflow.autologging", "mlflow.parentRunId")),
                "artifacts": sorted(f.path for f in client.list_artifacts(r.info.run_id)),
                "datasets": sorted([d.dataset.digest, d.dataset.schema, d.dataset.profile,
                                    [t.value for t in d.tags if t.key == "mlflow.data.context"]]
                                   for d in r.inputs.dataset_inputs)})
print(json.dumps(out))
'''


def _summary(run) -> dict:
    # tureen's own bookkeeping tags (tureen.process: which process runs the run) are not autolog keys
    tags = sorted(k for k in run.data.tags if not k.startswith(("mlflow.", "tureen.")) or k in (
        "mlflow.autologging", "mlflow.parentRunId"))
    return {"params": sorted(run.data.params), "metrics": sorted(run.data.metrics), "tags": tags,
            "artifacts": artifacts(run.info.run_id)}


def test_autologged_keys_match_mlflow(mlflow_run, tmp_path):
    import tureen

    theirs = mlflow_run(_MLFLOW, str(tmp_path / "mlflow.db"), timeout=600)
    namespace: dict = {}
    exec(compile(_TRAININGS, "trainings", "exec"), namespace)  # noqa: S102 - our own test code
    tureen.autolog(log_models=False)
    namespace["train_all"]()
    ours = [json.dumps(_summary(r), sort_keys=True) for r in runs()]
    assert any("training_roc_curve.png" in other["artifacts"] for other in theirs), \
        "MLflow drew no plots: the peer venv lacks matplotlib"
    expected = []
    for other in theirs:
        other.pop("datasets")
        expected.append(json.dumps(other, sort_keys=True))
    assert sorted(ours) == sorted(expected)


def test_dataset_records_match_mlflow(mlflow_run):
    import numpy as np
    import pandas as pd

    from tureen.autolog._common import dataset_record

    code = r'''
import json, numpy as np, pandas as pd
from mlflow.data import from_numpy, from_pandas
rng = np.random.default_rng(1)
X = rng.normal(size=(30, 3)); y = (X[:, 0] > 0).astype(int)
df = pd.DataFrame({"a": X[:, 0], "b": ["x", "y", "z"] * 10, "c": np.arange(30)})
n = from_numpy(X, targets=y); p = from_pandas(df)
print(json.dumps([[n.digest, n.to_dict()["schema"], n.to_dict()["profile"]],
                  [p.digest, p.to_dict()["schema"], p.to_dict()["profile"]]]))
'''
    theirs = mlflow_run(code)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    df = pd.DataFrame({"a": X[:, 0], "b": ["x", "y", "z"] * 10, "c": np.arange(30)})
    for record, (digest, schema, profile) in zip([dataset_record(X, y), dataset_record(df)], theirs):
        assert record["digest"] == digest
        assert json.loads(record["schema"]) == json.loads(schema)
        assert json.loads(record["profile"]) == json.loads(profile)
