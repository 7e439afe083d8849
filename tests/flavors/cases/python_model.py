"""Custom Python models (``tureen.pyfunc.PythonModel``), always cloudpickled: the gate applies to the default."""

from __future__ import annotations

from cases import Built, FlavorCase, as_numpy, table

from tureen.pyfunc import PythonModel


class WeightedSum(PythonModel):
    def __init__(self, k: float) -> None:
        self.k = k

    def predict(self, context, model_input, params=None):
        return model_input.to_numpy().sum(axis=1) * self.k


def _model() -> Built:
    X, y = table()
    return Built(WeightedSum(2.0), X, y, X.head(5))


MLFLOW_SAVE = """
import mlflow.pyfunc
class Scale(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input.to_numpy().sum(axis=1) * 3.0
p = f"{root}/cloudpickle"
mlflow.pyfunc.save_model(p, python_model=Scale(), input_example=X.head(3), pip_requirements=[])
pred = tolist(mlflow.pyfunc.load_model(p).predict(X))
out["cloudpickle"] = {"native": pred, "pyfunc": pred}
"""

MLFLOW_LOAD = """
import mlflow.pyfunc
pred = tolist(mlflow.pyfunc.load_model(path).predict(X))
out["native"] = pred
out["pyfunc"] = pred
"""

CASES = [
    FlavorCase(
        id="python-model", module="tureen.pyfunc.model", framework=None, build=_model,
        section="python_function", keys={"loader_module", "python_model", "cloudpickle_version", "env"},
        loader_module="tureen.pyfunc.model", requirement="cloudpickle", mlflow_save=MLFLOW_SAVE,
        mlflow_load=MLFLOW_LOAD, pickle_kw={}, native_predict=lambda m, X: as_numpy(m.predict(None, X)),
        bad_dtype=lambda X: X.assign(f0="high"), bad_shape=lambda X: X.drop(columns=["f3"]),
        unsupported=(42, "PythonModel"), data_file="python_model.pkl",
        typed_framework_errors=False),  # the user's own predict decides what it raises
]
