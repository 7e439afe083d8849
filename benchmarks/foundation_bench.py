"""Foundation benchmark: import time, save_model, fresh-process load + predict, in-process predict overhead.

One command, tureen beside MLflow 3.x measured in the same run:

    .venv/bin/python benchmarks/foundation_bench.py

tureen runs in a lean venv (tureen[sklearn]) and MLflow in a lean venv of its own (mlflow, scikit-learn,
skops), so neither pays for unrelated frameworks; the model is a scaled LogisticRegression pipeline on sklearn's breast_cancer data.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import lean_mlflow_python, lean_tureen_python, run_json, table, wall  # noqa: E402

FIT = """
import warnings; warnings.filterwarnings("ignore")
from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import LogisticRegression
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
"""

SAVE = FIT + """
import sys, time, json, shutil
target = sys.argv[1]
{imp}
times = []
for i in range(3):
    shutil.rmtree(target, ignore_errors=True)
    t = time.perf_counter()
    {save}
    times.append(time.perf_counter() - t)
print(json.dumps({{"first": times[0], "warm": sorted(times[1:])[0]}}))
"""

LOAD_PREDICT = """
import sys
{imp}
m = {load}(sys.argv[1])
m.predict(m.input_example[:1] if hasattr(m, "input_example") and m.input_example is not None else None)
"""

OVERHEAD = FIT + """
import sys, json, timeit
{imp}
m = {load}(sys.argv[1])
row = X[:1]
clf.predict(row); m.predict(row)
n = 3000
best = lambda f: min(timeit.repeat(f, number=n, repeat=5)) / n
print(json.dumps({{"raw": best(lambda: clf.predict(row)), "pyfunc": best(lambda: m.predict(row))}}))
"""


def main() -> None:
    tur, mlf = lean_tureen_python(), lean_mlflow_python()
    work = Path(tempfile.mkdtemp(prefix="tureen-bench-"))
    try:
        rows = []
        rows.append(("import tureen / import mlflow (fresh process)",
                     wall(tur, "import tureen", repeat=7) - wall(tur, "pass", repeat=7),
                     wall(mlf, "import mlflow", repeat=7) - wall(mlf, "pass", repeat=7), "tureen < 30 ms"))
        rows.append(("import tureen.pyfunc / import mlflow.pyfunc",
                     wall(tur, "import tureen.pyfunc", repeat=5) - wall(tur, "pass", repeat=5),
                     wall(mlf, "import mlflow.pyfunc", repeat=5) - wall(mlf, "pass", repeat=5), "-"))
        ts = run_json(tur, SAVE.format(imp="from tureen import flavors",
                                       save="flavors.sklearn.save_model(clf, target, input_example=X[:5])"),
                      str(work / "t-model"))
        ms = run_json(mlf, SAVE.format(imp="import mlflow.sklearn",
                                       save="mlflow.sklearn.save_model(clf, target, input_example=X[:5])"),
                      str(work / "m-model"))
        rows.append(("save_model incl. requirements inference (1st call)", ts["first"], ms["first"], "<= 0.1x"))
        rows.append(("save_model incl. requirements inference (warm)", ts["warm"], ms["warm"], "<= 0.1x"))
        # both tools load the model each saved (same estimator, skops format in both)
        t_lp = wall(tur, LOAD_PREDICT.format(imp="from tureen import pyfunc", load="pyfunc.load_model"),
                    str(work / "t-model"))
        m_lp = wall(mlf, LOAD_PREDICT.format(imp="import mlflow.pyfunc", load="mlflow.pyfunc.load_model"),
                    str(work / "m-model"))
        rows.append(("fresh process: load with pyfunc + predict 1 row", t_lp, m_lp, "<= 0.6x"))
        t_cross = wall(tur, LOAD_PREDICT.format(imp="from tureen import pyfunc", load="pyfunc.load_model"),
                       str(work / "m-model"))
        rows.append(("  same, tureen loading MLflow's saved model", t_cross, m_lp, "-"))
        floor = wall(tur, "import sklearn.linear_model, sklearn.pipeline, pandas")
        rows.append(("  floor: import sklearn + pandas", floor, floor, "-"))
        to = run_json(tur, OVERHEAD.format(imp="from tureen import pyfunc", load="pyfunc.load_model"),
                      str(work / "t-model"))
        mo = run_json(mlf, OVERHEAD.format(imp="import mlflow.pyfunc", load="mlflow.pyfunc.load_model"),
                      str(work / "m-model"))
        rows.append(("pyfunc predict 1 row, in process (signature enforced)", to["pyfunc"], mo["pyfunc"], "-"))
        rows.append(("raw estimator predict 1 row (same process)", to["raw"], mo["raw"], "-"))
        print(table(rows))
        print(f"\npyfunc overhead over raw predict: tureen {to['pyfunc'] / to['raw']:.2f}x "
              f"(target <= 1.3x), MLflow {mo['pyfunc'] / mo['raw']:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
