"""MLflow's public API, walked in the MLflow 3.17 peer venv: every name exists in tureen, or
``docs/migrating-from-mlflow.md`` lists it under "Not supported" with the reason; and the MLflow calls made by
an independent set of typical scripts (the code examples in MLflow's own docstrings of the in-scope API:
tracking, client, models, pyfunc, data, artifacts, entities and the flavors tureen has) resolve in tureen
for at least 98% of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.mlflow

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrating-from-mlflow.md"

#: the public names, and the docstring examples of the in-scope ones, as MLflow 3.17 defines them
_PEER = r'''
import ast, inspect, json, re, warnings
warnings.simplefilter("ignore")
import mlflow, mlflow.models, mlflow.pyfunc, mlflow.data, mlflow.artifacts, mlflow.entities, mlflow.tracking
from mlflow import MlflowClient

names = set()
for n in mlflow.__all__:
    names.add(f"mlflow.{n}")
for sub in ("models", "pyfunc", "entities"):
    module = getattr(mlflow, sub)
    for n in getattr(module, "__all__", []):
        names.add(f"mlflow.{sub}.{n}")
for n in dir(mlflow.data):
    obj = getattr(mlflow.data, n)
    if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj)) \
            and (getattr(obj, "__module__", "") or "").startswith("mlflow"):
        names.add(f"mlflow.data.{n}")
for n in dir(mlflow.artifacts):
    obj = getattr(mlflow.artifacts, n)
    if not n.startswith("_") and inspect.isfunction(obj) and obj.__module__ == "mlflow.artifacts":
        names.add(f"mlflow.artifacts.{n}")
for n in dir(MlflowClient):
    if not n.startswith("_"):
        names.add(f"MlflowClient.{n}")

flavors = json.loads(__import__("sys").argv[1])
scope = {"mlflow": [n for n in mlflow.__all__], "MlflowClient": [n for n in dir(MlflowClient) if not n.startswith("_")]}
objects = []
for n in scope["mlflow"]:
    objects.append((f"mlflow.{n}", getattr(mlflow, n, None)))
for n in scope["MlflowClient"]:
    objects.append((f"MlflowClient.{n}", getattr(MlflowClient, n, None)))
for sub in ("models", "pyfunc", "data", "artifacts"):
    module = getattr(mlflow, sub)
    for n in dir(module):
        if not n.startswith("_"):
            objects.append((f"mlflow.{sub}.{n}", getattr(module, n, None)))
absent = []
for flavor in flavors:
    try:
        module = __import__(f"mlflow.{flavor}", fromlist=["x"])
    except ModuleNotFoundError as exc:  # a tureen flavor MLflow lacks: no MLflow names to compare
        if exc.name != f"mlflow.{flavor}":
            raise
        absent.append(flavor)
        continue
    for n in ("save_model", "log_model", "load_model", "autolog"):
        objects.append((f"mlflow.{flavor}.{n}", getattr(module, n, None)))

def blocks(doc):
    lines = (doc or "").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip().startswith(".. code-block:: python"):
            indent = len(lines[i]) - len(lines[i].lstrip())
            j = i + 1
            body = []
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
                body.append(lines[j])
                j += 1
            code = "\n".join(l for l in body if not l.strip().startswith(":"))
            yield inspect.cleandoc("\n" + code) if code.strip() else ""
            i = j
        else:
            i += 1

examples = {}
for owner, obj in objects:
    if obj is None or getattr(obj, "__module__", "") is None:
        continue
    module = getattr(obj, "__module__", "") or ""
    if any(part in module for part in ("genai", "tracing", "gateway", "deployments", "prompt", "langchain", "openai")):
        continue
    for code in blocks(inspect.getdoc(obj)):
        try:
            ast.parse(code)
        except SyntaxError:
            continue
        examples.setdefault(code, owner)
print(json.dumps({"names": sorted(names), "absent": absent,
                  "examples": [[owner, code] for code, owner in examples.items()]}))
'''


def _documented_unsupported(*, in_progress: bool = True) -> set[str]:
    """The names in the migrating doc's "Not supported" table (rows whose reason starts "In progress" are
    another part of the work, which may land at any time: left out with ``in_progress=False``)."""
    text = DOC.read_text()
    section = text.split("## Not supported", 1)[1]
    found: set[str] = set()
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = line.split("|")
            if not in_progress and cells[2].strip().startswith("In progress"):
                continue
            found.update(re.findall(r"`([^`]+)`", cells[1]))
    return found


def _resolves(name: str) -> bool:
    import tureen

    head, *rest = name.split(".")
    obj = tureen.MlflowClient if head == "MlflowClient" else tureen
    for part in rest:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            return False
    return True


@pytest.fixture(scope="module")
def peer(mlflow_run):
    import json

    import tureen.flavors as registry

    ours = [n for n in registry.flavor_names() if n not in ("python_function",)]
    return mlflow_run(_PEER, json.dumps(ours), timeout=600)


def test_every_public_mlflow_name_exists_or_is_documented(peer, capsys):
    # MLflow 3.17 has no fastai flavor (it was removed before 3.0); any other tureen flavor must exist there
    assert set(peer["absent"]) <= {"fastai"}, f"tureen flavors MLflow lacks: {peer['absent']}"
    documented = _documented_unsupported()
    names = peer["names"]
    present = [n for n in names if _resolves(n)]
    missing = [n for n in names if not _resolves(n) and n not in documented]
    stale = sorted(n for n in _documented_unsupported(in_progress=False) if _resolves(n))
    share = len(present) / len(names)
    with capsys.disabled():
        print(f"\nMLflow 3.17 public names: {len(names)}; in tureen: {len(present)} ({share:.1%}); "
              f"documented as not supported: {len(names) - len(present)}")
    assert missing == [], f"{len(missing)} MLflow names neither in tureen nor in the migrating doc: {missing}"
    assert stale == [], f"the migrating doc lists names tureen has: {stale}"


def _calls(code: str) -> set[str]:
    """The ``mlflow.<...>`` names a script uses (attribute chains, ``from mlflow... import``) and the
    ``MlflowClient`` methods it calls on a client it made."""
    import ast

    tree = ast.parse(code)
    found: set[str] = set()
    clients = {"client"}
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mlflow":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full)
                aliases[alias.asname or alias.name] = full
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mlflow" and alias.name != "mlflow":
                    found.add(alias.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = ast.unparse(node.value.func)
            if func.endswith("MlflowClient"):
                clients.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = ast.unparse(node)
            root = chain.split(".")[0].split("(")[0]
            if "(" in chain or "[" in chain:
                continue
            if root == "mlflow":
                found.add(chain)
            elif root in clients and chain.count(".") == 1:
                found.add("MlflowClient." + chain.split(".")[1])
            elif aliases.get(root, "").endswith("MlflowClient") and chain.count(".") == 1:
                found.add("MlflowClient." + chain.split(".")[1])
    # keep the longest chains only (mlflow.sklearn.log_model implies mlflow.sklearn)
    return {n for n in found if not any(o != n and o.startswith(n + ".") for o in found)}


def test_typical_scripts_run_unchanged(peer, capsys):
    """The scripts: every code example in MLflow's docstrings of an API tureen provides (examples documenting a
    name of the "Not supported" table are out of scope). Each MLflow call in them counts, supported or not."""
    documented = _documented_unsupported()
    used: dict[str, int] = {}
    scripts = [code for owner, code in peer["examples"] if owner not in documented]
    for code in scripts:
        for name in _calls(code):
            used[name] = used.get(name, 0) + 1
    total = sum(used.values())
    ok = sum(k for n, k in used.items() if _resolves(n))
    share = ok / total
    misses = sorted((n for n in used if not _resolves(n)), key=lambda n: -used[n])
    with capsys.disabled():
        print(f"\nMLflow docstring examples of the API tureen provides: {len(scripts)} (of {len(peer['examples'])}); "
              f"MLflow calls in them: {total} ({len(used)} names); resolve in tureen: {ok} ({share:.1%}); "
              f"unresolved: {misses}")
    assert share >= 0.98, f"only {share:.1%} of the calls resolve; unresolved: {misses}"
