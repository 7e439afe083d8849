"""The conformance suite: every check runs on every flavor case in ``cases/``.

save -> load round trip, pyfunc equality, MLmodel keys, pinned requirements, signature inference, extra
files / code paths / metadata, MLflow interop both ways (every format MLflow 3.x writes), the unsafe gate,
integrity, bad input, the framework-version warning, import laziness, log_model, serve and score over HTTP.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from cases import FlavorCase, as_numpy
from flavor_support import CASES, case_params, write_data

from tureen import pyfunc
from tureen.exceptions import (InvalidParameterError, ModelIntegrityError, TureenError,
                               UnsafeDeserializationError, UnsupportedModelError)
from tureen.models import Model

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.parametrize("case", case_params())


def _close(a, b, case: FlavorCase) -> None:
    np.testing.assert_allclose(as_numpy(a).ravel(), as_numpy(b).ravel(), rtol=case.rtol, atol=case.rtol)


def _mlmodel(path: Path) -> dict:
    return yaml.safe_load((path / "MLmodel").read_text())


# ------------------------------------------------------------------------------------------------
# save, load, pyfunc


def test_round_trip_native(case, built, saved):
    b = built(case)
    path = saved(case)
    if case.module == "tureen.pyfunc.model":
        loaded = pyfunc.load_model(path).unwrap_python_model()
    else:
        loaded = case.load_native(path)
    _close(case.native_predict(loaded, b.X), case.native_predict(b.model, b.X), case)


def test_pyfunc_equals_native(case, built, saved):
    b = built(case)
    model = pyfunc.load_model(saved(case))
    _close(model.predict(b.X), case.native_predict(b.model, b.X), case)
    raw = model.get_raw_model()
    assert raw is not None and raw is not model
    example = model.input_example
    assert example is not None
    assert len(as_numpy(model.predict(example)).reshape(len(example), -1)) == len(example)


def test_mlmodel_sections(case, saved):
    meta = _mlmodel(saved(case))
    flavors = meta["flavors"]
    assert case.section in flavors, flavors
    assert case.keys <= set(flavors[case.section]), set(flavors[case.section])
    conf = flavors["python_function"]
    assert conf["loader_module"] == case.loader_module
    assert conf["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert conf["python_version"].count(".") == 2
    for f in ("MLmodel", "requirements.txt", "python_env.yaml", "conda.yaml", "input_example.json",
              "serving_input_example.json"):
        assert (saved(case) / f).is_file(), f
    assert meta["tureen"]["files"], "file digests recorded"


def test_requirements_pinned(case, saved):
    from tureen.env import _version, read_requirements

    reqs = read_requirements(saved(case))
    assert reqs[0].startswith("tureen==")
    if case.requirement:
        want = f"{case.requirement}=={_version(case.requirement)}"
        assert want in reqs, reqs
    conda = yaml.safe_load((saved(case) / "conda.yaml").read_text())
    assert conda["dependencies"][-1]["pip"] == reqs


def test_signature_inferred_from_example(case, built, saved):
    from tureen.models.signature import infer_schema

    b = built(case)
    sig = Model.load(saved(case)).signature
    assert sig is not None and sig.outputs is not None
    assert sig.inputs == infer_schema(b.example)


def test_extra_files_code_paths_metadata(case, built, tmp_path):
    b = built(case)
    extra = tmp_path / "notes.txt"
    extra.write_text("trained on tiny data")
    code = tmp_path / "helpers_for_model.py"
    code.write_text("VALUE = 42\n")
    kw = {"code_paths": [str(code)], "metadata": {"owner": "ml-team"}}
    if case.module != "tureen.pyfunc.model":
        kw["extra_files"] = [str(extra)]
    path = tmp_path / "m"
    case.save(b.model, path, **kw, input_example=b.example, pip_requirements=["custom-req==1.0"])
    meta = Model.load(path)
    assert meta.metadata == {"owner": "ml-team"}
    assert (path / "code" / "helpers_for_model.py").is_file()
    assert meta.flavors["python_function"]["code"] == "code"
    if "extra_files" in kw:
        assert meta.flavors[case.section]["extra_files"] == [{"path": "extra_files/notes.txt"}]
        assert (path / "extra_files" / "notes.txt").read_text() == "trained on tiny data"
    assert (path / "requirements.txt").read_text().split() == ["custom-req==1.0"]
    _close(pyfunc.load_model(path).predict(b.X), case.native_predict(b.model, b.X), case)


# ------------------------------------------------------------------------------------------------
# MLflow interop, both ways


@pytest.mark.mlflow
def test_mlflow_saved_models_load_in_tureen(case, built, in_mlflow, tmp_path):
    if not case.mlflow_save:
        pytest.skip(f"MLflow's formats for {case.section} are covered by the flavor's primary case" if case.mlflow_load
                    else f"MLflow 3.x has no {case.section} flavor to save the model with")
    b = built(case)
    write_data(tmp_path, b.X, b.y)
    expected = in_mlflow(case.mlflow_save, tmp_path, "-")
    assert expected, "the MLflow side saved no model"
    for fmt, want in expected.items():
        path = tmp_path / fmt
        assert Model.load(path).mlflow_version == "3.17.2"
        got = pyfunc.load_model(path).predict(b.X)
        np.testing.assert_allclose(as_numpy(got).ravel(), np.asarray(want["pyfunc"]).ravel(), rtol=1e-5,
                                   atol=1e-5, err_msg=f"pyfunc of MLflow's {fmt} model")
        if case.module != "tureen.pyfunc.model":
            native = case.load_native(path)
            np.testing.assert_allclose(as_numpy(case.native_predict(native, b.X)).ravel(),
                                       np.asarray(want["native"]).ravel(), rtol=1e-5, atol=1e-5,
                                       err_msg=f"native load of MLflow's {fmt} model")


@pytest.mark.mlflow
def test_tureen_saved_models_load_in_mlflow(case, built, saved, in_mlflow, tmp_path):
    if not case.mlflow_load:
        pytest.skip(f"MLflow 3.x has no {case.section} flavor to load the model with")
    b = built(case)
    write_data(tmp_path, b.X, b.y)
    out = in_mlflow(case.mlflow_load, tmp_path, saved(case), REPO, HERE)
    expected = case.native_predict(b.model, b.X)
    _close(out["native"], expected, case)
    _close(out["pyfunc"], expected, case)


# ------------------------------------------------------------------------------------------------
# safety


def test_unsafe_gate(case, built, saved, tmp_path, monkeypatch):
    b = built(case)
    if case.pickle_kw != {}:  # the default format is pickle-free: it loads with pickle turned off
        model = pyfunc.load_model(saved(case), allow_pickle=False)
        _close(model.predict(b.X), case.native_predict(b.model, b.X), case)
        monkeypatch.setenv("TUREEN_ALLOW_PICKLE", "false")
        pyfunc.load_model(saved(case))
        monkeypatch.delenv("TUREEN_ALLOW_PICKLE")
    if case.pickle_kw is None:
        return
    path = saved(case) if case.pickle_kw == {} else tmp_path / "pickled"
    if case.pickle_kw:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case.save(b.model, path, **case.pickle_kw)
    with pytest.raises(UnsafeDeserializationError):
        pyfunc.load_model(path, allow_pickle=False)
    monkeypatch.setenv("TUREEN_ALLOW_PICKLE", "false")
    with pytest.raises(UnsafeDeserializationError):
        pyfunc.load_model(path)
    if case.module != "tureen.pyfunc.model":
        with pytest.raises(UnsafeDeserializationError):
            case.load_native(path)
    _close(pyfunc.load_model(path, allow_pickle=True).predict(b.X), case.native_predict(b.model, b.X), case)


def test_tampered_model_is_refused(case, saved, tmp_path):
    path = tmp_path / "copy"
    shutil.copytree(saved(case), path)
    target = path / case.data_file
    assert target.is_file(), f"{case.data_file} missing from {sorted(p.name for p in path.iterdir())}"
    with open(target, "ab") as f:
        f.write(b"\x00tampered")
    with pytest.raises(ModelIntegrityError, match=case.data_file.rsplit("/", 1)[-1]):
        pyfunc.load_model(path)
    if case.module != "tureen.pyfunc.model":
        with pytest.raises(ModelIntegrityError):
            case.load_native(path)


def test_bad_input_is_a_typed_error(case, built, saved, tmp_path):
    b = built(case)
    model = pyfunc.load_model(saved(case))
    for bad in (case.bad_dtype, case.bad_shape):
        with pytest.raises(InvalidParameterError) as info:
            model.predict(bad(b.X))
        assert info.value.http_status == 400 and "Traceback" not in info.value.message
    if case.typed_framework_errors:
        # without a signature, the flavor itself turns the framework's complaint into a typed error
        path = tmp_path / "nosig"
        case.save(b.model, path, signature=False, input_example=b.example)
        impl = pyfunc.load_model(path)
        with pytest.raises(TureenError) as info:
            impl.predict(case.bad_shape(b.X))
        assert isinstance(info.value, InvalidParameterError), type(info.value)
    if case.unsupported is not None:
        obj, word = case.unsupported
        with pytest.raises(UnsupportedModelError, match=word):
            case.save(obj, tmp_path / "unsupported")
        assert not (tmp_path / "unsupported").exists()


def test_framework_version_mismatch_warns(case, saved, tmp_path):
    if not case.version_key:
        pytest.skip("no framework version recorded by this flavor")
    path = tmp_path / "old"
    shutil.copytree(saved(case), path)
    meta = Model.load(path)
    meta.flavors[case.section][case.version_key] = "0.0.1"
    from tureen.flavors._integrity import seal_model_dir

    seal_model_dir(path, meta)  # the MLmodel is digested too: record the edited one's digests
    with pytest.warns(UserWarning, match="0.0.1"):
        if case.module == "tureen.pyfunc.model":
            pyfunc.load_model(path)
        else:
            case.load_native(path)


def test_import_does_not_import_framework(case):
    if not case.framework:
        pytest.skip("no framework")
    code = (f"import sys, {case.module}\n"
            f"print('{case.framework}' in sys.modules or any(m.startswith('{case.framework}.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", f"import {case.module} imported {case.framework}"


# ------------------------------------------------------------------------------------------------
# tracking and serving


def test_log_model_and_load_by_uri(case, built, tmp_path, monkeypatch):
    pytest.importorskip("tureen.tracking._log_model")
    import tureen

    b = built(case)
    monkeypatch.setenv("TUREEN_TRACKING_URI", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("TUREEN_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    with tureen.start_run() as run:
        info = case.log(b.model, input_example=b.example)
    assert info.model_uri.startswith("models:/m-")
    for uri in (info.model_uri, f"runs:/{run.info.run_id}/model"):
        _close(pyfunc.load_model(uri).predict(b.X), case.native_predict(b.model, b.X), case)


def test_serve_and_score(case, built, saved, served):
    import requests

    b = built(case)
    url = served(case)
    body = json.loads((saved(case) / "serving_input_example.json").read_text())
    r = requests.post(f"{url}/invocations", json=body, timeout=60)
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    expected = case.native_predict(b.model, b.example)
    values = [list(p.values())[0] if isinstance(p, dict) else p for p in preds]
    _close(np.asarray(values, dtype=float), expected, case)
    bad = requests.post(f"{url}/invocations", json={"dataframe_split": {"columns": ["nope"], "data": [[1]]}}
                        if "dataframe_split" in body else {"inputs": [[[["deep"]]]]}, timeout=60)
    assert 400 <= bad.status_code < 500 and "Traceback" not in bad.text
    assert "error_code" in bad.json()
