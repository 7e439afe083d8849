"""Bugs found while porting MLflow scripts (issue 15): each fails on the code before its fix."""

from __future__ import annotations

import pytest


def _logged_sklearn(mlflow):
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, name="model")
    return run.info.run_id


def test_create_model_version_from_a_runs_uri_loads():
    import tureen as mlflow

    run_id = _logged_sklearn(mlflow)
    client = mlflow.MlflowClient()
    client.create_registered_model("lin")
    mv = client.create_model_version("lin", f"runs:/{run_id}/model", run_id=run_id)
    model = mlflow.pyfunc.load_model(f"models:/lin/{mv.version}")
    assert model.predict([[3.0]]).tolist() == pytest.approx([7.0])
    # the same URI through register_model gives a version that loads the same model
    mv2 = mlflow.register_model(f"runs:/{run_id}/model", "lin")
    assert mlflow.pyfunc.load_model(f"models:/lin/{mv2.version}").predict([[3.0]]).tolist() == pytest.approx([7.0])


def test_a_type_hinted_function_gets_a_list(tmp_path):
    import tureen as mlflow

    def predict(x: list[float]) -> list[float]:
        return [v + 1 for v in x]

    mlflow.pyfunc.save_model(tmp_path / "m", python_model=predict, input_example=[1.0, 2.0])
    model = mlflow.pyfunc.load_model(tmp_path / "m")
    assert model.metadata.is_signature_from_type_hint is True
    assert model.metadata.signature.inputs.to_dict() == [{"type": "double", "required": True}]
    assert model.metadata.signature.outputs.to_dict() == [{"type": "double", "required": True}]
    assert model.predict([1.0, 2.0]) == [2.0, 3.0]
    import pandas as pd

    assert model.predict(pd.DataFrame({"a": [1.0, 2.0]})) == [2.0, 3.0]
    # ints are not floats: an error naming the elements, never a silent answer (MLflow's behaviour)
    with pytest.raises(mlflow.exceptions.InvalidParameterError, match="Expected type float, but got int"):
        model.predict([1, 2])


def test_a_type_hinted_python_model_class(tmp_path):
    import tureen as mlflow

    class Upper(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: list[str], params=None) -> list[str]:
            return [s.upper() for s in model_input]

    mlflow.pyfunc.save_model(tmp_path / "m", python_model=Upper())
    model = mlflow.pyfunc.load_model(tmp_path / "m")
    assert model.metadata.is_signature_from_type_hint is True
    assert model.predict(["a", "b"]) == ["A", "B"]


def test_registered_model_aliases_have_int_versions():
    import tureen as mlflow

    run_id = _logged_sklearn(mlflow)
    mv = mlflow.register_model(f"runs:/{run_id}/model", "lin")
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("lin", "champion", mv.version)
    aliases = client.get_registered_model("lin").aliases
    assert aliases == {"champion": 1}
    assert type(aliases["champion"]) is int
    assert client.search_registered_models()[0].aliases == {"champion": 1}
