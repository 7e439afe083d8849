# Autologging a scikit-learn fit.
import json

import mlflow
from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor

mlflow.sklearn.autolog(log_models=False)
X, y = load_diabetes(return_X_y=True, as_frame=True)
with mlflow.start_run() as run:
    RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
got = mlflow.get_run(run.info.run_id)
print(json.dumps({"params": got.data.params, "metrics": sorted(got.data.metrics),
                  "training_r2": round(got.data.metrics["training_r2_score"], 6),
                  "autologging": got.data.tags.get("mlflow.autologging"),
                  "n_datasets": len(got.inputs.dataset_inputs)}))
