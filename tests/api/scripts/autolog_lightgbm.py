# Autologging lightgbm.train.
import json

import lightgbm as lgb
import mlflow
import numpy as np

rng = np.random.default_rng(0)
X = rng.normal(size=(100, 4))
y = (X[:, 0] > 0).astype(int)
mlflow.lightgbm.autolog(log_models=False)
with mlflow.start_run() as run:
    train = lgb.Dataset(X, label=y)
    lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4}, train, num_boost_round=4,
              valid_sets=[train], valid_names=["train"])
got = mlflow.get_run(run.info.run_id)
print(json.dumps({"params": sorted(got.data.params), "metrics": sorted(got.data.metrics),
                  "autologging": got.data.tags.get("mlflow.autologging")}))
