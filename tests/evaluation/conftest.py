"""Fixtures of the evaluation tests: three sklearn models saved by MLflow 3.17 and MLflow's own
``mlflow.models.evaluate`` results on them (computed once per session in the peer venv)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from _tracking_state import fresh_tracking_state

CASES = ("binary", "multiclass", "regressor")

# Runs in the MLflow venv: fit, save with MLflow, evaluate with MLflow, report metrics, artifact names, the
# per-class CSV and the dataset records. argv: workdir.
MLFLOW_SIDE = r'''
import json, sys, os
from pathlib import Path
import numpy as np, pandas as pd
import mlflow
from sklearn.datasets import load_breast_cancer, load_iris, load_diabetes
from sklearn.linear_model import LogisticRegression, LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

work = Path(sys.argv[1])
mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
mlflow.set_experiment("eval")
out = {}
cases = {
    "binary": (load_breast_cancer, make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), "classifier"),
    "multiclass": (load_iris, LogisticRegression(max_iter=2000), "classifier"),
    "regressor": (load_diabetes, LinearRegression(), "regressor"),
}
for case, (loader, est, kind) in cases.items():
    X, y = loader(return_X_y=True, as_frame=True)
    model = est.fit(X, y)
    path = work / case
    mlflow.sklearn.save_model(model, str(path), pip_requirements=["scikit-learn"])
    df = X.assign(label=y)
    df.to_csv(work / f"{case}.csv", index=False)
    with mlflow.start_run() as run:
        res = mlflow.models.evaluate(str(path), df, targets="label", model_type=kind, evaluators="default")
    run = mlflow.get_run(run.info.run_id)
    record = {
        "metrics": {k: float(v) for k, v in res.metrics.items()},
        "run_metrics": run.data.metrics,
        "artifacts": sorted(res.artifacts),
        "files": sorted(f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id)),
        "datasets_tag": json.loads(run.data.tags["mlflow.datasets"]),
        "digests": [d.dataset.digest for d in run.inputs.dataset_inputs],
    }
    if "per_class_metrics" in res.artifacts:
        record["per_class"] = res.artifacts["per_class_metrics"].content.to_dict(orient="list")
    # the same data with the predictions given instead of the model
    preds = mlflow.pyfunc.load_model(str(path)).predict(X)
    with mlflow.start_run():
        static = mlflow.models.evaluate(data=df.assign(pred=np.asarray(preds)), targets="label",
                                        predictions="pred", model_type=kind)
    record["static_metrics"] = {k: float(v) for k, v in static.metrics.items()}
    record["static_artifacts"] = sorted(static.artifacts)
    # numpy features and labels, feature names generated
    with mlflow.start_run():
        arr = mlflow.models.evaluate(str(path), X.to_numpy(),
                                     targets=y.to_numpy(), model_type=kind,
                                     feature_names=list(X.columns))
    record["numpy_metrics"] = {k: float(v) for k, v in arr.metrics.items()}
    out[case] = record
print(json.dumps(out))
'''


@pytest.fixture(autouse=True)
def _fresh_tracking_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    with fresh_tracking_state(monkeypatch, tmp_path / "artifacts", f"sqlite:///{tmp_path / 'store.db'}"):
        yield


@pytest.fixture(scope="session")
def mlflow_evaluated(tmp_path_factory: pytest.TempPathFactory, mlflow_run: Any) -> tuple[Path, dict[str, Any]]:
    """(work dir holding the MLflow-saved models ``binary``, ``multiclass``, ``regressor`` and their data as
    CSV, MLflow's evaluate results for each)."""
    work = tmp_path_factory.mktemp("mlflow-eval")
    return work, mlflow_run(MLFLOW_SIDE, str(work), timeout=900)
