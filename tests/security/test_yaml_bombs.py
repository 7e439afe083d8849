"""Class 5 for YAML: an MLmodel (or an environment file, or an MLmodel previewed in the UI) is untrusted text.
YAML anchors and aliases let a few hundred bytes describe a structure whose expansion is exponential (the
"billion laughs"); PyYAML builds it cheaply with shared references, and the first thing that walks it
(JSON encoding for ``tureen models inspect --json``, the server's metadata, a deep copy) spends memory and
time without bound. Every YAML read of model content goes through one bounded loader that refuses such files
with a typed error, and stays able to read every MLmodel MLflow or tureen writes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.security._hostile_models import write_mlmodel
from tureen.exceptions import ModelFormatError
from tureen.models._yaml import MAX_ALIASES, MAX_YAML_BYTES, load_untrusted_yaml


def _laughs(levels: int = 12, width: int = 10) -> str:
    """A billion-laughs document under ``flavors``: ``width ** levels`` leaves from ~1 KB of text."""
    lines = ["a0: &a0 [lol]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append("flavors:")
    lines.append("  python_function:")
    lines.append("    loader_module: mlflow.sklearn")
    lines.append(f"    bomb: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_fast() -> None:
    text = _laughs()
    assert len(text) < 2048
    start = time.perf_counter()
    with pytest.raises(ModelFormatError, match="alias"):
        load_untrusted_yaml(text, what="MLmodel")
    assert time.perf_counter() - start < 1.0


def test_mlmodel_with_alias_bomb_is_refused_at_load(tmp_path: Path) -> None:
    from tureen.models.mlmodel import Model

    root = tmp_path / "m"
    root.mkdir()
    (root / "MLmodel").write_text(_laughs())
    with pytest.raises(ModelFormatError, match="alias"):
        Model.load(root)


def test_pyfunc_load_of_alias_bomb_is_typed(tmp_path: Path) -> None:
    from tureen import pyfunc

    root = tmp_path / "m"
    root.mkdir()
    (root / "MLmodel").write_text(_laughs())
    with pytest.raises(ModelFormatError, match="alias"):
        pyfunc.load_model(str(root))


def test_inspect_json_of_alias_bomb_answers_an_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = tmp_path / "m"
    root.mkdir()
    (root / "MLmodel").write_text(_laughs())
    proc = subprocess.run([sys.executable, "-m", "tureen.cli", "models", "inspect", str(root), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "alias" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_ui_preview_of_alias_bomb_is_an_error_not_a_hang() -> None:
    from tureen.server.ui._data import mlmodel_info

    start = time.perf_counter()
    info = mlmodel_info(_laughs())
    assert time.perf_counter() - start < 1.0
    assert "alias" in info["error"]


def test_oversized_yaml_is_refused() -> None:
    text = "flavors: {}\npad: '" + "x" * (MAX_YAML_BYTES + 1) + "'\n"
    with pytest.raises(ModelFormatError, match="bytes"):
        load_untrusted_yaml(text, what="MLmodel")


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    text = "flavors: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ModelFormatError):
        load_untrusted_yaml(text, what="MLmodel")


def test_a_few_aliases_still_load() -> None:
    """A writer may share one object twice (PyYAML's dumper emits anchors for that): still readable."""
    text = "shared: &s {a: 1}\nflavors:\n  x: *s\n  y: *s\n"
    data = load_untrusted_yaml(text, what="MLmodel")
    assert data["flavors"] == {"x": {"a": 1}, "y": {"a": 1}}


def test_alias_budget_counts_expansion_not_mentions() -> None:
    """Few alias tokens can still mean a huge expansion; the budget is on expanded nodes."""
    ok = "\n".join(["a: &a [1, 2]"] + [f"k{i}: *a" for i in range(MAX_ALIASES)]) + "\n"
    assert len(load_untrusted_yaml(ok, what="x")) == MAX_ALIASES + 1
    with pytest.raises(ModelFormatError, match="alias"):
        load_untrusted_yaml(_laughs(levels=4, width=10), what="x")


def test_ordinary_mlmodel_round_trips(tmp_path: Path) -> None:
    from tureen.models.mlmodel import Model

    root = write_mlmodel(tmp_path / "m", {"python_function": {"loader_module": "mlflow.sklearn",
                                                               "model_path": "model.pkl"}},
                         signature={"inputs": json.dumps([{"type": "double", "name": "x"}])})
    model = Model.load(root)
    assert model.flavors["python_function"]["loader_module"] == "mlflow.sklearn"
