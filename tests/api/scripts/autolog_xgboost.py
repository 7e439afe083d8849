# Autologging xgboost.train.
import json

import mlflow
import numpy as np
import xgboost as xgb

rng = np.random.default_rng(0)
X = rng.normal(size=(100, 4))
y = (X[:, 0] > 0).astype(int)
mlflow.xgboost.autolog(log_models=False)
with mlflow.start_run() as run:
    dtrain = xgb.DMatrix(X, label=y)
    xgb.train({"objective": "binary:logistic", "max_depth": 2}, dtrain, num_boost_round=4,
              evals=[(dtrain, "train")], verbose_eval=False)
got = mlflow.get_run(run.info.run_id)
print(json.dumps({"params": sorted(got.data.params), "metrics": sorted(got.data.metrics),
                  "autologging": got.data.tags.get("mlflow.autologging"),
                  "history_steps": [m.step for m in mlflow.MlflowClient().get_metric_history(
                      run.info.run_id, "train-logloss")]}))
