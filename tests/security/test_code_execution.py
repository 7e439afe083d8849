"""Class 1: code chosen by the artifact (loader_module, the code/ directory, class paths named in MLmodel).

Each hostile model asserts the typed error AND that nothing ran (canary absent, no module left, sys.path
unchanged). These models need no framework: they run in well under a second each.
"""

from __future__ import annotations

import os
import sys

import pytest

from tests.security._hostile_models import (Watch, class_ref_pickle, custom_model, exec_pickle, watching,
                                            write_mlmodel)
from tureen import pyfunc
from tureen.exceptions import (ModelFormatError, ModelPathError, TureenError, UnsafeDeserializationError,
                               UntrustedCodeError)
from tureen.flavors._gate import confine_code_dir

#: the path check of the integrity layer (ModelPathError) may refuse first; either way nothing runs
REFUSED_PATH = (UntrustedCodeError, ModelPathError)
from tureen.flavors._gate import allowed_loader_modules, resolve_loader_module


@pytest.fixture
def canary(tmp_path):
    return tmp_path / "CANARY"


# ------------------------------------------------------------------------------------------------
# loader_module: an allow-list, refused before anything is imported, whatever allow_pickle says


@pytest.mark.parametrize("loader", [
    "hostile_loader",            # a module shipped in the model's own code/ directory
    "os",                        # any importable module
    "tureen.flavors._gate",      # a tureen module that is not a flavor loader
    "mlflow.evil",               # MLflow's namespace, not one of its loaders
    "tureen.flavors.sklearn:x",  # an entry-point-like spelling
    "tureen.flavors.sklearn ",   # lookalike with whitespace
])
def test_unknown_loader_module_is_refused_before_import(tmp_path, canary, loader):
    root = custom_model(tmp_path / "m", pickled=exec_pickle(canary), loader=loader,
                        code_files={"hostile_loader.py": f"open({str(canary)!r}, 'w')\n"
                                                          "def _load_pyfunc(path):\n    return None\n"})
    with watching(canary, "hostile_loader"):
        with pytest.raises(UntrustedCodeError, match="not a known flavor loader"):
            pyfunc.load_model(root, allow_pickle=True)  # even a caller who allows pickle gets no free import


@pytest.mark.parametrize("loader", [["tureen.pyfunc.model"], {"a": 1}, 42])
def test_non_string_loader_module_is_refused(tmp_path, canary, loader):
    root = custom_model(tmp_path / "m", pickled=exec_pickle(canary), loader=loader, code=None)
    with watching(canary):
        with pytest.raises(UntrustedCodeError):
            pyfunc.load_model(root, allow_pickle=True)


def test_allow_list_maps_mlflow_loaders_to_ours():
    table = allowed_loader_modules()
    for mlflow_name in ("mlflow.sklearn", "mlflow.pyfunc.model", "mlflow.pytorch", "mlflow.tensorflow",
                        "mlflow.keras", "mlflow.xgboost", "mlflow.lightgbm"):
        assert table[mlflow_name].startswith("tureen."), mlflow_name
        assert resolve_loader_module(mlflow_name) == table[mlflow_name]
    # nothing outside tureen, except installed entry-point flavors, is on the list
    from importlib.metadata import entry_points

    plugins = {ep.value.split(":")[0] for ep in entry_points(group="tureen.flavors")}
    assert {v for v in table.values() if not v.startswith("tureen.")} <= plugins


def test_entry_point_flavor_is_allowed(tmp_path, monkeypatch):
    """A flavor the *user installed* (entry point) is trusted; a lookalike the model names is not."""
    import importlib.metadata as md

    import tureen.flavors as registry

    site = tmp_path / "site"
    site.mkdir()
    (site / "thirdparty_flavor_mod.py").write_text(
        "from tureen.flavors._flavor import Flavor\n"
        "class ThirdParty(Flavor):\n    name = 'thirdparty'\n    loader_module = 'thirdparty_flavor_mod'\n"
        "FLAVOR = ThirdParty()\n")
    monkeypatch.syspath_prepend(str(site))

    class EP:
        name, value, group = "thirdparty", "thirdparty_flavor_mod", "tureen.flavors"

    monkeypatch.setattr(md, "entry_points", lambda group=None, **_: [EP()] if group == "tureen.flavors" else [])
    monkeypatch.setattr(registry, "_ENTRY_POINTS_LOADED", False)
    monkeypatch.setattr(registry, "_LOADERS", None)
    monkeypatch.setattr(registry, "FLAVORS", dict(registry.FLAVORS))
    try:
        assert resolve_loader_module("thirdparty_flavor_mod") == "thirdparty_flavor_mod"
        with pytest.raises(UntrustedCodeError):
            resolve_loader_module("thirdparty_flavor_mod_evil")
    finally:
        sys.modules.pop("thirdparty_flavor_mod", None)
        registry._LOADERS = None


# ------------------------------------------------------------------------------------------------
# the code/ directory: same gate as pickle, confined, and sys.path / sys.modules restored


def _code_model(tmp_path, canary, **kw):
    # python_model.pkl refers to a class in code/helper.py, whose import creates the canary
    return custom_model(tmp_path / "m", pickled=class_ref_pickle("helper_sec1", "Model"),
                        code_files={"helper_sec1.py": "import os\n" + f"open({str(canary)!r}, 'w')\n"
                                    "class Model:\n    def predict(self, context, model_input):\n"
                                    "        return model_input\n"}, **kw)


def test_code_dir_refused_when_pickle_off(tmp_path, canary):
    root = _code_model(tmp_path, canary)
    with watching(canary, "helper_sec1"):
        with pytest.raises(UntrustedCodeError, match="code directory"):
            pyfunc.load_model(root, allow_pickle=False)


def test_code_dir_refused_by_environment(tmp_path, canary, monkeypatch):
    root = _code_model(tmp_path, canary)
    monkeypatch.setenv("TUREEN_ALLOW_PICKLE", "false")
    with watching(canary, "helper_sec1"):
        with pytest.raises(UnsafeDeserializationError):
            pyfunc.load_model(root)


@pytest.mark.parametrize("code", ["/etc", "../outside", "code/../../outside", "..", "C:\\evil", "./../x"])
def test_code_dir_outside_model_is_refused_even_when_allowed(tmp_path, canary, code):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "helper_sec1.py").write_text(f"open({str(canary)!r}, 'w')\n")
    root = _code_model(tmp_path, canary, code=code)
    with watching(canary, "helper_sec1"):
        with pytest.raises(REFUSED_PATH, match="outside the model directory|leaves the model directory"):
            pyfunc.load_model(root, allow_pickle=True)
    # and the gate's own check, on its own (defence in depth: it does not rely on the integrity layer)
    with pytest.raises(UntrustedCodeError, match="outside the model directory"):
        confine_code_dir(root, code)


def test_code_dir_symlink_out_is_refused(tmp_path, canary):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "helper_sec1.py").write_text(f"open({str(canary)!r}, 'w')\n")
    root = custom_model(tmp_path / "m", pickled=class_ref_pickle("helper_sec1", "Model"), code="code")
    os.symlink(outside, root / "code")
    with watching(canary, "helper_sec1"):
        with pytest.raises(REFUSED_PATH, match="symlink"):
            pyfunc.load_model(root, allow_pickle=True)
    with pytest.raises(UntrustedCodeError, match="symlink"):
        confine_code_dir(root, "code")


def test_symlinked_module_inside_code_dir_is_refused(tmp_path, canary):
    outside = tmp_path / "outside.py"
    outside.write_text(f"open({str(canary)!r}, 'w')\n")
    root = custom_model(tmp_path / "m", pickled=class_ref_pickle("helper_sec1", "Model"), code_files={})
    os.symlink(outside, root / "code" / "helper_sec1.py")
    with watching(canary, "helper_sec1"):
        with pytest.raises(REFUSED_PATH, match="symlink"):
            pyfunc.load_model(root, allow_pickle=True)
    with pytest.raises(UntrustedCodeError, match="symlink"):
        confine_code_dir(root, "code")


def test_failed_load_restores_sys_path_and_modules(tmp_path):
    marker = tmp_path / "imported"
    root = custom_model(tmp_path / "m", pickled=class_ref_pickle("helper_fail", "Missing"),
                        code_files={"helper_fail.py": f"open({str(marker)!r}, 'w')\n",
                                    "pkg_fail/__init__.py": "", "pkg_fail/sub.py": "X = 1\n"})
    before = Watch(tmp_path / "never")
    with pytest.raises(TureenError):
        pyfunc.load_model(root, allow_pickle=True)
    assert marker.exists()  # the module did run (allowed) ...
    before.assert_nothing_ran()  # ... and left nothing behind
    assert "helper_fail" not in sys.modules


def test_two_models_with_same_named_modules_stay_apart(tmp_path):
    """Two legitimate models, one process, a module called ``shared_helper`` in each: both right."""
    import numpy as np

    models = []
    for factor in (2, 3):
        src = ("class Model:\n    def predict(self, context, model_input):\n"
               f"        return model_input * {factor}\n")
        models.append(custom_model(tmp_path / f"m{factor}", pickled=class_ref_pickle("shared_helper", "Model"),
                                   code_files={"shared_helper.py": src}))
    path_before = list(sys.path)
    first = pyfunc.load_model(models[0])
    second = pyfunc.load_model(models[1])
    x = np.array([1.0, 2.0])
    assert first.predict(x).tolist() == [2.0, 4.0]
    assert second.predict(x).tolist() == [3.0, 6.0]
    # and the first still predicts with its own module after the second was loaded
    assert first.predict(x).tolist() == [2.0, 4.0]
    assert sys.path == path_before and "shared_helper" not in sys.modules


def test_no_bytecode_written_into_the_model(tmp_path):
    root = custom_model(tmp_path / "m", pickled=class_ref_pickle("helper_pyc", "Model"),
                        code_files={"helper_pyc.py": "class Model:\n    def predict(self, c, x):\n        return x\n"})
    pyfunc.load_model(root)
    assert not list(root.rglob("__pycache__")) and not list(root.rglob("*.pyc"))


def test_predict_fn_cannot_name_a_private_attribute(tmp_path, canary):
    root = custom_model(tmp_path / "m", pickled=class_ref_pickle("x", "y"), code=None, predict_fn="__reduce__")
    with watching(canary):
        with pytest.raises(ModelFormatError, match="predict_fn"):
            pyfunc.load_model(root, allow_pickle=True)


# ------------------------------------------------------------------------------------------------
# class paths named in MLmodel (a PyTorch state dict's model_class)


@pytest.fixture
def importable_canary_module(tmp_path, canary, monkeypatch):
    """A module installed in the *environment* (trusted) but not imported: naming it must not import it."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sec_not_imported.py").write_text(f"open({str(canary)!r}, 'w')\nclass Net:\n    pass\n")
    monkeypatch.syspath_prepend(str(site))
    yield "sec_not_imported"
    sys.modules.pop("sec_not_imported", None)


def test_named_class_from_environment_needs_the_gate(importable_canary_module, canary):
    from tureen.flavors._gate import import_named_class

    with pytest.raises(UntrustedCodeError, match="sec_not_imported"):
        import_named_class("sec_not_imported.Net", allow_pickle=False)
    assert not canary.exists() and "sec_not_imported" not in sys.modules
    # already-imported modules cost nothing to look in
    assert import_named_class("os.PathLike", allow_pickle=False) is os.PathLike


@pytest.mark.torch
def test_state_dict_model_class_from_code_dir_refused(tmp_path, canary):
    import torch

    root = tmp_path / "m"
    (root / "data").mkdir(parents=True)
    torch.save({}, root / "data" / "state_dict.pth")
    (root / "code").mkdir()
    (root / "code" / "sec_net.py").write_text(f"open({str(canary)!r}, 'w')\nimport torch\n"
                                              "class Net(torch.nn.Module):\n    pass\n")
    write_mlmodel(root, {"pytorch": {"model_data": "data", "serialization_format": "state_dict",
                                     "model_class": "sec_net.Net", "code": "code",
                                     "pytorch_version": str(torch.__version__)}})
    from tureen.flavors import pytorch as tp

    with watching(canary, "sec_net"):
        with pytest.raises(UntrustedCodeError):
            tp.load_model(root, allow_pickle=False)
    # and the code-less spelling (class path to an installed module not yet imported) is gated too
    write_mlmodel(root, {"pytorch": {"model_data": "data", "serialization_format": "state_dict",
                                     "model_class": "sec_net.Net", "pytorch_version": str(torch.__version__)}})
    with watching(canary, "sec_net"):
        with pytest.raises((UntrustedCodeError, ModelFormatError)):
            tp.load_model(root, allow_pickle=False)


@pytest.mark.torch
def test_state_dict_model_class_from_environment_refused(tmp_path, canary, importable_canary_module):
    import torch

    root = tmp_path / "m"
    (root / "data").mkdir(parents=True)
    torch.save({}, root / "data" / "state_dict.pth")
    write_mlmodel(root, {"pytorch": {"model_data": "data", "serialization_format": "state_dict",
                                     "model_class": "sec_not_imported.Net", "pytorch_version": str(torch.__version__)}})
    from tureen.flavors import pytorch as tp

    with watching(canary, "sec_not_imported"):
        with pytest.raises(UntrustedCodeError, match="sec_not_imported"):
            tp.load_model(root, allow_pickle=False)
