"""Class 3 of issue 12: integrity covers every byte, the MLmodel file included.

Each test copies one pristine model saved by tureen, tampers with it as an attacker with write access to the
directory (but not to the digests' secret, since there is none) would, and asserts the typed error, that the
`tureen models verify` command exits 1 naming the problem, and that the canary secret outside never leaks.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from security._crafted import Canary, copy_model, read_mlmodel, write_mlmodel
from tureen.exceptions import (InvalidParameterError, ModelIntegrityError, ModelPathError, UnverifiedModelError,
                               UnverifiedModelWarning)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A custom Python model with a code/ directory (so there is code an attacker would like to swap)."""
    import tureen.pyfunc

    src = tmp_path_factory.mktemp("src")
    (src / "doubler_code.py").write_text(
        "import tureen.pyfunc\n\n"
        "class Doubler(tureen.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return [2 * x for x in model_input]\n")
    import sys

    sys.path.insert(0, str(src))
    try:
        import doubler_code

        path = tmp_path_factory.mktemp("pristine") / "model"
        tureen.pyfunc.save_model(path, python_model=doubler_code.Doubler(), code_paths=[str(src / "doubler_code.py")])
    finally:
        sys.path.remove(str(src))
        sys.modules.pop("doubler_code", None)
    return path


@pytest.fixture()
def model(pristine: Path, tmp_path: Path) -> Path:
    return copy_model(pristine, tmp_path / "victim")


@pytest.fixture()
def canary(tmp_path: Path) -> Canary:
    return Canary(tmp_path / "outside")


def _verify_cli(root: Path) -> tuple[int, str]:
    """``tureen models verify ROOT`` in-process: (exit code, stdout + stderr)."""
    import contextlib
    import io

    from tureen.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        with pytest.raises(SystemExit) as exc:
            main(["models", "verify", str(root)])
    return int(exc.value.code), out.getvalue() + err.getvalue()


def _load(root: Path, **kw):
    import tureen.pyfunc

    return tureen.pyfunc.load_model(str(root), **kw)


def _refused(root: Path, error: type[Exception], match: str, canary: Canary | None = None) -> None:
    with pytest.raises(error, match=match) as exc:
        _load(root)
    code, text = _verify_cli(root)
    assert code == 1, text
    assert "Traceback" not in text and text.startswith("Error (")
    if canary is not None:
        canary.assert_not_in(str(exc.value), text)


def test_pristine_model_verifies_and_records_every_file(model: Path) -> None:
    data = read_mlmodel(model)
    recorded = data["tureen"]["files"]
    on_disk = sorted(p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file())
    assert sorted(recorded) == [p for p in on_disk if p != "MLmodel"]
    assert data["tureen"]["mlmodel"].startswith("sha256:")
    assert _load(model).predict([1, 2]) == [2, 4]
    code, text = _verify_cli(model)
    assert code == 0 and "MLmodel included" in text
    # loading wrote no bytecode cache into the model directory: it still verifies
    assert not list(model.rglob("__pycache__"))
    assert _verify_cli(model)[0] == 0


def test_edited_code_file_is_caught(model: Path) -> None:
    code = model / "code" / "doubler_code.py"
    code.write_text(code.read_text().replace("2 * x", "3 * x"))
    _refused(model, ModelIntegrityError, "doubler_code.py: content differs")


def test_truncated_data_file_is_caught(model: Path) -> None:
    (model / "python_model.pkl").write_bytes((model / "python_model.pkl").read_bytes()[:10])
    _refused(model, ModelIntegrityError, "python_model.pkl: content differs")


def test_added_file_is_caught(model: Path) -> None:
    (model / "code" / "sitecustomize.py").write_text("import os\n")
    _refused(model, ModelIntegrityError, "sitecustomize.py: not part of the saved model")


def test_crafted_bytecode_cache_is_caught(model: Path) -> None:
    # Python would run a __pycache__ .pyc instead of the (verified) source next to it
    cache = model / "code" / "__pycache__"
    cache.mkdir()
    (cache / "doubler_code.cpython-311.pyc").write_bytes(b"\x00" * 32)
    _refused(model, ModelIntegrityError, r"__pycache__/doubler_code\.cpython-311\.pyc: not part")


def test_removed_file_is_caught(model: Path) -> None:
    (model / "requirements.txt").unlink()
    _refused(model, ModelIntegrityError, "requirements.txt: missing")


def test_renamed_file_is_caught(model: Path) -> None:
    os.rename(model / "code" / "doubler_code.py", model / "code" / "doubler.py")
    _refused(model, ModelIntegrityError, "doubler_code.py: missing.*doubler.py: not part")


def test_removed_file_and_its_digest_entry_is_caught(model: Path) -> None:
    # the files map is covered by the MLmodel digest: dropping an entry with its file is an edit of MLmodel
    data = read_mlmodel(model)
    del data["tureen"]["files"]["python_env.yaml"]
    (model / "python_env.yaml").unlink()
    write_mlmodel(model, data)
    _refused(model, ModelIntegrityError, "MLmodel: content differs")


def test_edited_mlmodel_value_is_caught(model: Path) -> None:
    data = read_mlmodel(model)
    data["flavors"]["python_function"]["predict_fn"] = "__reduce__"
    write_mlmodel(model, data)
    _refused(model, ModelIntegrityError, "MLmodel: content differs")


def test_comment_added_to_mlmodel_is_caught(model: Path) -> None:
    with open(model / "MLmodel", "a") as f:
        f.write("# harmless?\n")
    _refused(model, ModelIntegrityError, "MLmodel: content differs")


def test_symlink_to_a_secret_is_refused(model: Path, canary: Canary) -> None:
    (model / "notes.json").symlink_to(canary.path)
    _refused(model, ModelPathError, "'notes.json' is a symlink", canary)


def test_symlinked_directory_is_refused(model: Path, canary: Canary) -> None:
    (model / "code" / "lib").symlink_to(canary.path.parent, target_is_directory=True)
    _refused(model, ModelPathError, "'code/lib' is a symlink", canary)


def test_mlmodel_symlink_is_never_read(model: Path, canary: Canary) -> None:
    (model / "MLmodel").unlink()
    (model / "MLmodel").symlink_to(canary.path)
    _refused(model, ModelPathError, "MLmodel file .* is a symlink", canary)


def test_fifo_is_refused_without_hanging(model: Path) -> None:
    os.mkfifo(model / "pipe")
    _refused(model, ModelPathError, "'pipe' is not a regular file")


def test_removed_digest_section_loads_unverified_with_a_warning(model: Path, monkeypatch) -> None:
    data = read_mlmodel(model)
    del data["tureen"]["files"], data["tureen"]["mlmodel"]
    write_mlmodel(model, data)
    with pytest.warns(UnverifiedModelWarning, match="digest section was removed"):
        assert _load(model).predict([1]) == [2]
    with pytest.raises(UnverifiedModelError, match="only verified models"):
        _load(model, verified_only=True)
    with pytest.raises(UnverifiedModelError):  # verify=False does not get around it
        _load(model, verified_only=True, verify=False)
    monkeypatch.setenv("TUREEN_VERIFIED_ONLY", "true")
    with pytest.raises(UnverifiedModelError):
        _load(model)
    code, text = _verify_cli(model)
    assert code == 1 and "unverified" in text
    monkeypatch.setenv("TUREEN_VERIFIED_ONLY", "sure")
    with pytest.raises(InvalidParameterError, match="TUREEN_VERIFIED_ONLY must be a boolean"):
        _load(model)


def test_model_without_any_tureen_section_loads_with_warning(model: Path) -> None:
    # what an MLflow-made model looks like: no tureen key at all
    data = read_mlmodel(model)
    del data["tureen"]
    write_mlmodel(model, data)
    with pytest.warns(UnverifiedModelWarning, match="not saved by tureen"):
        _load(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UnverifiedModelError):
            _load(model, verified_only=True)


def test_cli_verified_only_flag_refuses_unverified_models(model: Path, tmp_path: Path) -> None:
    import contextlib
    import io

    from tureen.cli import main

    data = read_mlmodel(model)
    del data["tureen"]
    write_mlmodel(model, data)
    rows = tmp_path / "rows.json"
    rows.write_text("[1, 2]")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        with pytest.raises(SystemExit) as exc:
            main(["--verified-only", "predict", "-m", str(model), "-i", str(rows)])
    assert exc.value.code == 1 and "only verified models" in err.getvalue()
    assert "TUREEN_VERIFIED_ONLY" not in os.environ  # the flag does not leak into later calls


def test_logged_model_edited_in_the_store_is_refused_even_with_resealed_digests(tmp_path: Path) -> None:
    """The store's own digest (recorded at log time, outside the directory) catches an attacker who rewrote
    the files *and* recomputed the MLmodel's digests."""
    import tureen.pyfunc
    from security._crafted import reseal
    from tureen.tracking import fluent
    from tureen.uri import resolve_model_uri

    fluent.set_tracking_uri(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with fluent.start_run():
        info = tureen.pyfunc.log_model(name="m", python_model=_Echo())
    assert _load(info.model_uri).predict([5]) == [5]
    root = resolve_model_uri(info.model_uri)
    with open(root / "requirements.txt", "a") as f:
        f.write("evil-package==6.6.6\n")
    reseal(root)
    assert _verify_cli(root)[0] == 0  # the directory alone is consistent again...
    with pytest.raises(ModelIntegrityError, match="do not match the digest recorded when they were logged"):
        _load(info.model_uri)  # ...but not with what the store recorded


import tureen.pyfunc  # noqa: E402


class _Echo(tureen.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):  # noqa: ANN001
        return model_input


def test_hard_link_to_a_secret_is_refused(model: Path, canary: Canary) -> None:
    from security._crafted import reseal

    os.link(canary.path, model / "notes.json")
    with pytest.raises(ModelPathError, match="hard link"):
        reseal(model)  # not even an attacker's reseal accepts it
    _refused(model, ModelPathError, "'notes.json' is a hard link", canary)


def test_model_of_an_older_tureen_loads_unverified(model: Path) -> None:
    """Saved before the MLmodel digest (and with the bytecode cache its loads used to write): it still
    loads, with a warning, its recorded files still checked; verified_only refuses it."""
    data = read_mlmodel(model)
    del data["tureen"]["mlmodel"]
    write_mlmodel(model, data)
    (model / "code" / "__pycache__").mkdir()
    (model / "code" / "__pycache__" / "doubler_code.cpython-311.pyc").write_bytes(b"\0" * 16)
    with pytest.warns(UnverifiedModelWarning, match="older tureen"):
        _load(model)
    with pytest.raises(UnverifiedModelError):
        _load(model, verified_only=True)
    (model / "requirements.txt").write_text("edited\n")
    with pytest.raises(ModelIntegrityError, match="requirements.txt: content differs"):
        _load(model)


def test_digest_line_is_where_yaml_puts_it(model: Path) -> None:
    """The MLmodel tureen writes is exactly yaml.safe_dump of its content (MLflow's format)."""
    import yaml

    text = (model / "MLmodel").read_text()
    assert yaml.safe_dump(yaml.safe_load(text), default_flow_style=False) == text


def _strip_digests(model: Path) -> None:
    data = read_mlmodel(model)
    del data["tureen"]
    write_mlmodel(model, data)


def test_spark_udf_refuses_an_unverified_model_on_the_driver(model: Path) -> None:
    """Decided before Spark is touched (no session is even needed to see the refusal)."""
    from tureen.pyfunc import spark_udf

    _strip_digests(model)
    with pytest.raises(UnverifiedModelError, match="only verified models"):
        spark_udf(None, str(model), verified_only=True)


def test_spark_udf_refuses_a_tampered_model(model: Path) -> None:
    from tureen.pyfunc import spark_udf

    (model / "code" / "doubler_code.py").write_text("raise SystemExit('swapped')\n")
    with pytest.raises(ModelIntegrityError):
        spark_udf(None, str(model))


def test_docker_context_refuses_tampered_and_unverified_models(model: Path, tmp_path: Path) -> None:
    from tureen.docker import generate_dockerfile

    out = tmp_path / "ctx"
    dockerfile = generate_dockerfile(model, out, base_image="python:3.11-slim", install_tureen="index",
                                     verified_only=True)
    assert 'TUREEN_VERIFIED_ONLY="true"' in dockerfile.read_text()  # the container keeps the same rule
    (model / "code" / "doubler_code.py").write_text("raise SystemExit('swapped')\n")
    with pytest.raises(ModelIntegrityError):
        generate_dockerfile(model, tmp_path / "ctx2", base_image="python:3.11-slim", install_tureen="index")
    assert not (tmp_path / "ctx2").exists()


def test_docker_context_of_an_unverified_model(model: Path, tmp_path: Path, monkeypatch) -> None:
    from tureen.docker import generate_dockerfile

    _strip_digests(model)
    with pytest.raises(UnverifiedModelError):
        generate_dockerfile(model, tmp_path / "ctx", base_image="python:3.11-slim", install_tureen="index",
                            verified_only=True)
    assert not (tmp_path / "ctx").exists()
    monkeypatch.setenv("TUREEN_VERIFIED_ONLY", "true")
    with pytest.raises(UnverifiedModelError):
        generate_dockerfile(model, tmp_path / "ctx", base_image="python:3.11-slim", install_tureen="index")
    monkeypatch.delenv("TUREEN_VERIFIED_ONLY")
    with pytest.warns(UnverifiedModelWarning):  # allowed by default, as for every load
        text = generate_dockerfile(model, tmp_path / "ctx", base_image="python:3.11-slim",
                                   install_tureen="index").read_text()
    assert "TUREEN_VERIFIED_ONLY" not in text


def test_serve_with_verified_only_refuses_before_listening(model: Path) -> None:
    import subprocess
    import sys

    _strip_digests(model)
    proc = subprocess.run([sys.executable, "-m", "tureen.cli", "--verified-only", "serve", "-m", str(model),
                           "--port", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "only verified models" in proc.stderr
    assert "Traceback" not in proc.stderr
