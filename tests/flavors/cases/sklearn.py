"""scikit-learn: a pipeline saved with skops (the default)."""

from __future__ import annotations

from cases import Built, FlavorCase, as_numpy, table


def _pipeline() -> Built:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = table()
    return Built(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), X, y, X.head(5))


MLFLOW_SAVE = """
import mlflow.sklearn, mlflow.pyfunc
from sklearn.linear_model import LogisticRegression
clf = LogisticRegression().fit(X, y)
for fmt in ("skops", "cloudpickle", "pickle"):
    p = f"{root}/{fmt}"
    mlflow.sklearn.save_model(clf, p, serialization_format=fmt, input_example=X.head(3), pip_requirements=[])
    out[fmt] = {"native": tolist(clf.predict(X)), "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
"""

MLFLOW_LOAD = """
import mlflow.sklearn, mlflow.pyfunc
out["native"] = tolist(mlflow.sklearn.load_model(path).predict(X))
out["pyfunc"] = tolist(mlflow.pyfunc.load_model(path).predict(X))
"""

CASES = [
    FlavorCase(
        id="sklearn-pipeline", module="tureen.flavors.sklearn", framework="sklearn", build=_pipeline,
        section="sklearn", keys={"pickled_model", "sklearn_version", "serialization_format", "code",
                                 "skops_trusted_types"},
        loader_module="mlflow.sklearn", requirement="scikit-learn", mlflow_save=MLFLOW_SAVE,
        mlflow_load=MLFLOW_LOAD, pickle_kw={"serialization_format": "cloudpickle"},
        native_predict=lambda m, X: as_numpy(m.predict(X)), bad_dtype=lambda X: X.assign(f0="high"),
        bad_shape=lambda X: X.drop(columns=["f3"]), unsupported=(object(), "PythonModel"),
        version_key="sklearn_version", data_file="model.skops"),
]
