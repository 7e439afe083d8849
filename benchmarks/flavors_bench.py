"""Flavor benchmark: save, load and 1-row pyfunc predict of each flavor's benchmark model, in fresh processes.

One command, tureen beside MLflow 3.x measured in the same run:

    .venv/bin/python benchmarks/flavors_bench.py [xgboost lightgbm pytorch tensorflow]

Each measurement is a fresh interpreter: "save" builds the model (untimed) and times ``save_model`` with the
tool's defaults (MLflow infers requirements in a subprocess; tureen in process); "load" times ``import`` of the
pyfunc loader + ``pyfunc.load_model`` of the model that tool saved, and "predict" the first 1-row ``predict``
after it. Medians of 3 runs. tureen runs in the project venv, MLflow 3.17.2 in the peer venv; both have the
same framework versions. Also checked: ``import tureen.flavors.<name>`` does not import the framework.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from _common import mlflow_python, run_json

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 3

DATA = """
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
X = rng.normal(size=(500, 8)).astype("float32")
y = (X[:, 0] + X[:, 1] > 0).astype(int)
df = pd.DataFrame(X.astype("float64"), columns=[f"f{i}" for i in range(8)])
"""

BUILD = {
    "xgboost": "import xgboost as xgb\nmodel = xgb.XGBClassifier(n_estimators=50, max_depth=4).fit(df, y)\nex = df.head(5)",
    "lightgbm": "import lightgbm as lgb\nmodel = lgb.LGBMClassifier(n_estimators=50, verbose=-1).fit(df, y)\nex = df.head(5)",
    "pytorch": ("import torch\ntorch.manual_seed(0)\nmodel = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.ReLU(), "
                "torch.nn.Linear(64, 1)).eval()\nex = X[:5]"),
    "tensorflow": ("import keras\nkeras.utils.set_random_seed(0)\nmodel = keras.Sequential([keras.Input((8,)), "
                   "keras.layers.Dense(64, activation='relu'), keras.layers.Dense(1)])\nex = X[:5]"),
}
ONE_ROW = {"xgboost": "df.head(1)", "lightgbm": "df.head(1)", "pytorch": "X[:1]", "tensorflow": "X[:1]"}

SAVE = {
    "tureen": {
        "xgboost": "from tureen.flavors import xgboost as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "lightgbm": "from tureen.flavors import lightgbm as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "pytorch": "from tureen.flavors import pytorch as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "tensorflow": "from tureen.flavors import tensorflow as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
    },
    "mlflow": {
        "xgboost": "import mlflow.xgboost as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "lightgbm": "import mlflow.lightgbm as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "pytorch": ("import mlflow.pytorch as f\nfrom mlflow.models import infer_signature\n"
                    "sig = infer_signature(ex, model(torch.from_numpy(ex)).detach().numpy())\n"
                    "save = lambda p: f.save_model(model, p, input_example=ex, signature=sig)"),
        # mlflow.keras writes the example before creating the directory: create it first
        "tensorflow": ("import mlflow.keras as f\nfrom mlflow.models import infer_signature\n"
                       "sig = infer_signature(ex, model(ex).numpy())\n"
                       "save = lambda p: (os.makedirs(p), f.save_model(model, p, input_example=ex, signature=sig))"),
    },
}

SAVE_SCRIPT = """
import sys, json, time, os, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
{data}
{build}
{save}
t = time.perf_counter()
save(sys.argv[1])
print(json.dumps({{"save": time.perf_counter() - t}}))
"""

LOAD_SCRIPT = """
import time
t0 = time.perf_counter()
import sys, json, os, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
X = rng.normal(size=(500, 8)).astype("float32")
df = pd.DataFrame(X.astype("float64"), columns=[f"f{{i}}" for i in range(8)])
row = {row}
t1 = time.perf_counter()
from {pkg} import pyfunc
model = pyfunc.load_model(sys.argv[1])
t2 = time.perf_counter()
model.predict(row)
t3 = time.perf_counter()
print(json.dumps({{"load": t2 - t1, "predict": t3 - t2}}))
"""

IMPORT_CHECK = """
import sys, json
import tureen.flavors.{name}
print(json.dumps({{"imported": any(m == "{fw}" or m.startswith("{fw}.") for m in sys.modules)}}))
"""
FRAMEWORK = {"xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "torch", "tensorflow": "tensorflow"}


def measure(tool: str, python: str, flavor: str, workdir: Path) -> dict[str, float]:
    saves, loads, predicts = [], [], []
    for i in range(REPEAT):
        path = workdir / f"{tool}-{flavor}-{i}"
        code = SAVE_SCRIPT.format(data=DATA, build=BUILD[flavor], save=SAVE[tool][flavor])
        saves.append(run_json(python, code, str(path))["save"])
        pkg = "tureen" if tool == "tureen" else "mlflow"
        out = run_json(python, LOAD_SCRIPT.format(row=ONE_ROW[flavor], pkg=pkg), str(workdir / f"{tool}-{flavor}-0"))
        loads.append(out["load"])
        predicts.append(out["predict"])
    return {"save": statistics.median(saves), "load": statistics.median(loads),
            "predict": statistics.median(predicts)}


def main(argv: list[str]) -> int:
    flavors = argv or list(BUILD)
    tureen_py = sys.executable
    mlflow_py = mlflow_python()
    print(f"{'flavor':<11} {'step':<24} {'tureen':>9} {'MLflow 3.17.2':>14} {'ratio':>7}")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for flavor in flavors:
            lazy = not run_json(tureen_py, IMPORT_CHECK.format(name=flavor, fw=FRAMEWORK[flavor]))["imported"]
            t = measure("tureen", tureen_py, flavor, Path(tmp))
            m = measure("mlflow", mlflow_py, flavor, Path(tmp))
            for step, label in (("save", "save_model"), ("load", "pyfunc.load_model (fresh)"),
                                ("predict", "first 1-row predict")):
                ratio = m[step] / t[step] if t[step] else float("inf")
                print(f"{flavor:<11} {label:<24} {t[step] * 1000:>7.1f}ms {m[step] * 1000:>12.1f}ms {ratio:>6.1f}x")
                if t[step] > m[step] * 1.1 + 0.005:
                    failures.append(f"{flavor} {label}")
            print(f"{flavor:<11} {'import is lazy':<24} {'yes' if lazy else 'NO':>9}")
            if not lazy:
                failures.append(f"{flavor} import")
    if failures:
        print("slower than MLflow (or eager import):", ", ".join(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
