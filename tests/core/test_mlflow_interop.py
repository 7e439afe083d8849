"""Interop with a real MLflow 3.17.2 in its own venv: both directions, every sklearn format, custom models.

tureen's venv has no MLflow, so "loads without MLflow" is checked for real.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tureen import flavors, pyfunc

pytestmark = pytest.mark.mlflow

FIT = """
import sys, json, pandas as pd, numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import LogisticRegression
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
"""


def test_no_mlflow_in_tureens_venv():
    import importlib.util

    assert importlib.util.find_spec("mlflow") is None


@pytest.fixture(scope="module")
def mlflow_saved(tmp_path_factory, mlflow_run):
    """MLflow saves the sklearn model in each format it writes, and a custom PythonModel."""
    root = tmp_path_factory.mktemp("mlflow-saved")
    code = FIT + """
import mlflow.sklearn, mlflow.pyfunc
root = sys.argv[1]
for fmt in ("skops", "cloudpickle", "pickle"):
    mlflow.sklearn.save_model(clf, f"{root}/sk-{fmt}", serialization_format=fmt, input_example=X[:3],
                              pip_requirements=["scikit-learn"])

class Scale(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.k = float(open(context.artifacts["k"]).read())
    def predict(self, context, model_input, params=None):
        return model_input["x"] * self.k + (params or {}).get("b", 0.0)

class Upper(mlflow.pyfunc.PythonModel):
    def predict(self, model_input: list[str], params=None) -> list[str]:
        return [s.upper() for s in model_input]

open(f"{root}/k.txt", "w").write("2.5")
mlflow.pyfunc.save_model(f"{root}/custom", python_model=Scale(), artifacts={"k": f"{root}/k.txt"},
                         input_example=(pd.DataFrame({"x": [1.0, 2.0]}), {"b": 0.0}), pip_requirements=["pandas"])
mlflow.pyfunc.save_model(f"{root}/typed", python_model=Upper(), input_example=["a", "b"],
                         pip_requirements=["pandas"])
print(json.dumps({"pred": clf.predict(X).tolist()}))
"""
    out = mlflow_run(code, str(root))
    return root, np.array(out["pred"])


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle", "pickle"])
def test_tureen_loads_mlflow_sklearn_models(mlflow_saved, breast_cancer, fmt):
    root, expected = mlflow_saved
    X, _ = breast_cancer
    model = pyfunc.load_model(root / f"sk-{fmt}")
    np.testing.assert_array_equal(model.predict(X), expected)
    np.testing.assert_array_equal(flavors.sklearn.load_model(root / f"sk-{fmt}").predict(X), expected)
    assert model.metadata.mlflow_version == "3.17.2"
    pd.testing.assert_frame_equal(model.input_example, X[:3].reset_index(drop=True))


def test_tureen_loads_mlflow_custom_models(mlflow_saved):
    root, _ = mlflow_saved
    model = pyfunc.load_model(root / "custom")
    df = pd.DataFrame({"x": [1.0, 2.0]})
    assert model.predict(df).tolist() == [2.5, 5.0]
    assert model.predict(df, params={"b": 1.0}).tolist() == [3.5, 6.0]
    typed = pyfunc.load_model(root / "typed")
    assert typed.metadata.is_signature_from_type_hint is True
    assert typed.predict(["a", "b"]) == ["A", "B"]


def test_mlflow_pickles_still_pass_the_gate(mlflow_saved):
    from tureen.exceptions import UnsafeDeserializationError

    root, _ = mlflow_saved
    with pytest.raises(UnsafeDeserializationError):
        pyfunc.load_model(root / "custom", allow_pickle=False)
    with pytest.raises(UnsafeDeserializationError):
        pyfunc.load_model(root / "sk-cloudpickle", allow_pickle=False)


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle", "pickle"])
def test_mlflow_loads_tureen_sklearn_models(tmp_path, sk_pipeline, breast_cancer, mlflow_run, fmt):
    X, _ = breast_cancer
    path = tmp_path / "m"
    flavors.sklearn.save_model(sk_pipeline, path, serialization_format=fmt, input_example=X[:3])
    code = FIT + """
import mlflow.sklearn, mlflow.pyfunc
path = sys.argv[1]
native = mlflow.sklearn.load_model(path).predict(X).tolist()
pyf = mlflow.pyfunc.load_model(path)
print(json.dumps({"native": native, "pyfunc": [int(v) for v in pyf.predict(X)],
                  "sig": pyf.metadata.signature.to_dict()}))
"""
    out = mlflow_run(code, str(path))
    expected = sk_pipeline.predict(X).tolist()
    assert out["native"] == expected and out["pyfunc"] == expected
    assert out["sig"] == pyfunc.load_model(path).metadata.signature.to_dict()


def test_mlflow_loads_tureen_custom_models_with_tureen_installed(tmp_path, mlflow_run):
    """Custom models pickle tureen classes, so MLflow needs tureen importable (the issue's stated condition)."""
    from core.tests_support_models import Doubler  # noqa: F401 - importable module so MLflow can unpickle by reference

    path = tmp_path / "custom"
    pyfunc.save_model(path, python_model=Doubler(), input_example=pd.DataFrame({"v": [1.0, 2.0]}))
    import tureen
    from pathlib import Path

    src = str(Path(tureen.__file__).resolve().parents[1])
    support = str(Path(__file__).resolve().parents[1])
    code = """
import sys, json, pandas as pd
sys.path[:0] = [sys.argv[2], sys.argv[3]]
import mlflow.pyfunc
m = mlflow.pyfunc.load_model(sys.argv[1])
print(json.dumps(m.predict(pd.DataFrame({"v": [1.0, 3.0]}))["v"].tolist()))
"""
    assert mlflow_run(code, str(path), src, support) == [2.0, 6.0]
