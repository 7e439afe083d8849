"""Custom Python models: save, load, context and artifacts, params, call conventions, the gate."""

from __future__ import annotations

import pandas as pd
import pytest

from tureen import pyfunc
from tureen.exceptions import (InvalidParameterError, SchemaEnforcementError, TureenError,
                               UnsafeDeserializationError, UnsupportedModelError)


class Scale(pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["k"]) as f:
            self.k = float(f.read())
        self.offset = context.model_config.get("offset", 0.0)

    def predict(self, context, model_input, params=None):
        return model_input["x"] * self.k + self.offset + (params or {}).get("b", 0.0)


class NoContext(pyfunc.PythonModel):
    def predict(self, model_input):
        # a list input checked against a column schema arrives as a one-column DataFrame, as in MLflow
        return model_input.iloc[:, 0].str.upper().tolist()


@pytest.fixture
def scale_model(tmp_path):
    (tmp_path / "k.txt").write_text("2.5")
    path = tmp_path / "scale"
    pyfunc.save_model(path, python_model=Scale(), artifacts={"k": str(tmp_path / "k.txt")},
                      model_config={"offset": 1.0},
                      input_example=(pd.DataFrame({"x": [1.0, 2.0]}), {"b": 0.0}))
    return path


def test_round_trip_with_artifacts_config_and_params(scale_model):
    model = pyfunc.load_model(scale_model)
    df = pd.DataFrame({"x": [1.0, 2.0]})
    assert model.predict(df).tolist() == [3.5, 6.0]
    assert model.predict(df, params={"b": 1.0}).tolist() == [4.5, 7.0]
    assert model.predict(df, params={"b": 1}).tolist() == [4.5, 7.0]  # long -> double widening
    assert isinstance(model.unwrap_python_model(), Scale)
    sig = model.metadata.signature
    assert sig.params.to_dict() == [{"name": "b", "default": 0.0, "shape": None, "type": "double"}]
    assert pyfunc.load_model(scale_model, model_config={"offset": 10.0}).predict(df).tolist() == [12.5, 15.0]


def test_unknown_params_and_bad_columns(scale_model):
    model = pyfunc.load_model(scale_model)
    with pytest.raises(SchemaEnforcementError, match=r"unknown params \['temperature'\]"):
        model.predict(pd.DataFrame({"x": [1.0]}), params={"temperature": 1})
    with pytest.raises(SchemaEnforcementError, match=r"missing inputs \['x'\]"):
        model.predict(pd.DataFrame({"y": [1.0]}))


def test_context_free_predict_and_function_models(tmp_path):
    pyfunc.save_model(tmp_path / "nc", python_model=NoContext(), input_example=["a", "b"])
    assert pyfunc.load_model(tmp_path / "nc").predict(["x"]) == ["X"]
    pyfunc.save_model(tmp_path / "fn", python_model=lambda df: df * 2, input_example=pd.DataFrame({"v": [1.0]}))
    assert pyfunc.load_model(tmp_path / "fn").predict(pd.DataFrame({"v": [2.0]}))["v"].tolist() == [4.0]


def test_custom_models_pass_the_gate(scale_model, monkeypatch):
    with pytest.raises(UnsafeDeserializationError):
        pyfunc.load_model(scale_model, allow_pickle=False)
    monkeypatch.setenv("TUREEN_ALLOW_PICKLE", "0")
    with pytest.raises(UnsafeDeserializationError):
        pyfunc.load_model(scale_model)


def test_bad_python_models(tmp_path):
    with pytest.raises(InvalidParameterError, match="needs python_model"):
        pyfunc.save_model(tmp_path / "a")
    with pytest.raises(UnsupportedModelError, match="must be an instance"):
        pyfunc.save_model(tmp_path / "b", python_model=Scale)
    with pytest.raises(UnsupportedModelError, match="PythonModel or a function"):
        pyfunc.save_model(tmp_path / "c", python_model=42)
    with pytest.raises(InvalidParameterError, match="artifact 'k'"):
        pyfunc.save_model(tmp_path / "d", python_model=Scale(), artifacts={"k": str(tmp_path / "missing.txt")})
    assert list(tmp_path.iterdir()) == []


def test_example_that_crashes_the_model_writes_nothing(tmp_path):
    class Broken(pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            raise RuntimeError("kaboom")

    with pytest.raises(InvalidParameterError, match="kaboom"):
        pyfunc.save_model(tmp_path / "x", python_model=Broken(), input_example=pd.DataFrame({"a": [1]}))
    assert list(tmp_path.iterdir()) == []


def test_unwrap_on_a_flavor_model_is_a_clear_error(saved_sklearn):
    with pytest.raises(TureenError, match="custom Python models"):
        pyfunc.load_model(saved_sklearn).unwrap_python_model()
