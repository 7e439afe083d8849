"""Flavor cases for the shared conformance suite: one module per flavor, each defining ``CASES``.

A :class:`FlavorCase` says how to build a tiny fitted model, how tureen saves and loads it, what its MLmodel
must contain, and how MLflow 3.x saves and loads the same kind of model (code run in the MLflow peer venv).
Adding a flavor = adding ``cases/<flavor>.py``; ``test_conformance.py`` runs every check on every case.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable

#: every ``cases/<flavor>.py`` (discovered: adding a flavor's case file is all it takes)
CASE_MODULES = sorted(p.stem for p in Path(__file__).parent.glob("*.py") if not p.name.startswith("_"))


@dataclass
class Built:
    """A fitted model plus data: ``X`` to predict on, ``example`` to save with, ``y`` the MLflow side refits on."""

    model: Any
    X: Any
    y: Any
    example: Any


@dataclass
class FlavorCase:
    id: str
    #: the tureen module that saves/loads (``tureen.flavors.xgboost``, ``tureen.pyfunc.model``, ...)
    module: str
    #: top-level package that ``import <module>`` must not import
    framework: str | None
    build: Callable[[], Built]
    #: the flavor section of MLmodel and the keys it must hold
    section: str
    keys: set[str]
    loader_module: str
    #: distribution pinned in requirements.txt (``xgboost-cpu``); compared with the installed version
    requirement: str | None
    #: MLflow-side code: fits the same kind of model on X, y, saves one directory per format under
    #: ``root/<format>`` and sets ``out[<format>] = {"native": ..., "pyfunc": ...}`` (lists)
    mlflow_save: str
    #: MLflow-side code: loads ``path`` with MLflow's flavor loader and pyfunc, sets out["native"], out["pyfunc"]
    mlflow_load: str
    save_kw: dict[str, Any] = field(default_factory=dict)
    #: save keywords that produce a pickle-based format (unsafe-gate test); None when the flavor has none
    pickle_kw: dict[str, Any] | None = None
    #: native prediction as a numpy array (round-trip equality)
    native_predict: Callable[[Any, Any], Any] | None = None
    bad_dtype: Callable[[Any], Any] | None = None
    bad_shape: Callable[[Any], Any] | None = None
    #: an object the flavor does not save, and a word the error must contain
    unsupported: tuple[Any, str] | None = None
    #: a key of the flavor section holding the framework version (mismatch warning)
    version_key: str | None = None
    rtol: float = 1e-6
    marks: list[Any] = field(default_factory=list)
    #: files of the model that hold the weights (tampered in the integrity test)
    data_file: str = ""
    #: whether pyfunc turns the framework's own input errors into typed errors when there is no signature
    typed_framework_errors: bool = True
    #: serving settings for the serve-and-score check (e.g. ``preload=False`` for runtimes that are not fork-safe)
    serve_settings: dict[str, Any] = field(default_factory=dict)

    def flavor(self) -> Any:
        return importlib.import_module(self.module)

    def save(self, model: Any, path: Any, **kw: Any) -> Any:
        mod = self.flavor()
        if self.module == "tureen.pyfunc.model":
            return mod.save_model(path, python_model=model, **{**self.save_kw, **kw})
        return mod.save_model(model, path, **{**self.save_kw, **kw})

    def log(self, model: Any, **kw: Any) -> Any:
        mod = self.flavor()
        if self.module == "tureen.pyfunc.model":
            return mod.log_model(name="model", python_model=model, **{**self.save_kw, **kw})
        return mod.log_model(model, name="model", **{**self.save_kw, **kw})

    def load_native(self, path: Any, **kw: Any) -> Any:
        return self.flavor().load_model(path, **kw)


def all_cases() -> list[FlavorCase]:
    out: list[FlavorCase] = []
    for name in CASE_MODULES:
        out.extend(importlib.import_module(f"cases.{name}").CASES)
    return out


def as_numpy(value: Any) -> Any:
    import numpy as np

    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value, dtype=float)


def table(n: int = 40, k: int = 4, seed: int = 0) -> tuple[Any, Any]:
    """A small numeric DataFrame with named columns and a binary target."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, k)), columns=[f"f{i}" for i in range(k)])
    y = (X["f0"] + 0.5 * X["f1"] > 0).astype(int)
    return X, y


def tensor(n: int = 40, k: int = 4, seed: int = 0) -> tuple[Any, Any]:
    """A small float32 array and a float32 regression target."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k)).astype("float32")
    return X, (X[:, 0] - X[:, 1]).astype("float32")
