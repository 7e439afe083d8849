"""Shared pieces of the flavor conformance suite, importable under a unique name (test modules in other
folders also have a ``conftest``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cases import all_cases

CASES = all_cases()

MLFLOW_PRELUDE = """
import sys, os, json, warnings
warnings.filterwarnings("ignore")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, pandas as pd
root = sys.argv[1]
for extra in sys.argv[3:]:
    sys.path.insert(0, extra)
_meta = json.load(open(os.path.join(root, "meta.json")))
X = np.load(os.path.join(root, "X.npy"))
if _meta["columns"] is not None:
    X = pd.DataFrame(X, columns=_meta["columns"])
y = np.load(os.path.join(root, "y.npy"))
path = sys.argv[2] if len(sys.argv) > 2 else None
out = {}
def tolist(a):
    if hasattr(a, "to_numpy"):
        a = a.to_numpy()
    if hasattr(a, "detach"):
        a = a.detach().numpy()
    if hasattr(a, "numpy") and not isinstance(a, np.ndarray):
        a = a.numpy()
    return np.asarray(a, dtype=float).tolist()
"""


def case_params() -> list[Any]:
    return [pytest.param(c, id=c.id, marks=c.marks) for c in CASES]


def write_data(root: Path, X: Any, y: Any) -> None:
    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    columns = list(map(str, X.columns)) if hasattr(X, "columns") else None
    # texts as a fixed-width string array: object arrays would need allow_pickle on the MLflow side
    X_arr, y_arr = np.asarray(X), np.asarray(y)
    np.save(root / "X.npy", X_arr.astype(str) if X_arr.dtype == object else X_arr)
    np.save(root / "y.npy", y_arr.astype(str) if y_arr.dtype == object else y_arr)
    (root / "meta.json").write_text(json.dumps({"columns": columns}))
