"""The flavor contract: every registered flavor is a ``Flavor`` with declared facts; the base class passes the
caller's trust decision to every loader; third-party flavors plug in through the ``tureen.flavors`` entry
point group (a real distribution, installed on the fly as a ``.dist-info`` directory on ``sys.path``)."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tureen.flavors import FLAVORS, flavor_for_loader, get_flavor, loader_module_for
from tureen.flavors._flavor import Flavor

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(FLAVORS))
def test_every_builtin_declares_its_facts(name):
    flavor = get_flavor(name)
    assert isinstance(flavor, Flavor)
    assert flavor.name == name
    assert flavor.loader_module, "a loader_module is declared"
    assert flavor_for_loader(flavor.loader_module) is flavor
    assert isinstance(flavor.fork_safe, bool)
    assert isinstance(flavor.packages, dict)
    if flavor.autolog_module:
        # an import string, resolved only when autolog() is called
        assert importlib.util.find_spec(flavor.autolog_module) is not None
    module = importlib.import_module(FLAVORS[name].partition(":")[0])
    if name != "python_function":  # the module-level API keeps working
        for fn in ("save_model", "log_model", "load_model"):
            assert callable(getattr(module, fn)), fn


@pytest.mark.parametrize("name", sorted(n for n in FLAVORS if n != "python_function"))
def test_flavor_modules_do_not_import_their_autologger(name):
    """autolog is named by import string: the flavor module never imports tureen.autolog (no circles)."""
    path = REPO / (FLAVORS[name].partition(":")[0].replace(".", "/") + ".py")
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("tureen.autolog"), f"{path.name} imports {node.module}"
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("tureen.autolog") for a in node.names), path.name


def test_loader_modules_map_to_flavors():
    assert loader_module_for("mlflow.sklearn") == "tureen.flavors.sklearn"
    assert loader_module_for("mlflow.pyfunc.model") == "tureen.pyfunc.model"
    assert flavor_for_loader("mlflow.keras").name == "keras"
    assert flavor_for_loader("some.unknown.module") is None
    assert loader_module_for("some.unknown.module") == "some.unknown.module"


def test_unknown_save_option_is_a_typed_error(tmp_path):
    from tureen.exceptions import InvalidParameterError
    from tureen.flavors import xgboost

    with pytest.raises(InvalidParameterError, match="no_such_option"):
        xgboost.save_model(object(), tmp_path / "m", no_such_option=1)
    assert not (tmp_path / "m").exists()


_PLUGIN = '''
from __future__ import annotations
import json
from tureen.flavors._flavor import Flavor, Predictor, Written

SEEN = []

class _Scale(Predictor):
    def predict(self, data, params=None):
        import numpy as np
        return (np.asarray(data, dtype=float).ravel() * self.raw).tolist()

class ScaleFlavor(Flavor):
    name = "scale"
    loader_module = "scale_flavor"
    packages = {"scale_framework": "scale-framework"}
    fork_safe = False

    def write(self, model, root, *, note=""):
        (root / "factor.json").write_text(json.dumps({"factor": model, "note": note}))
        return Written(conf={"data": "factor.json"}, pyfunc={}, predict=lambda x: _Scale(model).predict(x))

    def read(self, root, conf, *, allow_pickle=None):
        SEEN.append(allow_pickle)
        return json.loads((root / conf["data"]).read_text())["factor"]

    def predictor(self, raw, **context):
        return _Scale(raw)

FLAVOR = ScaleFlavor()
'''

_SCRIPT = '''
import json, sys
from tureen import pyfunc
from tureen.flavors import get_flavor, flavor_names, FLAVORS
from tureen.serving.wsgi import fork_unsafe_flavors
import scale_flavor

flavor = get_flavor("scale")
path = sys.argv[1]
flavor.save_model(3, path, note="hi", input_example=[1.0, 2.0], pip_requirements=[])
model = pyfunc.load_model(path, allow_pickle=False)
out = {
    "names": flavor_names(),
    "sklearn": FLAVORS["sklearn"],
    "predict": model.predict([1.0, 2.0]),
    "native": flavor.load_model(path, allow_pickle=True),
    "seen": scale_flavor.SEEN,
    "fork_unsafe": fork_unsafe_flavors(path),
}
print(json.dumps(out))
'''


def test_third_party_flavor_by_entry_point(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "scale_flavor.py").write_text(_PLUGIN)
    dist = site / "tureen_scale-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tureen-scale\nVersion: 0.1\n")
    # a third-party package cannot take a built-in name: the 'sklearn' entry is ignored
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [tureen.flavors]
        scale = scale_flavor
        sklearn = scale_flavor:FLAVOR
        """))
    (dist / "RECORD").write_text("")
    env = {"PYTHONPATH": f"{site}:{REPO}", "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "m")], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert "scale" in out["names"]
    assert out["sklearn"] == "tureen.flavors.sklearn"
    assert out["predict"] == [3.0, 6.0]
    assert out["native"] == 3
    # the caller's trust decision reached the plugin's read() on both paths
    assert out["seen"] == [False, True]
    assert out["fork_unsafe"] == ["scale"]
    meta = json.loads(json.dumps(__import__("yaml").safe_load((tmp_path / "m" / "MLmodel").read_text())))
    assert meta["flavors"]["python_function"]["loader_module"] == "scale_flavor"
    assert meta["flavors"]["scale"] == {"data": "factor.json"}
    assert meta["signature"] is not None
