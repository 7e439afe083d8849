"""`import tureen`, `import tureen.pyfunc` and `tureen --help` load nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "pandas", "flask", "sqlalchemy", "sklearn", "torch", "tensorflow", "keras", "xgboost",
         "lightgbm", "pyspark", "skops", "yaml_not_heavy_placeholder")


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("code", [
    "import tureen",
    "import tureen.pyfunc",
    "import tureen.flavors",
    "import tureen.flavors.sklearn",
    "import tureen.models",
    "import tureen, tureen.uri, tureen.exceptions",
    "from tureen.cli import cli\ntry:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass",
])
def test_nothing_heavy_is_imported(code):
    heavy = _loaded_after(code) & set(HEAVY)
    assert not heavy, f"{code!r} imported {sorted(heavy)}"


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "tureen.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for name in ("predict", "models"):
        assert name in out.stdout


def test_version_flag():
    import tureen

    out = subprocess.run([sys.executable, "-m", "tureen.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and tureen.__version__ in out.stdout


def test_lazy_attribute_errors_are_clear():
    import tureen

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tureen.nope  # noqa: B018
