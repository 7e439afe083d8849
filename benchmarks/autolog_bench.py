"""Autologging overhead: tureen beside MLflow 3.x autolog, measured in the same run.

    .venv/bin/python benchmarks/autolog_bench.py              # both scenarios, 5 repeats
    .venv/bin/python benchmarks/autolog_bench.py --repeats 3 --json out.json

Scenarios (identical on both sides, each side in its own fresh interpreter; tureen in this venv, MLflow in the
peer venv ``.cache/mlflow-venv`` or ``--mlflow-python``; the sides alternate):

* sklearn: ``LogisticRegression(max_iter=500).fit`` on 1,000 rows x 20 features (binary)
* keras: a 2-layer ``keras.Sequential`` ``fit`` for 10 epochs on 1,000 rows x 20 features (batch 64)

Each worker trains once to warm up, times ``repeats`` fits without autologging, turns on the framework's
autolog with default settings (``tureen.flavors.<flavor>.autolog()`` / ``mlflow.<flavor>.autolog()``, SQLite
store in a temp dir), times the first autologged fit and then ``repeats`` more (each makes a run with params,
metrics, the model and, for sklearn, the confusion-matrix/ROC/PR plots: matplotlib must be in both venvs, the
line says PLOTS MISSING otherwise). Overhead = median autologged fit - median plain fit; the first autologged fit
(one-time imports and caches) is reported on its own. Target (issue 6): tureen's overhead at most half of
MLflow's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MLFLOW_PYTHON = ROOT / ".cache" / "mlflow-venv" / "bin" / "python"

WORKER = r'''
import json, os, statistics, sys, time, warnings
warnings.simplefilter("ignore")
tool, scenario, repeats, workdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(size=(1000, 20)).astype("float32")
y = (X[:, :3].sum(axis=1) > 0).astype("int64")

if scenario == "sklearn":
    from sklearn.linear_model import LogisticRegression
    def fit():
        return LogisticRegression(max_iter=500).fit(X, y)
else:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    def fit():
        model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(X, y, epochs=10, batch_size=64, verbose=0)
        return model

def timed():
    t = time.perf_counter()
    fit()
    return time.perf_counter() - t

fit()
plain = [timed() for _ in range(repeats)]
t = time.perf_counter()
if tool == "tureen":
    os.environ["TUREEN_HOME"] = workdir
    import tureen
    tureen.set_tracking_uri(f"sqlite:///{workdir}/store.db")
    if scenario == "sklearn":
        import tureen.flavors.sklearn as flavor
    else:
        import tureen.flavors.tensorflow as flavor
    flavor.autolog()
else:
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/store.db")
    if scenario == "sklearn":
        mlflow.sklearn.autolog()
    else:
        mlflow.keras.autolog()
setup = time.perf_counter() - t
first = timed()
auto = [timed() for _ in range(repeats)]
if tool == "tureen":
    runs = tureen.search_runs(output_format="list")
    ok = len(runs) == repeats + 1 and all(r.outputs.model_outputs and r.data.metrics for r in runs)
    client = tureen.TrackingClient()
else:
    runs = mlflow.search_runs(output_format="list")
    ok = len(runs) == repeats + 1 and all(r.data.metrics for r in runs)
    client = mlflow.MlflowClient()
plots = None
if scenario == "sklearn":  # both sides draw the classifier plots (MLflow needs matplotlib in its venv)
    plots = sorted(f.path for f in client.list_artifacts(runs[0].info.run_id) if f.path.endswith(".png"))
print(json.dumps({"plain": plain, "auto": auto, "first": first, "setup": setup, "runs_ok": ok, "plots": plots}))
'''


def _run(python: str, tool: str, scenario: str, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"autolog-bench-{tool}-") as workdir:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_", "MLFLOW_", "PYTHONPATH"))}
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        proc = subprocess.run([python, "-c", WORKER, tool, scenario, str(repeats), workdir], capture_output=True,
                              text=True, env=env, cwd=workdir, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{tool} {scenario} worker failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["overhead"] = statistics.median(result["auto"]) - statistics.median(result["plain"])
    result["first_overhead"] = result["first"] - statistics.median(result["plain"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenarios", default="sklearn,keras")
    parser.add_argument("--mlflow-python", default=str(DEFAULT_MLFLOW_PYTHON))
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if not Path(args.mlflow_python).exists():
        raise SystemExit(f"MLflow peer venv not found at {args.mlflow_python} (python tests/_mlflow_peer.py)")
    print(f"load average: {os.getloadavg()[0]:.2f}  repeats: {args.repeats}")
    results: dict[str, dict[str, Any]] = {}
    for scenario in args.scenarios.split(","):
        for tool, python in (("tureen", sys.executable), ("mlflow", args.mlflow_python)):
            results[f"{scenario}/{tool}"] = r = _run(python, tool, scenario, args.repeats)
            print(f"  {scenario:8} {tool:7} plain {statistics.median(r['plain']) * 1000:8.1f} ms   autologged "
                  f"{statistics.median(r['auto']) * 1000:8.1f} ms   overhead {r['overhead'] * 1000:8.1f} ms   "
                  f"first-fit overhead {r['first_overhead'] * 1000:8.1f} ms   autolog() {r['setup'] * 1000:7.1f} ms"
                  f"{'' if r['runs_ok'] else '   RUNS MISSING'}"
                  f"{'   PLOTS MISSING' if r.get('plots') is not None and len(r['plots']) != 3 else ''}")
    print()
    for scenario in args.scenarios.split(","):
        ours, theirs = results[f"{scenario}/tureen"], results[f"{scenario}/mlflow"]
        ratio = ours["overhead"] / theirs["overhead"] if theirs["overhead"] > 0 else float("nan")
        verdict = "meets" if ratio <= 0.5 else "MISSES"
        print(f"{scenario}: tureen overhead {ours['overhead'] * 1000:.1f} ms vs MLflow {theirs['overhead'] * 1000:.1f} ms"
              f" -> {ratio:.2f}x of MLflow's ({verdict} the <= 0.5x target)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
