"""Class 4 of issue 12: nothing a model names can make tureen read a file outside the model directory.

The attacker here can rewrite the whole directory, digests included (``reseal``), so these defences hold on
their own, independent of integrity: every path the MLmodel names is confined (absolute, ``..``, drive and
UNC paths, NUL bytes, symlinks on the way), the scoring server never serves a file from outside, and the
Docker context and Spark archive refuse symlinks instead of copying what they point at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from security._crafted import Canary, copy_model, read_mlmodel, reseal, write_mlmodel
from tureen.exceptions import ModelFormatError, ModelPathError


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A custom model with an artifact and an input example: every kind of path MLmodel can name."""
    import tureen.pyfunc

    src = tmp_path_factory.mktemp("art")
    (src / "vocab.txt").write_text("a b c")
    path = tmp_path_factory.mktemp("pristine") / "model"
    tureen.pyfunc.save_model(path, python_model=_Reader(), artifacts={"vocab": str(src / "vocab.txt")},
                             input_example=_example())
    return path


import tureen.pyfunc  # noqa: E402


def _example():  # noqa: ANN202
    import pandas as pd

    return pd.DataFrame({"a": [1.0], "b": [2.0]})


class _Reader(tureen.pyfunc.PythonModel):
    """Returns its artifact's content: a model that would hand a leaked file straight back."""

    def load_context(self, context):  # noqa: ANN001
        self.text = Path(context.artifacts["vocab"]).read_text()

    def predict(self, context, model_input, params=None):  # noqa: ANN001
        return [self.text]


@pytest.fixture()
def model(pristine: Path, tmp_path: Path) -> Path:
    return copy_model(pristine, tmp_path / "victim")


@pytest.fixture()
def canary(tmp_path: Path) -> Canary:
    return Canary(tmp_path / "outside")


def _craft(root: Path, edit) -> None:  # noqa: ANN001
    data = read_mlmodel(root)
    edit(data)
    write_mlmodel(root, data)
    reseal(root)  # digests consistent again: only the path checks stand in the way


def _refused(root: Path, canary: Canary, match: str, **kw) -> None:
    with pytest.raises(ModelPathError, match=match) as exc:
        tureen.pyfunc.load_model(str(root), **kw)
    canary.assert_not_in(str(exc.value))


def _rel_to(root: Path, target: Path) -> str:
    import os

    return os.path.relpath(target, root)


def test_pristine_model_loads(model: Path) -> None:
    assert tureen.pyfunc.load_model(str(model)).predict(_example()) == ["a b c"]


@pytest.mark.parametrize("verify", [True, False])
def test_absolute_artifact_path_is_refused(model: Path, canary: Canary, verify: bool) -> None:
    _craft(model, lambda d: d["flavors"]["python_function"]["artifacts"]["vocab"].update(path=str(canary.path)))
    _refused(model, canary, "absolute paths are not allowed", verify=verify)


def test_dotdot_artifact_path_is_refused(model: Path, canary: Canary) -> None:
    rel = _rel_to(model, canary.path)
    assert rel.startswith("..")
    _craft(model, lambda d: d["flavors"]["python_function"]["artifacts"]["vocab"].update(path=rel))
    _refused(model, canary, r"'\.\.' is not allowed")


def test_dotdot_hidden_inside_a_path_is_refused(model: Path, canary: Canary) -> None:
    rel = "artifacts/../../" + _rel_to(model.parent, canary.path)
    _craft(model, lambda d: d["flavors"]["python_function"].update(python_model=rel))
    _refused(model, canary, r"'\.\.' is not allowed")


@pytest.mark.parametrize("value", ["C:\\secret.json", "\\\\server\\share\\secret", "~/secret.json",
                                   "python_model.pkl\x00.txt", ["python_model.pkl"], ""])
def test_odd_path_values_are_refused(model: Path, canary: Canary, value) -> None:  # noqa: ANN001
    _craft(model, lambda d: d["flavors"]["python_function"].update(data=value))
    _refused(model, canary, "MLmodel names|leaves the model directory")


def test_input_example_outside_is_refused(model: Path, canary: Canary) -> None:
    _craft(model, lambda d: d["saved_input_example_info"].update(artifact_path=str(canary.path)))
    _refused(model, canary, "saved_input_example_info.artifact_path")
    from tureen.models.example import load_example

    with pytest.raises(ModelPathError):
        load_example(model, {"type": "json_object", "artifact_path": str(canary.path)})


def test_serving_input_path_outside_is_refused_at_load(model: Path, canary: Canary) -> None:
    _craft(model, lambda d: d["saved_input_example_info"].update(serving_input_path="../outside/secret.json"))
    _refused(model, canary, "saved_input_example_info.serving_input_path")


def test_server_never_serves_a_file_outside(model: Path, canary: Canary) -> None:
    """Even given a model whose metadata was changed after it was loaded, /metadata and /openapi.json
    never contain a file from outside the model directory."""
    from tureen.serving.app import create_app

    loaded = tureen.pyfunc.load_model(str(model))
    loaded.metadata.saved_input_example_info["serving_input_path"] = str(canary.path)
    client = create_app(loaded).test_client()
    for url in ("/metadata", "/openapi.json", "/v2/models/model", "/version", "/health"):
        resp = client.get(url)
        canary.assert_not_in(resp.get_data())
    loaded.metadata.saved_input_example_info["serving_input_path"] = "../outside/secret.json"
    client = create_app(loaded).test_client()
    canary.assert_not_in(client.get("/metadata").get_data(), client.get("/openapi.json").get_data())


def test_flavor_data_key_outside_is_refused_before_the_flavor_runs(model: Path, canary: Canary) -> None:
    def edit(d):  # noqa: ANN001, ANN202
        d["flavors"]["pytorch"] = {"model_data": "../outside", "pytorch_version": "0"}
        d["flavors"]["python_function"].update(loader_module="tureen.flavors.pytorch", data="data")

    _craft(model, edit)
    _refused(model, canary, "flavors.pytorch.model_data")


def test_extra_files_outside_are_refused(model: Path, canary: Canary) -> None:
    _craft(model, lambda d: d["flavors"]["python_function"].update(extra_files=[{"path": str(canary.path)}]))
    _refused(model, canary, "extra_files")


def test_confined_path_refuses_a_symlink_on_the_way(tmp_path: Path, canary: Canary) -> None:
    from tureen.models._paths import confined_path

    root = tmp_path / "m"
    (root / "data").mkdir(parents=True)
    (root / "data" / "link").symlink_to(canary.path.parent, target_is_directory=True)
    with pytest.raises(ModelPathError, match="passes through the symlink 'data/link'"):
        confined_path(root, "data/link/secret.json", "data file")
    assert confined_path(root, "data", "data dir") == (root / "data").resolve()
    with pytest.raises(ModelFormatError, match="missing"):
        confined_path(root, "data/nothing", "data file")


def test_docker_context_refuses_a_symlink_out(model: Path, canary: Canary, tmp_path: Path) -> None:
    from tureen.docker._context import write_context

    (model / "requirements.txt").unlink()
    (model / "requirements.txt").symlink_to(canary.path)  # would be read into the image's pins
    target = tmp_path / "ctx"
    target.mkdir()
    with pytest.raises(ModelPathError, match="requirements.txt' is a symlink") as exc:
        write_context(model, target, model_label="m")
    canary.assert_not_in(str(exc.value))
    assert list(target.iterdir()) == []  # refused before anything was written
    for p in tmp_path.rglob("*"):
        if p.is_file() and not p.is_symlink() and p != canary.path:
            canary.assert_not_in(p.read_bytes())


def test_spark_archive_refuses_a_symlink_out(model: Path, canary: Canary) -> None:
    import tarfile

    from tureen.pyfunc import spark

    (model / "artifacts" / "secret.json").symlink_to(canary.path)
    with pytest.raises(ModelPathError, match="symlink"):
        spark._write_archive(model, "hostile-symlink-test")
    archive = spark._archive_dir() / "tureen-model-hostile-symlink-test.tar"
    assert not archive.exists() and not archive.with_suffix(".tar.partial").exists()
    # and the driver's fingerprint (taken before shipping) refuses it too
    with pytest.raises(ModelPathError):
        spark._model_fingerprint(model)
    del tarfile


def test_inspect_reads_nothing_through_a_symlink(model: Path, canary: Canary) -> None:
    import contextlib
    import io

    from tureen.cli import main

    (model / "requirements.txt").unlink()
    (model / "requirements.txt").symlink_to(canary.path)
    for argv in (["models", "inspect", str(model)], ["models", "inspect", str(model), "--json"]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            with pytest.raises(SystemExit):
                main(argv)
        assert "FAILED" in out.getvalue() and "symlink" in out.getvalue()
        canary.assert_not_in(out.getvalue())
