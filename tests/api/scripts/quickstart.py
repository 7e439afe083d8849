# MLflow's tracking quickstart, as a user writes it: train, log, register, load, predict.
import json

import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

X, y = load_iris(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
params = {"solver": "lbfgs", "max_iter": 1000, "random_state": 8888}
lr = LogisticRegression(**params).fit(X_train, y_train)
accuracy = float((lr.predict(X_test) == y_test).mean())

mlflow.set_experiment("MLflow Quickstart")
with mlflow.start_run(run_name="quickstart") as run:
    mlflow.log_params(params)
    mlflow.log_metric("accuracy", accuracy)
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.set_tag("Training Info", "Basic LR model for iris data")
    mlflow.log_dict({"classes": [0, 1, 2]}, "meta/classes.json")
    mlflow.log_text("hello", "notes.txt")
    signature = mlflow.models.infer_signature(X_train, lr.predict(X_train))
    model_info = mlflow.sklearn.log_model(sk_model=lr, name="iris_model", signature=signature,
                                          input_example=X_train[:3], registered_model_name="tracking-quickstart")

loaded = mlflow.pyfunc.load_model(model_info.model_uri)
by_name = mlflow.pyfunc.load_model("models:/tracking-quickstart/1")
native = mlflow.sklearn.load_model(model_info.model_uri)
client = mlflow.MlflowClient()
got = mlflow.get_run(run.info.run_id)
history = client.get_metric_history(run.info.run_id, "loss")
runs = mlflow.search_runs(experiment_names=["MLflow Quickstart"], output_format="list")
frame = mlflow.search_runs(filter_string="metrics.accuracy > 0.5", search_all_experiments=True)
print(json.dumps({
    "predictions": loaded.predict(X_test).tolist(),
    "by_name": by_name.predict(X_test[:5]).tolist(),
    "native": native.predict(X_test[:5]).tolist(),
    "params": got.data.params,
    "metrics": got.data.metrics,
    "tag": got.data.tags["Training Info"],
    "status": got.info.status,
    "run_name": got.info.run_name,
    "history": [(m.step, m.value) for m in history],
    "n_runs": len(runs),
    "frame_columns": sorted(c for c in frame.columns if c.startswith(("metrics.", "params."))),
    "classes": mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/meta/classes.json"),
    "notes": mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes.txt"),
    "artifacts": sorted(f.path for f in client.list_artifacts(run.info.run_id)),
    "signature_inputs": signature.inputs.to_dict(),
    "registered_version": str(model_info.registered_model_version),
    "experiment": mlflow.get_experiment_by_name("MLflow Quickstart").name,
}))
