"""Environment capture: requirements inference and pinning, ``requirements.txt``, ``python_env.yaml``,
``conda.yaml``, and the check that warns when a model is loaded under other versions.

Requirements are inferred in process from the modules the model's objects come from (no subprocess that
re-loads the model, which is where MLflow spends seconds).
"""

from __future__ import annotations

import functools
import importlib.metadata as md
import platform
import sys
import warnings
from pathlib import Path
from typing import Any, Iterable

import yaml

from tureen.exceptions import InvalidParameterError

__all__ = ["infer_requirements", "write_environment", "check_environment", "pin", "read_requirements"]

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"
CONSTRAINTS_FILE = "constraints.txt"

_SKIP_TOP = {"builtins", "__main__", "tureen", "_thread", "typing", "abc"}


@functools.lru_cache(maxsize=1)
def _module_to_dists() -> dict[str, list[str]]:
    return md.packages_distributions()


# import names whose distribution is named differently (checked first; the general map is the fallback)
_KNOWN_DISTS = {"sklearn": "scikit-learn", "yaml": "PyYAML", "PIL": "pillow", "cv2": "opencv-python",
                "skimage": "scikit-image", "attr": "attrs", "dateutil": "python-dateutil"}


@functools.lru_cache(maxsize=256)
def _dists_for_module(top: str) -> list[str]:
    """Distributions providing the top-level module ``top``.

    The common case (a distribution named like its module, or a known alias) is answered by reading one
    distribution's metadata; only other modules pay for the full map of every installed distribution
    (about 0.1 s).
    """
    name = _KNOWN_DISTS.get(top, top)
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        dist = None
    if dist is not None:
        top_level = dist.read_text("top_level.txt")
        if top_level is not None:
            if top in top_level.split():
                return [dist.metadata["Name"]]
        elif any(str(f).split("/")[0] in (top, f"{top}.py") for f in (dist.files or [])):
            return [dist.metadata["Name"]]
    return list(_module_to_dists().get(top, []))


@functools.lru_cache(maxsize=256)
def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def pin(dist: str) -> str:
    """``dist==<installed version>``, or the bare name when it is not installed.

    Example:
        >>> pin("pyyaml").startswith("pyyaml==")
        True
    """
    v = _version(dist)
    return f"{dist}=={v}" if v else dist


def _top_modules(objects: Iterable[Any], max_objects: int = 5000) -> set[str]:
    """Top-level module names of the types found by walking the objects' attributes."""
    seen: set[int] = set()
    tops: set[str] = set()
    stack = list(objects)
    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    while stack and len(seen) < max_objects:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for t in type(obj).__mro__[:-1]:
            top = (t.__module__ or "").split(".")[0]
            if top and top not in stdlib and top not in _SKIP_TOP:
                tops.add(top)
        if isinstance(obj, (str, bytes, int, float, bool, type(None))):
            continue
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            if len(obj) <= 1000:
                stack.extend(obj)
        elif type(obj).__module__.split(".")[0] == "numpy":
            continue  # arrays: their own type is enough
        else:
            d = getattr(obj, "__dict__", None)
            if isinstance(d, dict):
                stack.extend(d.values())
            if isinstance(obj, type) or callable(obj) and hasattr(obj, "__module__"):
                top = (getattr(obj, "__module__", "") or "").split(".")[0]
                if top and top not in stdlib and top not in _SKIP_TOP:
                    tops.add(top)
    return tops


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-")


def infer_requirements(objects: Iterable[Any] = (), defaults: Iterable[str] = ()) -> list[str]:
    """Pinned requirements: tureen first, then the flavor's ``defaults``, then packages the objects use.

    Example:
        >>> infer_requirements([], ["pyyaml"])[1].startswith("pyyaml==")
        True
    """
    from tureen import __version__

    reqs: dict[str, str] = {}
    for d in defaults:
        name = _canonical(d.split("==")[0].split(">")[0].split("<")[0].split("[")[0])
        reqs[name] = d if any(op in d for op in "=<>") else pin(d)
    for top in sorted(_top_modules(objects)):
        for dist in _dists_for_module(top)[:1]:
            name = _canonical(dist)
            if name not in reqs and name != "tureen":
                reqs[name] = pin(dist)
    return [f"tureen=={__version__}", *sorted(reqs.values(), key=lambda r: _canonical(r))]


def read_requirements(path: str | Path) -> list[str]:
    file = Path(path) / REQUIREMENTS_FILE if Path(path).is_dir() else Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def _merge_user(inferred: list[str], pip_requirements: Any, extra_pip_requirements: Any) -> list[str]:
    if pip_requirements is not None and extra_pip_requirements is not None:
        raise InvalidParameterError("Pass either pip_requirements or extra_pip_requirements, not both")

    def as_list(value: Any, what: str) -> list[str]:
        if isinstance(value, (str, Path)) and Path(value).is_file():
            return read_requirements(value)
        if isinstance(value, str):
            raise InvalidParameterError(f"{what} must be a list of requirement strings or a requirements file "
                                        f"path; {value!r} is not a file")
        if not isinstance(value, (list, tuple)):
            raise InvalidParameterError(f"{what} must be a list of requirement strings or a requirements file "
                                        f"path, got {type(value).__name__}")
        if not all(isinstance(x, str) and x.strip() for x in value):
            raise InvalidParameterError(f"{what} must hold non-empty strings")
        return [x.strip() for x in value]

    if pip_requirements is not None:
        user = as_list(pip_requirements, "pip_requirements")
        return user
    if extra_pip_requirements is not None:
        return inferred + [r for r in as_list(extra_pip_requirements, "extra_pip_requirements") if r not in inferred]
    return inferred


def write_environment(path: str | Path, requirements: list[str], *, pip_requirements: Any = None,
                      extra_pip_requirements: Any = None) -> list[str]:
    """Write requirements.txt (+ constraints.txt), python_env.yaml and conda.yaml; return the requirements."""
    reqs = _merge_user(requirements, pip_requirements, extra_pip_requirements)
    constraints = [r for r in reqs if r.startswith("-c ")]
    reqs = [r for r in reqs if not r.startswith("-c ")]
    p = Path(path)
    if constraints:
        lines: list[str] = []
        for c in constraints:
            lines.extend(read_requirements(c[3:].strip()))
        (p / CONSTRAINTS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
        reqs.append(f"-c {CONSTRAINTS_FILE}")
    (p / REQUIREMENTS_FILE).write_text("\n".join(reqs) + "\n", encoding="utf-8")
    py = platform.python_version()
    build = [pin("pip"), pin("setuptools"), pin("wheel")]
    (p / PYTHON_ENV_FILE).write_text(yaml.safe_dump(
        {"python": py, "build_dependencies": build, "dependencies": [f"-r {REQUIREMENTS_FILE}"]},
        default_flow_style=False, sort_keys=False), encoding="utf-8")
    pip_v = _version("pip")
    conda = {"channels": ["conda-forge"],
             "dependencies": [f"python={py}", f"pip<={pip_v}" if pip_v else "pip", {"pip": reqs}],
             "name": "mlflow-env"}
    (p / CONDA_FILE).write_text(yaml.safe_dump(conda, default_flow_style=False), encoding="utf-8")
    return reqs


def check_environment(path: str | Path, python_version: str | None) -> list[str]:
    """Warn (once per difference) when the loading environment differs from the saving one."""
    diffs: list[str] = []
    here = platform.python_version()
    if python_version and python_version.split(".")[:2] != here.split(".")[:2]:
        diffs.append(f"Python {python_version} saved the model, this is Python {here}")
    for req in read_requirements(path):
        if "==" not in req or req.startswith("-"):
            continue
        name, _, want = req.partition("==")
        name = name.split("[")[0].strip()
        want = want.split(";")[0].strip()
        if _canonical(name) in ("tureen", "mlflow", "mlflow-skinny"):
            continue
        have = _version(name)
        if have is None:
            diffs.append(f"{name}=={want} is required but not installed")
        elif have != want:
            diffs.append(f"{name} {want} saved the model, {have} is installed")
    if diffs:
        warnings.warn("The model was saved in a different environment: " + "; ".join(diffs)
                      + ". Predictions may differ or loading may fail.", UserWarning, stacklevel=3)
    return diffs
