"""Flavor benchmark: save, load and 1-row pyfunc predict of each flavor's benchmark model, in fresh processes.

One command, tureen beside MLflow 3.x measured in the same run:

    .venv/bin/python benchmarks/flavors_bench.py [xgboost lightgbm pytorch tensorflow statsmodels onnx spacy spark fastai]

Each measurement is a fresh interpreter: "save" builds the model (untimed) and times ``save_model`` with the
tool's defaults (MLflow infers requirements in a subprocess; tureen in process); "load" times ``import`` of the
pyfunc loader + ``pyfunc.load_model`` of the model that tool saved, and "predict" the first 1-row ``predict``
after it; "warm predict" is the median 1-row pyfunc ``predict`` after that, beside the same prediction made
directly on the raw model (``get_raw_model()``, the call printed in the table, ``RAW_CALL``), whose ratio should
stay within 1.3x. The pyfunc and the raw call alternate call by call (so that warm-up, caches and the machine's
load hit both alike). Medians of 3 runs, tureen and MLflow alternating (Spark: 20 warm calls, each a Spark job).
MLflow 3.x has no fastai flavor: its fastai columns say n/a. The load average (``uptime``) is printed with the
figures: the machine is shared, so they are noisy. tureen runs in the project venv, MLflow 3.17.2 in the peer venv; both have the
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

SPARK_SESSION = ("import sys\nos.environ['PYSPARK_PYTHON'] = sys.executable\nfrom pyspark.sql import SparkSession\n"
                 "spark = (SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false')"
                 ".config('spark.driver.host', '127.0.0.1').config('spark.driver.bindAddress', '127.0.0.1')"
                 ".getOrCreate())\nspark.sparkContext.setLogLevel('OFF')\n")

BUILD = {
    "xgboost": "import xgboost as xgb\nmodel = xgb.XGBClassifier(n_estimators=50, max_depth=4).fit(df, y)\nex = df.head(5)",
    "lightgbm": "import lightgbm as lgb\nmodel = lgb.LGBMClassifier(n_estimators=50, verbose=-1).fit(df, y)\nex = df.head(5)",
    "pytorch": ("import torch\ntorch.manual_seed(0)\nmodel = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.ReLU(), "
                "torch.nn.Linear(64, 1)).eval()\nex = X[:5]"),
    "tensorflow": ("import keras\nkeras.utils.set_random_seed(0)\nmodel = keras.Sequential([keras.Input((8,)), "
                   "keras.layers.Dense(64, activation='relu'), keras.layers.Dense(1)])\nex = X[:5]"),
    "statsmodels": "import statsmodels.api as sm\nmodel = sm.OLS(y.astype(float), df).fit()\nex = df.head(5)",
    "onnx": ("import onnx\nfrom onnx import TensorProto, helper, numpy_helper\nr = np.random.default_rng(1)\n"
             "w1 = numpy_helper.from_array(r.normal(size=(8, 64)).astype('float32'), 'w1')\n"
             "w2 = numpy_helper.from_array(r.normal(size=(64, 1)).astype('float32'), 'w2')\n"
             "nodes = [helper.make_node('MatMul', ['x', 'w1'], ['h']), helper.make_node('Relu', ['h'], ['r']), "
             "helper.make_node('MatMul', ['r', 'w2'], ['y'])]\n"
             "g = helper.make_graph(nodes, 'mlp', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [None, 8])], "
             "[helper.make_tensor_value_info('y', TensorProto.FLOAT, [None, 1])], initializer=[w1, w2])\n"
             "model = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])\nmodel.ir_version = 8\n"
             "ex = X[:5]"),
    "spacy": ("import spacy, random\nfrom spacy.training import Example\nrandom.seed(0); spacy.util.fix_random_seed(0)\n"
              "model = spacy.blank('en')\nmodel.add_pipe('textcat_multilabel').add_label('POSITIVE')\n"
              "texts = ['I love this', 'a happy day', 'I hate that', 'a sad night']\n"
              "exs = [Example.from_dict(model.make_doc(t), {'cats': {'POSITIVE': float(i < 2)}}) for i, t in enumerate(texts)]\n"
              "opt = model.initialize(lambda: exs)\nfor _ in range(5): model.update(exs, sgd=opt)\n"
              "ex = pd.DataFrame({'text': texts})"),
    "spark": (SPARK_SESSION + "from pyspark.ml import Pipeline\nfrom pyspark.ml.classification import LogisticRegression\n"
              "from pyspark.ml.feature import VectorAssembler\n"
              "stages = [VectorAssembler(inputCols=list(df.columns), outputCol='features'), LogisticRegression(maxIter=10)]\n"
              "model = Pipeline(stages=stages).fit(spark.createDataFrame(df.assign(label=y.astype(float))))\n"
              "ex = df.head(5)"),
    "fastai": ("import warnings\nfrom fastai.tabular.all import CategoryBlock, Normalize, TabularDataLoaders, set_seed, "
               "tabular_learner\nset_seed(0)\nwith warnings.catch_warnings():\n    warnings.simplefilter('ignore')\n"
               "    dls = TabularDataLoaders.from_df(df.assign(label=y), cont_names=list(df.columns), y_names='label', "
               "y_block=CategoryBlock(), procs=[Normalize], bs=64, valid_idx=list(range(400, 500)))\n"
               "    model = tabular_learner(dls, layers=[64])\n    with model.no_bar(), model.no_logging():\n"
               "        model.fit(1)\nex = df.head(5)"),
}
ONE_ROW = {"xgboost": "df.head(1)", "lightgbm": "df.head(1)", "pytorch": "X[:1]", "tensorflow": "X[:1]",
           "statsmodels": "df.head(1)", "onnx": "X[:1]", "spacy": "pd.DataFrame({'text': ['what a happy day']})",
           "spark": "df.head(1)", "fastai": "df.head(1)"}
#: the same 1-row prediction made directly on the framework's own object (``raw = model.get_raw_model()``)
RAW_CALL = {
    "xgboost": "raw.predict(row)", "lightgbm": "raw.predict(row)", "statsmodels": "raw.predict(row)",
    "pytorch": "raw(torch.from_numpy(row))", "tensorflow": "raw(row, training=False)",
    "onnx": "raw.run(None, {'x': row})", "spacy": "[d.cats for d in raw.pipe(row['text'].tolist())]",
    "spark": "raw.transform(spark.createDataFrame(row)).select('prediction').toPandas()['prediction']",
    # fastai's documented batch prediction (what MLflow 2.x's wrapper called), its progress bar off
    "fastai": "fastai_preds(raw, row)",
}
RAW_SETUP = {"pytorch": "import torch\ntorch.set_grad_enabled(False)",
             "spark": "from pyspark.sql import SparkSession\nspark = SparkSession.getActiveSession()",
             "fastai": ("def fastai_preds(learn, data):\n    with learn.no_bar():\n"
                        "        return learn.get_preds(dl=learn.dls.test_dl(data))[0]")}
RAW_SHOWN = {"fastai": "with raw.no_bar(): raw.get_preds(dl=raw.dls.test_dl(row))[0]"}
WARM_CALLS = {"spark": 20}

SAVE = {
    "tureen": {
        "xgboost": "from tureen.flavors import xgboost as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "lightgbm": "from tureen.flavors import lightgbm as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "pytorch": "from tureen.flavors import pytorch as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "tensorflow": "from tureen.flavors import tensorflow as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "statsmodels": "from tureen.flavors import statsmodels as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "onnx": "from tureen.flavors import onnx as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "spacy": "from tureen.flavors import spacy as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "spark": "from tureen.flavors import spark as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "fastai": "from tureen.flavors import fastai as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
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
        "statsmodels": "import mlflow.statsmodels as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "onnx": "import mlflow.onnx as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "spacy": "import mlflow.spacy as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
        "spark": "import mlflow.spark as f\nsave = lambda p: f.save_model(model, p, input_example=ex)",
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
{raw_setup}
raw = model.get_raw_model()
def timed_pair(a, b, n):
    ta, tb = [], []
    for _ in range(n):  # call by call: whatever the machine does in between hits both
        s = time.perf_counter(); a(); ta.append(time.perf_counter() - s)
        s = time.perf_counter(); b(); tb.append(time.perf_counter() - s)
    return sorted(ta)[n // 2], sorted(tb)[n // 2]
warm, direct = timed_pair(lambda: model.predict(row), lambda: {raw_call}, {n})
print(json.dumps({{"load": t2 - t1, "predict": t3 - t2, "warm": warm, "raw": direct}}))
"""

IMPORT_CHECK = """
import sys, json
import tureen.flavors.{name}
print(json.dumps({{"imported": any(m == "{fw}" or m.startswith("{fw}.") for m in sys.modules)}}))
"""
FRAMEWORK = {"xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "torch", "tensorflow": "tensorflow",
             "statsmodels": "statsmodels", "onnx": "onnx", "spacy": "spacy", "spark": "pyspark", "fastai": "fastai"}


def measure(pythons: dict[str, str], flavor: str, workdir: Path) -> dict[str, dict[str, float]]:
    """Both tools, alternating run by run, so that the shared machine's load hits both alike."""
    runs: dict[str, dict[str, list[float]]] = {tool: {} for tool in pythons}
    for i in range(REPEAT):
        for tool, python in pythons.items():
            if flavor not in SAVE[tool]:  # MLflow 3.x has no such flavor
                continue
            path = workdir / f"{tool}-{flavor}-{i}"
            code = SAVE_SCRIPT.format(data=DATA, build=BUILD[flavor], save=SAVE[tool][flavor])
            runs[tool].setdefault("save", []).append(run_json(python, code, str(path))["save"])
            pkg = "tureen" if tool == "tureen" else "mlflow"
            script = LOAD_SCRIPT.format(row=ONE_ROW[flavor], pkg=pkg, raw_call=RAW_CALL[flavor],
                                        raw_setup=RAW_SETUP.get(flavor, ""), n=WARM_CALLS.get(flavor, 200))
            out = run_json(python, script, str(workdir / f"{tool}-{flavor}-0"))
            for key, value in out.items():
                runs[tool].setdefault(key, []).append(value)
    return {tool: {k: statistics.median(v) for k, v in steps.items()} for tool, steps in runs.items()}


def main(argv: list[str]) -> int:
    flavors = argv or list(BUILD)
    tureen_py = sys.executable
    mlflow_py = mlflow_python()
    import subprocess

    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"{'flavor':<11} {'step':<24} {'tureen':>9} {'MLflow 3.17.2':>14} {'ratio':>7}")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for flavor in flavors:
            lazy = not run_json(tureen_py, IMPORT_CHECK.format(name=flavor, fw=FRAMEWORK[flavor]))["imported"]
            both = measure({"tureen": tureen_py, "mlflow": mlflow_py}, flavor, Path(tmp))
            t, m = both["tureen"], both["mlflow"]
            for step, label in (("save", "save_model"), ("load", "pyfunc.load_model (fresh)"),
                                ("predict", "first 1-row predict"), ("warm", "warm 1-row predict")):
                if not m:
                    print(f"{flavor:<11} {label:<24} {t[step] * 1000:>7.2f}ms {'n/a':>14}")
                    continue
                ratio = m[step] / t[step] if t[step] else float("inf")
                print(f"{flavor:<11} {label:<24} {t[step] * 1000:>7.2f}ms {m[step] * 1000:>12.2f}ms {ratio:>6.1f}x")
                if t[step] > m[step] * 1.1 + 0.005:
                    failures.append(f"{flavor} {label}")
            over = t["warm"] / t["raw"] if t["raw"] else float("inf")
            theirs = f"{m['raw'] * 1000:>12.3f}ms" if m else f"{'n/a':>14}"
            ml_over = f"{m['warm'] / m['raw']:.2f}x" if m and m["raw"] else "n/a"
            print(f"{flavor:<11} {'raw framework 1-row call':<24} {t['raw'] * 1000:>7.3f}ms {theirs}"
                  f"   pyfunc/raw: tureen {over:.2f}x, MLflow {ml_over}")
            print(f"{flavor:<11} {'  (the raw call)':<24} {RAW_SHOWN.get(flavor, RAW_CALL[flavor])}")
            if over > 1.3:
                failures.append(f"{flavor} pyfunc over raw {over:.2f}x")
            print(f"{flavor:<11} {'import is lazy':<24} {'yes' if lazy else 'NO':>9}")
            if not lazy:
                failures.append(f"{flavor} import")
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    if failures:
        print("slower than MLflow (or eager import):", ", ".join(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
