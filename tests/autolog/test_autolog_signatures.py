"""Every autolog function of MLflow 3.17 against tureen's: the same parameters (names, order, kinds, defaults),
so ``mlflow.<flavor>.autolog(...)`` calls run unchanged after ``import tureen as mlflow``.

MLflow's signatures come from one process in the MLflow peer venv, which lists every ``autolog`` its package
defines (a scan of the sources, so a new one cannot be missed) and dumps their signatures. The differences
allowed are the two tables below, and ``docs/migrating-from-mlflow.md`` states each of them.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

#: MLflow autologgers tureen does not have, and why (docs/migrating-from-mlflow.md, "Autologging")
NOT_PROVIDED: dict[str, str] = {
    **{f"mlflow.{name}": "GenAI tracing integration: tracing is out of tureen's scope" for name in (
        "ag2", "agno", "anthropic", "autogen", "bedrock", "crewai", "dspy", "gemini", "groq", "haystack",
        "langchain", "litellm", "llama_index", "mistral", "openai", "otel", "pydantic_ai", "semantic_kernel",
        "smolagents", "strands", "typesafe")},
    "mlflow.paddle": "no PaddlePaddle flavor",
    "mlflow.transformers": "no transformers flavor",
    "mlflow.spark": "Spark datasource autologging is not provided (the spark flavor saves and loads models)",
    "mlflow.pyspark.ml": "Spark MLlib autologging is not provided",
}

#: allowed differences in the autologgers tureen has: parameters tureen adds after all of MLflow's (so calls
#: by position still line up), and defaults that differ (MLflow's -> tureen's, as reprs)
EXTRA_PARAMS: dict[str, tuple[str, ...]] = {
    "mlflow": ("registered_model_name",),  # per-flavor in MLflow; here for every flavor at once
    "mlflow.statsmodels": ("log_input_examples", "log_model_signatures"),  # MLflow logs neither for statsmodels
}
OTHER_DEFAULTS: dict[str, dict[str, tuple[str, str]]] = {
    # safe by default: skops when the estimator round-trips with it, else cloudpickle (as MLflow)
    "mlflow.sklearn": {"serialization_format": ("'cloudpickle'", "None")},
}

_DUMP = r'''
import ast, importlib, inspect, json, pathlib, warnings
warnings.filterwarnings("ignore")
import mlflow

root = pathlib.Path(mlflow.__file__).parent
names = {"mlflow"}
for init in root.rglob("__init__.py"):
    module = ".".join(init.parent.relative_to(root.parent).parts)
    if module.startswith("mlflow.utils"):
        continue
    for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.FunctionDef) and node.name == "autolog") or (
                isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == "autolog" for a in node.names)):
            names.add(module)
            break
out = {}
for name in sorted(names):
    try:
        fn = importlib.import_module(name).autolog
    except Exception as exc:  # an integration whose framework is not installed in the peer
        out[name] = None
        continue
    out[name] = [[p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
                 for p in inspect.signature(fn).parameters.values()]
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def mlflow_signatures() -> dict:
    import _mlflow_peer

    return _mlflow_peer.run(_DUMP, timeout=600)


def _tureen_autolog(name: str):
    import tureen

    obj = tureen
    for part in name.split(".")[1:]:
        obj = getattr(obj, part)
    return obj.autolog


def _params(fn) -> list[list]:
    return [[p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
            for p in inspect.signature(fn).parameters.values()]


def _expected(name: str, theirs: list[list]) -> list[list]:
    """MLflow's parameters with the documented differences applied."""
    expected = []
    for pname, kind, default in theirs:
        if pname in OTHER_DEFAULTS.get(name, {}):
            mlflow_default, tureen_default = OTHER_DEFAULTS[name][pname]
            assert default == mlflow_default, f"{name}({pname}=...): MLflow's default moved, update the table"
            default = tureen_default
        expected.append([pname, kind, default])
    return expected


@pytest.mark.mlflow
def test_every_mlflow_autolog_is_provided_or_listed(mlflow_signatures):
    import tureen.autolog  # noqa: F401  (tureen.autolog is then the package: still called as MLflow's function)

    provided = sorted(set(mlflow_signatures) - set(NOT_PROVIDED))
    assert "mlflow.keras" in provided and "mlflow.openai" in mlflow_signatures  # the scan found them
    assert not set(NOT_PROVIDED) - set(mlflow_signatures), "a listed autologger MLflow does not have"
    for name in provided:
        assert mlflow_signatures[name] is not None, f"{name} could not be imported in the peer venv"
        assert callable(_tureen_autolog(name)), name


@pytest.mark.mlflow
def test_autolog_signatures_match_mlflow(mlflow_signatures):
    import tureen.autolog._keras  # noqa: F401  (binds the package as tureen.autolog)

    mismatches = []
    for name in sorted(set(mlflow_signatures) - set(NOT_PROVIDED)):
        ours = _params(_tureen_autolog(name))
        extra = EXTRA_PARAMS.get(name, ())
        if extra:
            assert tuple(p[0] for p in ours[-len(extra):]) == extra, \
                f"{name}: tureen's own parameters {extra} must come after all of MLflow's"
            ours = ours[:-len(extra)]
        expected = _expected(name, mlflow_signatures[name])
        if ours != expected:
            mismatches.append(f"{name}:\n  MLflow: {expected}\n  tureen: {ours}")
    assert not mismatches, "\n".join(mismatches)


def test_documented_differences_are_in_the_migration_guide():
    text = (Path(__file__).resolve().parents[2] / "docs" / "migrating-from-mlflow.md").read_text()
    for name, why in NOT_PROVIDED.items():
        assert why.startswith("GenAI") or f"`{name}.autolog`" in text, name
    assert "GenAI tracing" in text and "log_traces" in text
    for name, params in EXTRA_PARAMS.items():
        for p in params:
            assert f"`{p}`" in text, (name, p)
    for name, defaults in OTHER_DEFAULTS.items():
        for p in defaults:
            assert f"`{p}`" in text, (name, p)
