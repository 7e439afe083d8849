"""ONNX specifics beyond the conformance suite: hostile external-data references, execution providers and
session options (recorded at save, overridden by the caller at load), and the serving block path."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from cases import onnx as onnx_case

from tureen import pyfunc
from tureen.exceptions import InvalidParameterError, ModelFormatError
from tureen.flavors import onnx as tonnx


@pytest.fixture(scope="module")
def built():
    return onnx_case._build()


@pytest.fixture(scope="module")
def external(built, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "ext"
    tonnx.save_model(built.model, path, save_as_external_data=True, input_example=built.example)
    return path


def _rewrite_location(path, location=None, length=None):
    """Point the model's first external tensor at another file / length (then drop the digests: this is
    about what the loader itself refuses, not the integrity check)."""
    import onnx

    proto = onnx.load(str(path / "model.onnx"), load_external_data=False)
    for tensor in proto.graph.initializer:
        entries = {e.key: e for e in tensor.external_data}
        if entries:
            if location is not None:
                entries["location"].value = location
            if length is not None:
                entries["length"].value = str(length)
            break
    (path / "model.onnx").write_bytes(proto.SerializeToString())


def test_external_data_saved_and_not_mutating_the_callers_model(built, external):
    assert (external / "model.onnx.data").stat().st_size > 2000
    # the proto passed to save_model still holds its weights
    assert all(t.data_location == 0 for t in built.model.graph.initializer)
    got = pyfunc.load_model(external).predict(built.X)
    np.testing.assert_allclose(got["score"].to_numpy(), onnx_case.run_onnx(built.model, built.X).ravel(), rtol=1e-5)


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "missing.bin"])
def test_external_data_outside_the_model_is_refused(external, tmp_path, location):
    path = tmp_path / "m"
    shutil.copytree(external, path)
    (tmp_path / "outside.bin").write_bytes(b"\0" * 10_000)
    _rewrite_location(path, location=location)
    for load in (lambda: pyfunc.load_model(path, verify=False), lambda: tonnx.load_model(path, verify=False)):
        with pytest.raises(ModelFormatError, match="external data"):
            load()


def test_external_data_reading_past_its_file_is_refused(external, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(external, path)
    _rewrite_location(path, length=10**12)
    with pytest.raises(ModelFormatError, match="past the end"):
        pyfunc.load_model(path, verify=False)


def test_providers_and_session_options(built, tmp_path):
    path = tmp_path / "m"
    tonnx.save_model(built.model, path, onnx_execution_providers=["CPUExecutionProvider"],
                     onnx_session_options={"intra_op_num_threads": 1, "execution_mode": "sequential"},
                     input_example=built.example)
    conf = yaml.safe_load((path / "MLmodel").read_text())["flavors"]["onnx"]
    assert conf["providers"] == ["CPUExecutionProvider"]
    assert conf["onnx_session_options"] == {"intra_op_num_threads": 1, "execution_mode": "sequential"}
    model = pyfunc.load_model(path)
    assert model.get_raw_model().get_providers() == ["CPUExecutionProvider"]
    # an unavailable provider named by the caller falls back to the CPU
    override = pyfunc.load_model(path, model_config={"providers": ["NoSuchExecutionProvider"],
                                                      "session_options": {"intra_op_num_threads": 2}})
    assert override.get_raw_model().get_providers() == ["CPUExecutionProvider"]
    with pytest.raises(InvalidParameterError, match="intra_op_num_threads"):
        pyfunc.load_model(path, model_config={"session_options": {"intra_op_num_threads": -3}})
    with pytest.raises(InvalidParameterError, match="Unknown onnx_session_options"):
        tonnx.save_model(built.model, tmp_path / "bad", onnx_session_options={"custom_op_library": "/x.so"})
    assert not (tmp_path / "bad").exists()


def _rewrite_mlmodel(path, data):
    """Edit MLmodel as a crafted artifact would, digests recomputed (else the integrity check stops it first)."""
    from tureen.flavors._integrity import seal_model_dir
    from tureen.models import Model

    (path / "MLmodel").write_text(yaml.safe_dump(data))
    seal_model_dir(path, Model.load(path))


def test_settings_in_the_artifact_are_checked(external, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(external, path)
    meta = yaml.safe_load((path / "MLmodel").read_text())
    meta["flavors"]["onnx"]["onnx_session_options"] = {"intra_op_num_threads": 10**9}
    _rewrite_mlmodel(path, meta)
    with pytest.raises(ModelFormatError, match="intra_op_num_threads"):
        pyfunc.load_model(path)
    meta["flavors"]["onnx"]["onnx_session_options"] = {"extra_session_config": {"session.x": "1"}}
    _rewrite_mlmodel(path, meta)
    with pytest.warns(UserWarning, match="extra_session_config"):
        pyfunc.load_model(path)


def test_block_path_answers_like_the_dataframe(built, external):
    model = pyfunc.load_model(external)
    block = model._block_predictor()
    assert block is not None
    frame = built.X.head(3)
    assert block(frame.to_numpy()).equals(model.predict(frame))
