# Datasets (mlflow.data) on runs, and figures, images, tables as artifacts.
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd

df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": [0, 1, 0], "city": ["a", "b", "c"]})
ds = mlflow.data.from_pandas(df, source="data/train.csv", targets="label", name="train")
arr = mlflow.data.from_numpy(np.arange(12.0).reshape(4, 3), targets=np.array([0, 1, 0, 1]), name="np")
with mlflow.start_run() as run:
    mlflow.log_input(ds, context="training")
    mlflow.log_input(arr, context="eval")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    mlflow.log_figure(fig, "plots/line.png")
    mlflow.log_image(np.zeros((8, 8, 3), dtype=np.uint8), "black.png")
    mlflow.log_table({"q": ["a", "b"], "score": [0.5, 0.7]}, "eval.json")
    mlflow.log_table({"q": ["c"], "score": [0.9]}, "eval.json")
    mlflow.set_experiment_tag("purpose", "demo")
got = mlflow.get_run(run.info.run_id)
inputs = sorted(got.inputs.dataset_inputs, key=lambda d: d.dataset.name)
table = mlflow.load_table("eval.json", run_ids=[run.info.run_id])
image = mlflow.artifacts.load_image(f"runs:/{run.info.run_id}/black.png")
source = mlflow.data.get_source(inputs[1])
print(json.dumps({
    "datasets": [{"name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type,
                  "schema": json.loads(d.dataset.schema), "profile": json.loads(d.dataset.profile),
                  "context": {t.key: t.value for t in d.tags}.get("mlflow.data.context")} for d in inputs],
    "pandas_digest": ds.digest, "numpy_digest": arr.digest,
    "pandas_profile": ds.profile, "numpy_profile": json.loads(json.dumps(arr.profile)),
    "source_uri": source.uri,
    "table": table.to_dict(orient="list"),
    "image_size": list(image.size),
    "artifacts": sorted(f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id)),
    "logged_artifacts_tag": json.loads(got.data.tags["mlflow.loggedArtifacts"]),
    "experiment_tag": mlflow.get_experiment(run.info.experiment_id).tags.get("purpose"),
}))
