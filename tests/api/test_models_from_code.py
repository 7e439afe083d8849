"""Models from code (issue 15 part 4): ``python_model="model.py"`` + ``set_model``, both ways with MLflow 3,
and the file passing the one gate at load (a hostile directory runs nothing)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

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
import importlib.util, json, sys
import mlflow
import pandas as pd
assert importlib.util.find_spec("tureen") is None, "tureen must not be importable on the MLflow side"
mode, model_file, target = sys.argv[1], sys.argv[2], sys.argv[3]
df = pd.DataFrame({"x": [1.0, 2.0]})
if mode == "save":
    mlflow.pyfunc.save_model(target, python_model=model_file, input_example=df, model_config={"n": 5},
                             pip_requirements=["pandas"])
print(json.dumps(mlflow.pyfunc.load_model(target).predict(df)))
'''


@pytest.mark.mlflow
def test_mlflow_models_from_code_load_in_tureen(mlflow_run, model_file: Path, tmp_path: Path):
    import tureen as mlflow

    theirs = tmp_path / "by_mlflow"
    expected = mlflow_run(MLFLOW_SIDE, "save", str(model_file), str(theirs), cwd=tmp_path)
    assert expected == [6.0, 7.0]
    assert mlflow.pyfunc.load_model(theirs).predict(_example()) == expected


@pytest.mark.mlflow
def test_tureen_models_from_code_load_in_mlflow(mlflow_run, model_file: Path, tmp_path: Path):
    """Where tureen is not installed: MLflow reads the directory with its own models-from-code loader."""
    import tureen as mlflow

    ours = tmp_path / "by_tureen"
    mlflow.pyfunc.save_model(ours, python_model=str(model_file), input_example=_example(), model_config={"n": 5})
    assert yaml.safe_load((ours / "MLmodel").read_text())["flavors"]["python_function"]["loader_module"] == \
        "mlflow.pyfunc.loaders.code_model"
    theirs = mlflow_run(MLFLOW_SIDE, "load", str(model_file), str(ours), cwd=tmp_path)
    assert theirs == mlflow.pyfunc.load_model(ours).predict(_example()) == [6.0, 7.0]


BOTH_INSTALLED = r'''
import json, sys
sys.path.insert(0, sys.argv[1])  # tureen beside the real MLflow, in one environment
import pandas as pd
import tureen
model_file, target, legacy = sys.argv[2], sys.argv[3], sys.argv[4]
df = pd.DataFrame({"x": [1.0, 2.0]})
tureen.pyfunc.save_model(target, python_model=model_file, model_config={"n": 5})
out = {"tureen": tureen.pyfunc.load_model(target).predict(df),
       "tureen_legacy": tureen.pyfunc.load_model(legacy).predict(df)}
import mlflow
out["mlflow"] = mlflow.pyfunc.load_model(target).predict(df)
out["mlflow_legacy"] = mlflow.pyfunc.load_model(legacy).predict(df)
print(json.dumps(out))
'''


@pytest.mark.mlflow
def test_models_from_code_where_mlflow_and_tureen_are_both_installed(mlflow_run, model_file: Path,
                                                                      tmp_path: Path):
    """The file's ``import mlflow`` is then the real MLflow, whose ``set_model`` tureen also reads (at save and
    at load); a directory from an earlier tureen (loader_module tureen.pyfunc.model) loads in MLflow too."""
    import tureen as mlflow
    from tureen.models.mlmodel import Model

    legacy = tmp_path / "legacy"
    mlflow.pyfunc.save_model(legacy, python_model=str(model_file), model_config={"n": 3})
    meta = Model.load(legacy)
    meta.flavors["python_function"]["loader_module"] = "tureen.pyfunc.model"
    meta.tureen = {}  # hand-edited: no digests to check
    meta.save(legacy / "MLmodel")
    out = mlflow_run(BOTH_INSTALLED, str(ROOT), str(model_file), str(tmp_path / "ours"), str(legacy), cwd=tmp_path)
    assert out == {"tureen": [6.0, 7.0], "tureen_legacy": [4.0, 5.0], "mlflow": [6.0, 7.0],
                   "mlflow_legacy": [4.0, 5.0]}
