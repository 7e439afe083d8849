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
    # MLflow's names (``import tureen as mlflow``) are lazy too: touching them loads no framework
    "import tureen as mlflow\nmlflow.MlflowClient, mlflow.tracking.MlflowClient, mlflow.entities.Metric, "
    "mlflow.entities.model_registry.ModelVersion, mlflow.artifacts.download_artifacts, mlflow.data.from_pandas, "
    "mlflow.models.set_model, mlflow.models.ModelConfig, mlflow.models.validate_serving_input, "
    "mlflow.models.convert_input_example_to_serving_input, mlflow.models.get_model_info, mlflow.MlflowException, "
    "mlflow.log_figure, mlflow.log_table, mlflow.search_experiments, mlflow.list_run_infos, dir(mlflow)",
    "import tureen as mlflow\nfor name in mlflow._flavor_modules():\n    getattr(mlflow, name).FLAVOR_NAME",
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


def test_every_flavor_is_an_mlflow_named_attribute():
    """The alias table is the flavor registry: each flavor (a new one too) is ``tureen.<name>``."""
    import tureen
    import tureen.flavors as registry

    names = [n for n in registry.flavor_names() if n != "python_function"]
    assert {"sklearn", "pytorch", "tensorflow", "keras", "xgboost", "lightgbm", "statsmodels", "onnx"} <= set(names)
    for name in names:
        assert getattr(tureen, name).__name__ == registry.FLAVORS[name].partition(":")[0]
        assert name in dir(tureen)


def test_lazy_attribute_errors_are_clear():
    import tureen

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tureen.nope  # noqa: B018
