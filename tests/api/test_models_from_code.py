"""Models from code (issue 15 part 4): ``python_model="model.py"`` + ``set_model``, both ways with MLflow 3,
and the file passing the one gate at load (a hostile directory runs nothing)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

MODEL_FILE = '''\
import mlflow
from mlflow.pyfunc import PythonModel


N = mlflow.models.ModelConfig(development_config={"n": 1}).get("n")


class AddN(PythonModel):
    def predict(self, context, model_input, params=None):
        return [v + N for v in model_input["x"]]


mlflow.models.set_model(AddN())
'''


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "add_model.py"
    path.parent.mkdir()
    path.write_text(MODEL_FILE)
    return path


def _example():
    import pandas as pd

    return pd.DataFrame({"x": [1.0, 2.0]})


def test_log_and_load_a_model_from_code(model_file: Path):
    import tureen as mlflow

    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="adder", python_model=str(model_file), input_example=_example(),
                                       model_config={"n": 10})
    model = mlflow.pyfunc.load_model(info.model_uri)
    assert model.predict(_example()) == [11.0, 12.0]
    conf = model.metadata.flavors["python_function"]
    assert conf["model_code_path"] == "add_model.py" and "python_model" not in conf
    assert (Path(model.model_path) / "add_model.py").read_text() == MODEL_FILE
    assert not (Path(model.model_path) / "python_model.pkl").exists()  # nothing pickled
    # the file's `import mlflow` resolved to tureen only while it ran
    assert "mlflow" not in sys.modules
    import tureen

    assert tureen.__spec__.name == "tureen"


def test_a_file_that_never_calls_set_model(tmp_path: Path):
    import tureen as mlflow

    bad = tmp_path / "nothing.py"
    bad.write_text("x = 1\n")
    with pytest.raises(mlflow.exceptions.ModelFormatError, match="did not call set_model"):
        mlflow.pyfunc.save_model(tmp_path / "m", python_model=str(bad))
    assert not (tmp_path / "m").exists()


def _hostile(tmp_path: Path, code_path: str, body: str | None) -> Path:
    root = tmp_path / "hostile"
    root.mkdir()
    if body is not None:
        (root / Path(code_path).name).write_text(body)
    doc = {"flavors": {"python_function": {"loader_module": "mlflow.pyfunc.model", "model_code_path": code_path}}}
    (root / "MLmodel").write_text(yaml.safe_dump(doc))
    return root


def test_hostile_model_code_runs_nothing_when_the_gate_is_closed(tmp_path: Path):
    import tureen as mlflow
    from tureen.exceptions import UntrustedCodeError

    canary = tmp_path / "canary"
    root = _hostile(tmp_path, "/home/attacker/evil.py", f"open({str(canary)!r}, 'w').write('ran')\n")
    with pytest.raises(UntrustedCodeError, match="evil.py"):
        mlflow.pyfunc.load_model(root, allow_pickle=False, verify=False)
    assert not canary.exists()


def test_model_code_path_cannot_leave_the_model_directory(tmp_path: Path):
    import tureen as mlflow
    from tureen.exceptions import ModelFormatError, ModelPathError

    outside = tmp_path / "outside.py"
    canary = tmp_path / "canary"
    outside.write_text(f"open({str(canary)!r}, 'w').write('ran')\n")
    for i, recorded in enumerate(("../outside.py", str(outside), "..", "")):
        (tmp_path / str(i)).mkdir()
        root = _hostile(tmp_path / str(i), recorded, None)
        with pytest.raises((ModelFormatError, ModelPathError)):
            mlflow.pyfunc.load_model(root, verify=False)
        assert not canary.exists()
    # a symlink in the model directory pointing at outside code is refused before anything runs
    (tmp_path / "link").mkdir()
    root = _hostile(tmp_path / "link", "evil.py", None)
    (root / "evil.py").symlink_to(outside)
    with pytest.raises(ModelPathError):
        mlflow.pyfunc.load_model(root, verify=False)
    assert not canary.exists()


MLFLOW_SIDE = r'''
import json, sys
import mlflow
import pandas as pd
mode, model_file, target = sys.argv[1], sys.argv[2], sys.argv[3]
df = pd.DataFrame({"x": [1.0, 2.0]})
if mode == "save":
    mlflow.pyfunc.save_model(target, python_model=model_file, input_example=df, model_config={"n": 5},
                             pip_requirements=["pandas"])
    print(json.dumps(mlflow.pyfunc.load_model(target).predict(df)))
else:
    print(json.dumps(mlflow.pyfunc.load_model(target).predict(df)))
'''


@pytest.mark.mlflow
def test_mlflow_models_from_code_both_ways(mlflow_run, model_file: Path, tmp_path: Path):
    import tureen as mlflow

    theirs = tmp_path / "by_mlflow"
    expected = mlflow_run(MLFLOW_SIDE, "save", str(model_file), str(theirs))
    assert expected == [6.0, 7.0]
    assert mlflow.pyfunc.load_model(theirs).predict(_example()) == expected
    ours = tmp_path / "by_tureen"
    mlflow.pyfunc.save_model(ours, python_model=str(model_file), input_example=_example(), model_config={"n": 5})
    assert mlflow_run(MLFLOW_SIDE, "load", str(model_file), str(ours)) == expected
    assert json.loads(json.dumps(mlflow.pyfunc.load_model(ours).predict(_example()))) == expected
