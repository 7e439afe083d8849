"""The sklearn flavor: formats, predict functions, the pickle gate, integrity, atomic saves, bad input."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd
import pytest
import yaml

from tureen import flavors, pyfunc
from tureen.exceptions import (InvalidParameterError, ModelFormatError, ModelIntegrityError,
                               ResourceAlreadyExistsError, ResourceNotFoundError, SchemaEnforcementError,
                               UnsafeDeserializationError, UnsupportedModelError)
from tureen.models import infer_signature


def test_save_load_round_trip(saved_sklearn, sk_pipeline, breast_cancer):
    X, _ = breast_cancer
    native = flavors.sklearn.load_model(saved_sklearn)
    np.testing.assert_array_equal(native.predict(X), sk_pipeline.predict(X))
    model = pyfunc.load_model(saved_sklearn)
    np.testing.assert_array_equal(model.predict(X), sk_pipeline.predict(X))
    np.testing.assert_array_equal(pyfunc.load_model(saved_sklearn.as_uri()).predict(X[:3]),
                                  sk_pipeline.predict(X[:3]))


def test_mlmodel_layout_matches_mlflow(saved_sklearn):
    mlmodel = yaml.safe_load((saved_sklearn / "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "skops"
    assert mlmodel["flavors"]["sklearn"]["pickled_model"] == "model.skops"
    pf = mlmodel["flavors"]["python_function"]
    assert pf["loader_module"] == "mlflow.sklearn" and pf["model_path"] == "model.skops"
    assert pf["predict_fn"] == "predict" and pf["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert mlmodel["saved_input_example_info"] == {"artifact_path": "input_example.json", "pandas_orient": "split",
                                                   "serving_input_path": "serving_input_example.json",
                                                   "type": "dataframe"}
    assert mlmodel["model_size_bytes"] > 0
    assert mlmodel["tureen"]["version"]
    assert set(mlmodel["tureen"]["files"]) >= {"model.skops", "requirements.txt", "input_example.json"}
    for name in ("conda.yaml", "python_env.yaml", "requirements.txt", "serving_input_example.json"):
        assert (saved_sklearn / name).exists()


def test_requirements_are_pinned_and_start_with_tureen(saved_sklearn):
    import sklearn
    import tureen

    reqs = (saved_sklearn / "requirements.txt").read_text().split()
    assert reqs[0] == f"tureen=={tureen.__version__}"
    assert f"scikit-learn=={sklearn.__version__}" in reqs
    assert any(r.startswith("skops==") for r in reqs)
    assert any(r.startswith("numpy==") for r in reqs)  # the estimator holds numpy arrays
    env = yaml.safe_load((saved_sklearn / "python_env.yaml").read_text())
    assert env["dependencies"] == ["-r requirements.txt"]


def test_signature_inferred_from_example(saved_sklearn, breast_cancer):
    X, _ = breast_cancer
    sig = pyfunc.load_model(saved_sklearn).metadata.signature
    assert sig.inputs.input_names() == list(X.columns)
    assert sig.outputs.to_dict() == [{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]


def test_schema_errors_name_every_bad_column(saved_sklearn, breast_cancer):
    X, _ = breast_cancer
    bad = X[:2].drop(columns=["mean radius"]).assign(extra=1)
    bad["mean area"] = "big"
    with pytest.raises(SchemaEnforcementError) as info:
        pyfunc.load_model(saved_sklearn).predict(bad)
    text = str(info.value)
    assert "missing inputs ['mean radius']" in text and "extra inputs ['extra']" in text and "'mean area'" in text


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle"])
def test_pickle_formats_and_the_gate(tmp_path, sk_pipeline, breast_cancer, fmt, monkeypatch):
    X, _ = breast_cancer
    path = tmp_path / fmt
    flavors.sklearn.save_model(sk_pipeline, path, serialization_format=fmt)
    assert (path / "model.pkl").exists()
    np.testing.assert_array_equal(pyfunc.load_model(path).predict(X[:5]), sk_pipeline.predict(X[:5]))
    with pytest.raises(UnsafeDeserializationError, match="pickle"):
        pyfunc.load_model(path, allow_pickle=False)
    monkeypatch.setenv("TUREEN_ALLOW_PICKLE", "false")
    with pytest.raises(UnsafeDeserializationError):
        flavors.sklearn.load_model(path)
    # the caller's explicit word wins over configuration; the artifact never decides
    assert flavors.sklearn.load_model(path, allow_pickle=True) is not None


def test_skops_loads_with_pickle_turned_off(saved_sklearn, monkeypatch):
    monkeypatch.setenv("TUREEN_ALLOW_PICKLE", "false")
    assert pyfunc.load_model(saved_sklearn) is not None


class _Custom:  # a type outside skops' trusted set
    def __init__(self):
        self.k = 2


def test_untrusted_skops_types_fall_back_to_cloudpickle(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    model = FunctionTransformer(np.log1p).fit(np.ones((2, 2)))
    model.extra_ = _Custom()
    with pytest.warns(UserWarning, match="cloudpickle"):
        flavors.sklearn.save_model(model, tmp_path / "m")
    conf = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())["flavors"]["sklearn"]
    assert conf["serialization_format"] == "cloudpickle"
    with pytest.raises(InvalidParameterError, match="untrusted"):
        flavors.sklearn.save_model(model, tmp_path / "m2", serialization_format="skops")
    assert not (tmp_path / "m2").exists()


def test_predict_fn_option(tmp_path, sk_pipeline, breast_cancer):
    X, _ = breast_cancer
    flavors.sklearn.save_model(sk_pipeline, tmp_path / "p", pyfunc_predict_fn="predict_proba")
    np.testing.assert_allclose(pyfunc.load_model(tmp_path / "p").predict(X[:4]), sk_pipeline.predict_proba(X[:4]))
    with pytest.raises(InvalidParameterError, match="Unknown pyfunc_predict_fn"):
        flavors.sklearn.save_model(sk_pipeline, tmp_path / "q", pyfunc_predict_fn="transform")


def test_saving_into_non_empty_dir_is_refused(tmp_path, sk_pipeline):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(ResourceAlreadyExistsError, match="not empty"):
        flavors.sklearn.save_model(sk_pipeline, tmp_path / "x")
    assert os.listdir(tmp_path / "x") == ["keep.txt"]


def test_empty_existing_dir_is_fine(tmp_path, sk_pipeline):
    (tmp_path / "e").mkdir()
    flavors.sklearn.save_model(sk_pipeline, tmp_path / "e")
    assert (tmp_path / "e" / "MLmodel").exists()


def test_unsupported_objects_name_what_fits(tmp_path):
    with pytest.raises(UnsupportedModelError, match="wrap them in a tureen.pyfunc.PythonModel"):
        flavors.sklearn.save_model(object(), tmp_path / "o")
    from sklearn.linear_model import LinearRegression

    with pytest.raises(UnsupportedModelError, match="instance"):
        flavors.sklearn.save_model(LinearRegression, tmp_path / "c")
    assert list(tmp_path.iterdir()) == []


def test_signature_not_matching_example_writes_nothing(tmp_path, sk_pipeline, breast_cancer):
    X, _ = breast_cancer
    sig = infer_signature(X[["mean radius"]])
    with pytest.raises(InvalidParameterError, match="signature does not match the input example"):
        flavors.sklearn.save_model(sk_pipeline, tmp_path / "s", signature=sig, input_example=X[:2])
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_save_leaves_nothing(tmp_path, sk_pipeline, monkeypatch):
    import tureen.env

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(tureen.env, "write_environment", boom)
    with pytest.raises(OSError, match="disk full"):
        flavors.sklearn.save_model(sk_pipeline, tmp_path / "half")
    assert list(tmp_path.iterdir()) == []


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_tampered_truncated_added_and_missing_files_are_refused(tmp_path, saved_sklearn):
    t = _copy(saved_sklearn, tmp_path / "t")
    data = (t / "model.skops").read_bytes()
    (t / "model.skops").write_bytes(data[:-10])
    with pytest.raises(ModelIntegrityError, match="model.skops: content differs"):
        pyfunc.load_model(t)
    a = _copy(saved_sklearn, tmp_path / "a")
    (a / "evil.py").write_text("print('hi')")
    with pytest.raises(ModelIntegrityError, match="evil.py: not part of the saved model"):
        flavors.sklearn.load_model(a)
    m = _copy(saved_sklearn, tmp_path / "m")
    (m / "requirements.txt").unlink()
    with pytest.raises(ModelIntegrityError, match="requirements.txt: missing"):
        pyfunc.load_model(m)
    # verification can be skipped explicitly; a missing data file is then a format error
    d = _copy(saved_sklearn, tmp_path / "d")
    (d / "model.skops").unlink()
    with pytest.raises(ModelFormatError, match="model.skops' is missing"):
        pyfunc.load_model(d, verify=False)


def test_loading_bad_locations(tmp_path):
    with pytest.raises(ResourceNotFoundError, match="does not exist"):
        pyfunc.load_model(tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(ResourceNotFoundError, match="is a file"):
        pyfunc.load_model(tmp_path / "f.txt")
    with pytest.raises(ModelFormatError, match="No MLmodel file"):
        pyfunc.load_model(tmp_path)
    with pytest.raises(InvalidParameterError, match="Unsupported model URI scheme 's3'"):
        pyfunc.load_model("s3://bucket/model")


def test_unknown_flavor_and_loader(tmp_path):
    from tureen.models import Model

    Model(flavors={"weird": {}}).save(_mk(tmp_path / "w"))
    with pytest.raises(ResourceNotFoundError, match="no python_function flavor"):
        pyfunc.load_model(tmp_path / "w")
    Model(flavors={"python_function": {"loader_module": "no_such_module_xyz"}}).save(_mk(tmp_path / "l"))
    # an unknown loader module is refused by the gate's allow-list, never imported
    from tureen.exceptions import UntrustedCodeError

    with pytest.raises(UntrustedCodeError, match="no_such_module_xyz"):
        pyfunc.load_model(tmp_path / "l")


def _mk(p):
    p.mkdir()
    return p


def test_corrupt_pickle_is_a_format_error(tmp_path, sk_pipeline):
    flavors.sklearn.save_model(sk_pipeline, tmp_path / "c", serialization_format="pickle")
    (tmp_path / "c" / "model.pkl").write_bytes(pickle.dumps(1)[:3])
    with pytest.raises(ModelFormatError, match="cannot be loaded"):
        pyfunc.load_model(tmp_path / "c", verify=False)


def test_environment_mismatch_warns(tmp_path, saved_sklearn):
    t = _copy(saved_sklearn, tmp_path / "env")
    reqs = (t / "requirements.txt").read_text().replace("scikit-learn==", "scikit-learn==0.0.1+")
    (t / "requirements.txt").write_text(reqs)
    with pytest.warns(UserWarning, match="scikit-learn 0.0.1"):
        pyfunc.load_model(t, verify=False)


def test_pyfunc_overhead_fast_path_returns_same_frame(saved_sklearn, breast_cancer):
    """The common case (a conforming DataFrame) reaches the model without a copy."""
    X, _ = breast_cancer
    seen = []
    model = pyfunc.load_model(saved_sklearn)
    raw = model.get_raw_model()
    original = raw.predict
    raw.predict = lambda df: (seen.append(df), original(df))[1]
    row = X[:1]
    model.predict(row)
    assert seen[0] is row


def test_code_paths_and_extra_files(tmp_path, sk_pipeline):
    helper = tmp_path / "helper_mod.py"
    helper.write_text("VALUE = 41\n")
    extra = tmp_path / "notes.txt"
    extra.write_text("hello")
    flavors.sklearn.save_model(sk_pipeline, tmp_path / "cp", code_paths=[helper], extra_files=[extra],
                               metadata={"owner": "team-a"})
    conf = yaml.safe_load((tmp_path / "cp" / "MLmodel").read_text())
    assert conf["flavors"]["sklearn"]["code"] == "code"
    assert conf["flavors"]["sklearn"]["extra_files"] == [{"path": "extra_files/notes.txt"}]
    assert conf["metadata"] == {"owner": "team-a"}
    import sys

    path_before = list(sys.path)
    model = pyfunc.load_model(tmp_path / "cp")
    # the code directory is copied into the model, and is on sys.path only while the model loads
    assert (tmp_path / "cp" / "code" / "helper_mod.py").read_text() == "VALUE = 41\n"
    assert sys.path == path_before and "helper_mod" not in sys.modules
    assert model.metadata.metadata == {"owner": "team-a"}
    with pytest.raises(InvalidParameterError, match="does not exist"):
        flavors.sklearn.save_model(sk_pipeline, tmp_path / "cp2", code_paths=[tmp_path / "missing.py"])
    assert not (tmp_path / "cp2").exists()


def test_user_requirements_override(tmp_path, sk_pipeline):
    flavors.sklearn.save_model(sk_pipeline, tmp_path / "r1", pip_requirements=["scikit-learn", "foo==1"])
    assert (tmp_path / "r1" / "requirements.txt").read_text().split() == ["scikit-learn", "foo==1"]
    flavors.sklearn.save_model(sk_pipeline, tmp_path / "r2", extra_pip_requirements=["foo==1"])
    assert (tmp_path / "r2" / "requirements.txt").read_text().split()[-1] == "foo==1"
    with pytest.raises(InvalidParameterError, match="either pip_requirements or extra_pip_requirements"):
        flavors.sklearn.save_model(sk_pipeline, tmp_path / "r3", pip_requirements=["a"],
                                   extra_pip_requirements=["b"])
    assert not (tmp_path / "r3").exists()


def test_input_example_reads_back(saved_sklearn, breast_cancer):
    X, _ = breast_cancer
    ex = pyfunc.load_model(saved_sklearn).input_example
    pd.testing.assert_frame_equal(ex, X[:5].reset_index(drop=True))
