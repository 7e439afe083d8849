"""Model evaluation benchmark: ``tureen.models.evaluate`` beside MLflow 3.17's ``mlflow.models.evaluate``,
measured in the same run.

    .venv/bin/python benchmarks/evaluate_bench.py              # 5 timed calls per case and side
    .venv/bin/python benchmarks/evaluate_bench.py --repeat 3 --json out.json

Each side runs in its own interpreter (tureen in this venv, MLflow in the peer venv ``.cache/mlflow-venv``,
which has matplotlib, so MLflow draws its plots too); this file never imports mlflow. Both get the same
workload: a scikit-learn model saved by that side's own sklearn flavor, evaluated on a SQLite store in a
fresh temp dir through the public API, inside an active run, with ``evaluators="default"``:

* classifier: a scaled LogisticRegression pipeline on breast_cancer (569 rows, 30 features): 13 metrics,
  5 plots
* multiclass: LogisticRegression on iris: 8 metrics, 3 plots, the per-class CSV, the confusion matrix
* regressor: LinearRegression on diabetes (442 rows): 10 metrics

Warm: the median of ``--repeat`` calls after one untimed call (imports and first-use costs paid).
Cold: the wall time of a fresh process that imports the tool, loads the model and evaluates once (median of 3).
The cases alternate side by side so machine load hits both alike; the load average is printed (the machine
is shared, so figures are noisy). Target (issue 15): faster than MLflow.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import clean_env, mlflow_python, run_json, table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

SIDE = r'''
import json, sys, time, statistics, os
from pathlib import Path
tool, work, case, repeat, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
t_start = time.perf_counter()
if tool == "mlflow":
    import mlflow
    evaluate, start_run = mlflow.models.evaluate, mlflow.start_run
    mlflow.set_tracking_uri(f"sqlite:///{work / 'store.db'}")
else:
    import tureen
    evaluate, start_run = tureen.models.evaluate, tureen.start_run
    tureen.set_tracking_uri(f"sqlite:///{work / 'store.db'}")
import pandas as pd
model_dir = work / f"model-{case}"
df = pd.read_csv(work / f"{case}.csv")
kind = "regressor" if case == "regressor" else "classifier"
def once():
    with start_run():
        return evaluate(str(model_dir), df, targets="label", model_type=kind, evaluators="default")
if mode == "cold":
    res = once()
    print(json.dumps({"seconds": time.perf_counter() - t_start, "metrics": len(res.metrics),
                      "artifacts": sorted(res.artifacts)}))
    sys.exit(0)
res = once()
times = []
for _ in range(repeat):
    t = time.perf_counter()
    res = once()
    times.append(time.perf_counter() - t)
print(json.dumps({"seconds": statistics.median(times), "metrics": len(res.metrics), "artifacts": sorted(res.artifacts)}))
'''

PREPARE = r'''
import sys
from pathlib import Path
tool, work = sys.argv[1], Path(sys.argv[2])
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
cases = {"classifier": (load_breast_cancer, make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
         "multiclass": (load_iris, LogisticRegression(max_iter=2000)),
         "regressor": (load_diabetes, LinearRegression())}
for case, (loader, est) in cases.items():
    X, y = loader(return_X_y=True, as_frame=True)
    model = est.fit(X, y)
    X.assign(label=y).to_csv(work / f"{case}.csv", index=False)
    if tool == "mlflow":
        import mlflow.sklearn
        mlflow.sklearn.save_model(model, str(work / f"model-{case}"), pip_requirements=["scikit-learn"])
    else:
        from tureen import flavors
        flavors.sklearn.save_model(model, work / f"model-{case}")
print("{}")
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cold-repeat", type=int, default=3)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    pythons = {"tureen": sys.executable, "mlflow": mlflow_python()}
    env = clean_env()
    env["PYTHONPATH"] = str(ROOT)  # this checkout's tureen on the tureen side (harmless for MLflow's)
    env["MPLBACKEND"] = "Agg"
    rows, results = [], {}
    with tempfile.TemporaryDirectory(prefix="evaluate-bench-") as tmp:
        works = {}
        for tool, py in pythons.items():
            works[tool] = Path(tmp) / tool
            works[tool].mkdir()
            run_json(py, PREPARE, tool, str(works[tool]), env=env)
        for case in ("classifier", "multiclass", "regressor"):
            for mode, n in (("warm", args.repeat), ("cold", args.cold_repeat)):
                got = {}
                for tool in ("tureen", "mlflow"):
                    if mode == "warm":
                        got[tool] = run_json(pythons[tool], SIDE, tool, str(works[tool]), case, str(n), mode, env=env)
                    else:
                        samples = [run_json(pythons[tool], SIDE, tool, str(works[tool]), case, "1", mode, env=env)
                                   for _ in range(n)]
                        got[tool] = {**samples[-1], "seconds": statistics.median(s["seconds"] for s in samples)}
                results[f"{case} {mode}"] = got
                label = f"evaluate {case} ({mode}: " + ("median of calls" if mode == "warm" else
                                                        "process incl. imports") + ")"
                rows.append((label, got["tureen"]["seconds"], got["mlflow"]["seconds"], "faster than MLflow"))
                if mode == "warm":
                    ours, theirs = set(got["tureen"]["artifacts"]), set(got["mlflow"]["artifacts"])
                    if ours != theirs:
                        print(f"note: {case}: artifacts differ: tureen {sorted(ours)}, MLflow {sorted(theirs)}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (shared machine: figures are noisy)")
    print(table(rows))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"results": results, "loadavg": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
