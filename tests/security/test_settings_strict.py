"""Class 6: configuration fails closed. Every boolean setting accepts only the documented spellings.

Before: ``TUREEN_ALLOW_PICKLE=n`` / ``f`` / ``never`` / ``disable`` *allowed* pickle (only four words meant
false). Now each is an InvalidSettingError naming the accepted values, raised before anything loads.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security._hostile_models import custom_model, exec_pickle, watching
from tureen import pyfunc
from tureen._flags import ACCEPTED, env_bool, parse_bool
from tureen.exceptions import InvalidSettingError, TureenError
from tureen.flavors._gate import pickle_allowed

REPO = Path(__file__).resolve().parents[2]
WRONG = ["n", "f", "never", "disable", "disabled", "", " ", "2", "-1", "truee", "nope", "none", "0.0", "ye"]


@pytest.mark.parametrize("raw,expected", [("true", True), ("TRUE", True), (" yes ", True), ("On", True),
                                          ("1", True), ("false", False), ("False", False), ("NO", False),
                                          ("off", False), ("0", False)])
def test_accepted_spellings(raw, expected, monkeypatch):
    monkeypatch.setenv("TUREEN_ALLOW_PICKLE", raw)
    assert pickle_allowed() is expected
    assert parse_bool(raw, name="X") is expected


@pytest.mark.parametrize("raw", WRONG)
def test_wrong_spellings_fail_closed_before_loading(raw, monkeypatch, tmp_path):
    canary = tmp_path / "CANARY"
    root = custom_model(tmp_path / "m", pickled=exec_pickle(canary), code=None)
    monkeypatch.setenv("TUREEN_ALLOW_PICKLE", raw)
    with watching(canary):
        with pytest.raises(InvalidSettingError) as err:
            pyfunc.load_model(root)
    assert "TUREEN_ALLOW_PICKLE" in err.value.message and "true/false" in err.value.message
    assert err.value.http_status == 400


@pytest.mark.parametrize("value", ["false", "no", "0", "off"])
def test_allow_pickle_argument_as_string_is_parsed_not_truthy(value, tmp_path):
    """``bool("false")`` is True: a string argument must be parsed, never taken as truthy."""
    from tureen.exceptions import UnsafeDeserializationError

    canary = tmp_path / "CANARY"
    root = custom_model(tmp_path / "m", pickled=exec_pickle(canary), code=None)
    with watching(canary):
        with pytest.raises(UnsafeDeserializationError):
            pyfunc.load_model(root, allow_pickle=value)


@pytest.mark.parametrize("value", ["maybe", 2, 0.5, [], "tru"])
def test_allow_pickle_argument_wrong_type_is_an_error(value, tmp_path):
    canary = tmp_path / "CANARY"
    root = custom_model(tmp_path / "m", pickled=exec_pickle(canary), code=None)
    with watching(canary):
        with pytest.raises(InvalidSettingError, match="allow_pickle"):
            pyfunc.load_model(root, allow_pickle=value)


@pytest.mark.parametrize("field", ["preload", "debug", "access_log", "strict_json", "allow_pickle"])
@pytest.mark.parametrize("raw", ["maybe", "", "n", "enable"])
def test_serving_booleans_are_strict(field, raw):
    from tureen.serving.settings import ServingSettings

    name = f"TUREEN_SERVING_{field.upper()}"
    with pytest.raises(InvalidSettingError, match=name):
        ServingSettings.from_env({name: raw})
    assert getattr(ServingSettings.from_env({name: "off"}), field) is False
    assert getattr(ServingSettings.from_env({name: "YES"}), field) is True


def test_auto_migrate_is_strict(monkeypatch):
    from tureen.store._migrate import _auto_migrate

    monkeypatch.setenv("TUREEN_AUTO_MIGRATE", "never")
    with pytest.raises(InvalidSettingError, match="TUREEN_AUTO_MIGRATE"):
        _auto_migrate()
    monkeypatch.setenv("TUREEN_AUTO_MIGRATE", "Off")
    assert _auto_migrate() is False


def test_cli_names_the_accepted_values_without_a_traceback(tmp_path):
    canary = tmp_path / "CANARY"
    root = custom_model(tmp_path / "m", pickled=exec_pickle(canary), code=None)
    (tmp_path / "in.json").write_text('{"inputs": [[1.0]]}')
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "TUREEN_ALLOW_PICKLE": "never",
           "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "predict", "-m", str(root), "-i",
                          str(tmp_path / "in.json")], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode != 0
    assert "TUREEN_ALLOW_PICKLE" in res.stderr and ACCEPTED.split(" (")[0] in res.stderr
    assert "Traceback" not in res.stderr
    assert not canary.exists()


def _word_lists(tree: ast.AST) -> list[str]:
    """Literal collections of boolean words (a home-made parser's tell-tale)."""
    words = {"true", "false", "yes", "no", "on", "off"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = {e.value.lower() for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            if len(items & words) >= 2:
                found.append(ast.unparse(node)[:60])
    return found


def test_every_boolean_environment_read_uses_the_strict_helper():
    """A source walk: no module that reads TUREEN_* variables keeps its own list of boolean words."""
    offenders = []
    for path in (REPO / "tureen").rglob("*.py"):
        if path.name == "_flags.py":
            continue
        text = path.read_text()
        if "TUREEN_" not in text or "environ" not in text:
            continue
        offenders += [f"{path.relative_to(REPO)}: {lst}" for lst in _word_lists(ast.parse(text))]
    assert not offenders, offenders


def test_the_source_walk_catches_a_home_made_parser():
    old = 'import os\nv = os.environ.get("TUREEN_X", "1").lower() not in ("0", "false", "no")\n'
    assert _word_lists(ast.parse(old))


def test_invalid_setting_error_is_a_tureen_error():
    assert issubclass(InvalidSettingError, TureenError)
    with pytest.raises(InvalidSettingError) as err:
        parse_bool("sure", name="TUREEN_X")
    assert err.value.to_json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("raw", ["y", "insecure", "", "2"])
def test_insecure_tls_flag_is_strict(raw, monkeypatch):
    """Turning TLS verification off for the REST store needs a documented word, not any string."""
    from tureen.tracking.stores import _http

    cls = next(c for c in vars(_http).values() if isinstance(c, type) and hasattr(c, "_verify"))
    monkeypatch.delenv("MLFLOW_TRACKING_INSECURE_TLS", raising=False)
    monkeypatch.setenv("TUREEN_TRACKING_INSECURE_TLS", raw)
    if raw == "":  # empty means unset for this MLflow-compatible variable: verification stays on
        assert cls._verify() is not False
        return
    with pytest.raises(InvalidSettingError, match="INSECURE_TLS"):
        cls._verify()
    monkeypatch.setenv("TUREEN_TRACKING_INSECURE_TLS", "true")
    assert cls._verify() is False
    monkeypatch.setenv("TUREEN_TRACKING_INSECURE_TLS", "false")
    assert cls._verify() is not False
