"""Run by tests/server/test_mlflow_client.py in the MLflow 3.17 peer venv: MLflow's own client, unchanged,
against a tracking server given as argv[1]; prints one JSON line of what it saw."""
import json, os, sys, tempfile
import mlflow, numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
url = sys.argv[1]
mlflow.set_tracking_uri(url)
mlflow.set_experiment("e2e")
X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
with mlflow.start_run() as run:
    mlflow.log_param("C", 1.0)
    for i in range(5):
        mlflow.log_metric("acc", 0.5 + i / 10, step=i)
    mlflow.set_tag("team", "a")
    d = tempfile.mkdtemp(); open(os.path.join(d, "notes.txt"), "w").write("hi")
    mlflow.log_artifact(os.path.join(d, "notes.txt"), "docs")
    info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model", registered_model_name="churn",
                                    pip_requirements=["scikit-learn"])
c = MlflowClient()
c.set_registered_model_alias("churn", "champion", "1")
c.transition_model_version_stage("churn", "1", "Staging")
runs = mlflow.search_runs(experiment_names=["e2e"], filter_string="metrics.acc > 0.1", output_format="list")
hist = [m.value for m in c.get_metric_history(run.info.run_id, "acc")]
arts = [f.path for f in c.list_artifacts(run.info.run_id, "docs")]
local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="docs/notes.txt")
m = mlflow.pyfunc.load_model("models:/churn@champion")
pred = m.predict(np.array([[0.0], [3.0]])).tolist()
m2 = mlflow.pyfunc.load_model("models:/churn/Staging")
mv = c.get_model_version_by_alias("churn", "champion")
print(json.dumps({"runs": len(runs), "hist": hist, "arts": arts, "notes": open(local).read(), "pred": pred,
                  "stage": c.get_model_version("churn", "1").current_stage, "alias_version": mv.version,
                  "params": c.get_run(run.info.run_id).data.params, "model_id": info.model_id}))
