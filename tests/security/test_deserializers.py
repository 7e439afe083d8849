"""Class 2: every unsafe deserializer behind the gate, and ``tureen models inspect`` telling the truth.

Each hostile file creates a canary when it runs. With the gate closed (``allow_pickle=False`` or
``TUREEN_ALLOW_PICKLE=false``) the load fails with UnsafeDeserializationError and the canary stays absent;
where it is cheap, the same file loaded with the gate open proves the payload is real.
"""

from __future__ import annotations

import gzip
import json
import sys

import pytest

from tests.security._hostile_models import custom_model, exec_pickle, watching, write_mlmodel, write_zip
from tureen import pyfunc
from tureen.exceptions import ModelFormatError, UnsafeDeserializationError, UntrustedCodeError


@pytest.fixture
def canary(tmp_path):
    return tmp_path / "CANARY"


def _sklearn_pickle_model(root, payload, *, file="model.pkl", fmt="cloudpickle"):
    root.mkdir(parents=True)
    (root / file).write_bytes(payload)
    conf = {"pickled_model": file, "code": None}
    if fmt is not None:
        conf["serialization_format"] = fmt
    return write_mlmodel(root, {"python_function": {"loader_module": "mlflow.sklearn", "model_path": file},
                                "sklearn": conf})


@pytest.mark.parametrize("file,fmt", [("model.pkl", "cloudpickle"), ("model.pkl", "pickle"),
                                      ("weights.bin", "pickle"),  # a pickle by any other name
                                      ("model.pkl", None)])       # old MLflow models: no format key
def test_sklearn_pickles_refused(tmp_path, canary, file, fmt, monkeypatch):
    root = _sklearn_pickle_model(tmp_path / "m", exec_pickle(canary), file=file, fmt=fmt)
    from tureen.flavors import sklearn

    with watching(canary):
        with pytest.raises(UnsafeDeserializationError):
            pyfunc.load_model(root, allow_pickle=False)
        with pytest.raises(UnsafeDeserializationError):
            sklearn.load_model(root, allow_pickle=False)
        monkeypatch.setenv("TUREEN_ALLOW_PICKLE", "off")
        with pytest.raises(UnsafeDeserializationError):
            pyfunc.load_model(root)


def test_the_payload_is_real(tmp_path, canary):
    """The same file with the gate open runs: the refusals above are what stands between it and the host."""
    root = _sklearn_pickle_model(tmp_path / "m", exec_pickle(canary))
    try:
        pyfunc.load_model(root, allow_pickle=True)
    except Exception:  # noqa: BLE001 - exec returns None, which is no estimator; what matters is that it ran
        pass
    assert canary.exists()


def test_unknown_serialization_format_is_not_guessed(tmp_path, canary):
    root = _sklearn_pickle_model(tmp_path / "m", exec_pickle(canary), fmt="joblib")
    with watching(canary):
        with pytest.raises(ModelFormatError, match="joblib"):
            pyfunc.load_model(root, allow_pickle=True)


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_custom_model_pickles_refused(tmp_path, canary, compression):
    payload = exec_pickle(canary)
    extra = {}
    if compression:
        payload = gzip.compress(payload)
        extra["python_model_compression"] = compression
    root = custom_model(tmp_path / "m", pickled=payload, code=None, **extra)
    with watching(canary):
        with pytest.raises(UnsafeDeserializationError):
            pyfunc.load_model(root, allow_pickle=False)


def test_lightgbm_pickle_refused(tmp_path, canary):
    root = tmp_path / "m"
    root.mkdir()
    (root / "model.pkl").write_bytes(exec_pickle(canary))
    write_mlmodel(root, {"python_function": {"loader_module": "mlflow.lightgbm", "data": "model.pkl"},
                         "lightgbm": {"data": "model.pkl", "model_class": "lightgbm.sklearn.LGBMClassifier",
                                      "serialization_format": "cloudpickle", "code": None}})
    with watching(canary):
        with pytest.raises(UnsafeDeserializationError):
            pyfunc.load_model(root, allow_pickle=False)


@pytest.mark.parametrize("model_class", ["os.system", "subprocess.Popen", "xgboost_evil.Booster"])
def test_xgboost_model_class_outside_xgboost_refused(tmp_path, canary, model_class):
    root = tmp_path / "m"
    root.mkdir()
    (root / "model.ubj").write_bytes(b"{}")
    write_mlmodel(root, {"python_function": {"loader_module": "mlflow.xgboost", "data": "model.ubj"},
                         "xgboost": {"data": "model.ubj", "model_class": model_class, "model_format": "ubj",
                                     "code": None}})
    with watching(canary, model_class.split(".")[0] if model_class.startswith("xgboost_") else "xgboost_evil"):
        with pytest.raises(ModelFormatError, match="not an xgboost class"):
            pyfunc.load_model(root, allow_pickle=True)


# ------------------------------------------------------------------------------------------------
# Keras configs: our own scan, independent of Keras' process-wide safe_mode switch


@pytest.mark.parametrize("config,word", [
    ({"class_name": "Sequential", "config": {"layers": [{"class_name": "__lambda__", "config": {"code": "x"}}]}},
     "bytecode"),
    ({"class_name": "Lambda", "module": "keras.layers", "config": {}}, "Lambda"),
    ({"class_name": "TFSMLayer", "module": "keras.layers", "config": {"filepath": "/etc"}}, "SavedModel"),
    ({"class_name": "function", "module": "os", "config": "system"}, "os.system"),
    ({"class_name": "function", "module": "keras.utils", "config": "get_file"}, "keras.utils.get_file"),
    ({"class_name": "function", "module": "keras.config", "config": "enable_unsafe_deserialization"}, "unsafe"),
])
def test_keras_config_scan_finds_code(config, word):
    from tureen.flavors._scan import keras_config_risks

    risks = keras_config_risks(config)
    assert risks and word in " ".join(risks)


def test_keras_config_scan_passes_plain_layers():
    from tureen.flavors._scan import keras_config_risks

    plain = {"class_name": "Sequential", "module": "keras", "config": {"layers": [
        {"class_name": "Dense", "module": "keras.layers", "config": {"units": 1, "activation": "relu"}},
        {"class_name": "function", "module": "keras.activations", "config": "relu"}]}}
    assert keras_config_risks(plain) == []


def _keras_dir(root, config):
    data = root / "data"
    write_zip(data / "model.keras", {"config.json": json.dumps(config).encode(),
                                     "metadata.json": b'{"keras_version": "3.15.1"}', "model.weights.h5": b""})
    return write_mlmodel(root, {"keras": {"data": "data", "keras_version": "3.15.1", "save_exported_model": False,
                                          "code": None},
                                "python_function": {"loader_module": "mlflow.keras", "data": "data"}})


@pytest.mark.tensorflow
def test_keras_lambda_refused_even_with_keras_safe_mode_off(tmp_path, canary):
    import keras

    from tureen.flavors import keras as tk

    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2.0)])
    root = tmp_path / "m"
    (root / "data").mkdir(parents=True)
    model.save(root / "data" / "model.keras")
    write_mlmodel(root, {"keras": {"data": "data", "keras_version": keras.__version__,
                                   "save_exported_model": False, "code": None},
                         "python_function": {"loader_module": "mlflow.keras", "data": "data"}})
    keras.config.enable_unsafe_deserialization()  # some other code in the process turned Keras' switch off
    try:
        with pytest.raises(UnsafeDeserializationError, match="Lambda|bytecode"):
            pyfunc.load_model(root, allow_pickle=False)
        with pytest.raises(UnsafeDeserializationError):
            tk.load_model(root, allow_pickle=False)
    finally:
        from keras.src.saving import serialization_lib

        serialization_lib.global_state.set_global_attribute("safe_mode_saving", None)


@pytest.mark.tensorflow
def test_keras_tfsmlayer_refused(tmp_path, canary):
    root = _keras_dir(tmp_path / "m", {"class_name": "Sequential", "module": "keras", "config": {"layers": [
        {"class_name": "TFSMLayer", "module": "keras.layers", "config": {"filepath": str(tmp_path / "elsewhere")}}]}})
    with watching(canary):
        with pytest.raises(UnsafeDeserializationError, match="TFSMLayer"):
            pyfunc.load_model(root, allow_pickle=False)


@pytest.mark.tensorflow
def test_keras_custom_objects_pickle_refused(tmp_path, canary):
    root = tmp_path / "m"
    data = root / "data"
    data.mkdir(parents=True)
    (data / "custom_objects.cloudpickle").write_bytes(exec_pickle(canary))
    (data / "model.keras").write_bytes(b"not read")
    write_mlmodel(root, {"tensorflow": {"data": "data", "model_type": "keras", "keras_version": "2.21.0",
                                        "code": None},
                         "python_function": {"loader_module": "mlflow.tensorflow", "data": "data"}})
    with watching(canary):
        with pytest.raises(UnsafeDeserializationError, match="custom objects"):
            pyfunc.load_model(root, allow_pickle=False)


# ------------------------------------------------------------------------------------------------
# TensorFlow SavedModels: graph ops run at load (this one writes a file from a resource initializer)


_WRITER = """
import sys, tensorflow as tf
class Writer(tf.saved_model.experimental.TrackableResource):
    def __init__(self, path):
        super().__init__()
        self._path = path
    def _create_resource(self):
        return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name="sec_writer")
    def _initialize(self):
        tf.io.write_file(self._path, "the artifact ran code")
        return tf.raw_ops.AssignVariableOp(resource=self.resource_handle, value=1.0)
class M(tf.Module):
    def __init__(self, path):
        super().__init__()
        self.w = Writer(path)
    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def __call__(self, x):
        return x * 2.0
tf.saved_model.save(M(sys.argv[1]), sys.argv[2])
"""


@pytest.mark.tensorflow
def test_savedmodel_initializer_writing_a_file_is_gated(tmp_path, canary):
    import os
    import subprocess

    root = tmp_path / "m"
    subprocess.run([sys.executable, "-c", _WRITER, str(canary), str(root / "tf2model")], check=True,
                   capture_output=True, timeout=300)
    if canary.exists():  # saving ran the initializer once, in the builder process: clear it
        os.remove(canary)
    write_mlmodel(root, {"tensorflow": {"saved_model_dir": "tf2model", "model_type": "tf2-module", "code": None},
                         "python_function": {"loader_module": "mlflow.tensorflow"}})
    from tureen.flavors import tensorflow as tft

    with watching(canary):
        with pytest.raises(UnsafeDeserializationError, match="SavedModel"):
            pyfunc.load_model(root, allow_pickle=False)
        with pytest.raises(UnsafeDeserializationError, match="SavedModel"):
            tft.load_model(root, allow_pickle=False)
    pyfunc.load_model(root, allow_pickle=True)  # with the gate open it loads ... and the graph wrote the file
    assert canary.exists()


# ------------------------------------------------------------------------------------------------
# PyTorch


@pytest.mark.torch
def test_torch_full_pickle_refused(tmp_path, canary):
    import torch

    root = tmp_path / "m"
    (root / "data").mkdir(parents=True)

    class Boom:
        def __reduce__(self):
            return (exec, (f"open({str(canary)!r}, 'w')",))

    torch.save(Boom(), root / "data" / "model.pth")
    write_mlmodel(root, {"pytorch": {"model_data": "data", "pytorch_version": str(torch.__version__),
                                     "code": None},
                         "python_function": {"loader_module": "mlflow.pytorch", "data": "data"}})
    with watching(canary):
        with pytest.raises(UnsafeDeserializationError):
            pyfunc.load_model(root, allow_pickle=False)


@pytest.mark.torch
def test_pickle_module_name_in_mlmodel_is_never_imported(tmp_path, canary, monkeypatch):
    """MLflow's loader imports ``pickle_module_name`` from MLmodel; ours never does, even with pickle on."""
    import torch

    site = tmp_path / "site"
    site.mkdir()
    (site / "sec_pickle_module.py").write_text(f"open({str(canary)!r}, 'w')\nfrom pickle import *\n")
    monkeypatch.syspath_prepend(str(site))
    root = tmp_path / "m"
    (root / "data").mkdir(parents=True)
    torch.save(torch.nn.Linear(2, 1), root / "data" / "model.pth")
    write_mlmodel(root, {"pytorch": {"model_data": "data", "pytorch_version": str(torch.__version__),
                                     "pickle_module_name": "sec_pickle_module", "code": None},
                         "python_function": {"loader_module": "mlflow.pytorch", "data": "data",
                                             "pickle_module_name": "sec_pickle_module"}})
    with watching(canary, "sec_pickle_module"):
        model = pyfunc.load_model(root, allow_pickle=True)
    assert model.predict(torch.zeros((1, 2)).numpy()).shape == (1, 1)


# ------------------------------------------------------------------------------------------------
# tureen models inspect: per file, what loading would execute (by content, not by name)


def _executes(root):
    from tureen.cli.models import describe_model

    return {e["path"]: e for e in describe_model(str(root))["executes"]}


def test_inspect_reports_a_renamed_pickle(tmp_path, canary):
    root = _sklearn_pickle_model(tmp_path / "m", exec_pickle(canary), file="weights.bin", fmt="pickle")
    (root / "notes.dat").write_bytes(exec_pickle(canary))  # not named in MLmodel, found by its content
    out = _executes(root)
    assert out["weights.bin"]["gated"] and "pickle" in out["weights.bin"]["executes"]
    assert out["notes.dat"]["gated"] and "pickle" in out["notes.dat"]["executes"]
    assert not canary.exists()


def test_inspect_reports_code_loader_and_compressed_pickles(tmp_path, canary):
    root = custom_model(tmp_path / "m", pickled=gzip.compress(exec_pickle(canary)),
                        code_files={"a.py": "", "b.py": ""}, loader="evil.module",
                        python_model_compression="gzip")
    out = _executes(root)
    assert out["code/"]["executes"].startswith("code/: python modules imported") and out["code/"]["gated"]
    assert "refused at load" in out["MLmodel:python_function.loader_module"]["executes"]
    assert "gzip" in out["python_model.pkl"]["executes"] and out["python_model.pkl"]["gated"]
    assert not canary.exists()


def test_inspect_reports_savedmodel_and_safe_files(tmp_path):
    root = tmp_path / "m"
    (root / "tf2model").mkdir(parents=True)
    (root / "tf2model" / "saved_model.pb").write_bytes(b"\x08\x01")
    (root / "input_example.json").write_text("{}")
    write_mlmodel(root, {"tensorflow": {"saved_model_dir": "tf2model", "model_type": "tf2-module"}})
    out = _executes(root)
    assert out["tf2model/saved_model.pb"]["executes"].startswith("SavedModel: graph ops")
    assert out["input_example.json"] == {"path": "input_example.json", "executes": "none (data)", "gated": False}


def test_inspect_reports_skops_trusted_types(tmp_path):
    from sklearn.linear_model import LinearRegression

    from tureen.flavors import sklearn

    sklearn.save_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), tmp_path / "m")
    out = _executes(tmp_path / "m")
    assert out["model.skops"] == {"path": "model.skops", "executes": "skops: trusted types only", "gated": False}
    assert not out["MLmodel:python_function.loader_module"]["gated"]


def test_inspect_cli_lists_files(tmp_path, canary):
    import subprocess
    from pathlib import Path

    root = _sklearn_pickle_model(tmp_path / "m", exec_pickle(canary))
    repo = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "models", "inspect", str(root)], capture_output=True,
                         text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo),
                                                      "HOME": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    assert "* model.pkl: pickle: arbitrary code" in res.stdout
    assert not canary.exists()


def test_untrusted_loader_never_reaches_a_flavor(tmp_path, canary):
    """The loader_module check comes first: a refused model never has its files read."""
    root = _sklearn_pickle_model(tmp_path / "m", exec_pickle(canary))
    text = (root / "MLmodel").read_text().replace("mlflow.sklearn", "sklearn.externals.evil")
    (root / "MLmodel").write_text(text)
    with watching(canary, "sklearn.externals.evil"):
        with pytest.raises(UntrustedCodeError):
            pyfunc.load_model(root, allow_pickle=True)


def _crafted_skops(tmp_path, canary, monkeypatch):
    """A skops file edited by hand so one object names a type of the attacker's choosing: skops imports the
    type's module to build it, and importing a module runs its code. The module here stands for any module
    with side effects on import that exists on the victim's machine."""
    import zipfile

    from sklearn.linear_model import LinearRegression

    from tureen.flavors import sklearn

    lib = tmp_path / "site"
    lib.mkdir()
    (lib / "evil_side_effects.py").write_text(
        f"open({str(canary)!r}, 'w').write('imported by a skops load')\n"
        "class Anything:\n    pass\n")
    monkeypatch.syspath_prepend(str(lib))
    src = tmp_path / "legit"
    sklearn.save_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), src)
    root = tmp_path / "m"
    root.mkdir()
    with zipfile.ZipFile(src / "model.skops") as zin, zipfile.ZipFile(root / "model.skops", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "schema.json":
                schema = json.loads(data)
                assert schema["__class__"] == "LinearRegression"
                schema["__class__"], schema["__module__"] = "Anything", "evil_side_effects"
                data = json.dumps(schema).encode()
            zout.writestr(item, data)
    conf = _read_yaml(src / "MLmodel")
    write_mlmodel(root, conf["flavors"])
    return root


def _read_yaml(path):
    import yaml

    return yaml.safe_load(path.read_text())


def test_skops_file_naming_an_arbitrary_type_is_gated(tmp_path, canary, monkeypatch):
    from tureen.flavors import sklearn

    root = _crafted_skops(tmp_path, canary, monkeypatch)
    with watching(canary, "evil_side_effects"):
        with pytest.raises(UnsafeDeserializationError, match="evil_side_effects.Anything"):
            pyfunc.load_model(root, allow_pickle=False)
        with pytest.raises(UnsafeDeserializationError):
            sklearn.load_model(root, allow_pickle=False)
        out = _executes(root)
        assert out["model.skops"]["gated"] is True
        assert "evil_side_effects.Anything" in out["model.skops"]["executes"]
    # the payload is real: with the gate open, skops imports the module and it runs
    try:
        sklearn.load_model(root, allow_pickle=True)
    except Exception:  # noqa: BLE001 - the object is no estimator; what matters is that the import ran
        pass
    assert canary.exists()
    sys.modules.pop("evil_side_effects", None)
