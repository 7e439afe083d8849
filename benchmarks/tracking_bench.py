"""Tracking and registry benchmark: tureen beside MLflow 3.x, both on a SQLite store, measured in the same run.

    .venv/bin/python benchmarks/tracking_bench.py            # full size (MLflow's side takes ~10 minutes)
    .venv/bin/python benchmarks/tracking_bench.py --scale 0.1  # a quick look (workloads scaled down)
    .venv/bin/python benchmarks/tracking_bench.py --json out.json

Each side runs in its own interpreter (tureen in this venv, MLflow in the peer venv at
``.cache/mlflow-venv``, or ``--mlflow-python``): this file never imports mlflow into tureen's venv. The sides
alternate scenario by scenario (so changes in machine load hit both alike; the load average is printed). Both
sides get identical workloads, a fresh SQLite database and artifact directory in a temp dir, and use their
public client API with default settings:

* concurrent: 8 processes each logging 2,000 metrics (one call each) into one database; rows present, errors
* log_metric: 10,000 metrics one call at a time
* log_batch: 10,000 metrics in batches of 1,000
* create_run: 1,000 runs
* search_runs: one filter (metric, param and tag clauses) over 10,000 runs (seeded with SQL, not timed;
  median of 5 searches)
* log_model: sklearn ``log_model(..., registered_model_name=...)`` of a scaled LogisticRegression
  pipeline (median of 3)
* load: ``pyfunc.load_model("models:/churn/Production")`` + predict of 5 rows in a fresh process, wall
  time of the whole process (median of 3)

Targets (issue 3, raised by issue 14): the first five at least 5x faster than MLflow, the last two at most half
of MLflow's time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MLFLOW_PYTHON = ROOT / ".cache" / "mlflow-venv" / "bin" / "python"


# ---------------------------------------------------------------------------------------------------------
# one small adapter per tool: the same operations through each tool's public client API
# ---------------------------------------------------------------------------------------------------------
class Side:
    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.db = workdir / "store.db"
        self.uri = f"sqlite:///{self.db}"
        self.artifacts = workdir / "artifacts"
        if name == "tureen":
            os.environ["TUREEN_HOME"] = str(workdir / "home")
            os.environ["TUREEN_TRACKING_URI"] = self.uri
            os.environ["TUREEN_ARTIFACT_ROOT"] = str(self.artifacts)
            from tureen.tracking import TrackingClient
            from tureen.tracking.entities import Metric

            self.client = TrackingClient(self.uri)
        else:
            import logging

            logging.getLogger("mlflow").setLevel(logging.ERROR)
            import warnings

            warnings.filterwarnings("ignore")
            import mlflow
            from mlflow import MlflowClient
            from mlflow.entities import Metric

            mlflow.set_tracking_uri(self.uri)
            self.client = MlflowClient(self.uri)
        self.Metric = Metric

    def experiment(self, name: str) -> str:
        if self.name == "tureen":
            return self.client.create_experiment(name)
        return self.client.create_experiment(name, artifact_location=(self.artifacts / name).as_uri())

    def run(self, exp: str) -> str:
        return self.client.create_run(exp).info.run_id


def _concurrent_worker(side_name: str, workdir: str, n: int, queue: Any) -> None:
    side = Side(side_name, Path(workdir))
    errors = 0
    run_id = None
    try:
        run_id = side.run("0")
        for step in range(n):
            try:
                side.client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
            except Exception:  # noqa: BLE001 - counted, that is the measurement
                errors += 1
    except Exception:  # noqa: BLE001
        errors += n
    queue.put((run_id, errors))


def bench_concurrent(side: Side, scale: float) -> dict[str, Any]:
    n = max(10, int(2000 * scale))
    side.client.search_experiments()  # the schema exists before the race starts, for both tools
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_concurrent_worker, args=(side.name, str(side.workdir), n, queue)) for _ in range(8)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    seconds = time.perf_counter() - start
    rows = 0
    for run_id, _ in results:
        if run_id:
            rows += len(side.client.get_metric_history(run_id, "loss"))
    return {"seconds": seconds, "rows": rows, "expected_rows": 8 * n,
            "errors": sum(e for _, e in results)}


def bench_log_metric(side: Side, scale: float) -> dict[str, Any]:
    n = max(100, int(10000 * scale))
    run_id = side.run(side.experiment("single"))
    start = time.perf_counter()
    for i in range(n):
        side.client.log_metric(run_id, "m", float(i), step=i)
    return {"seconds": time.perf_counter() - start, "n": n}


def bench_log_batch(side: Side, scale: float) -> dict[str, Any]:
    n = max(1000, int(10000 * scale))
    run_id = side.run(side.experiment("batch"))
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for offset in range(0, n, 1000):
        side.client.log_batch(run_id, metrics=[side.Metric("m", float(i), now, i) for i in range(offset, offset + 1000)])
    return {"seconds": time.perf_counter() - start, "n": n}


def bench_create_run(side: Side, scale: float) -> dict[str, Any]:
    n = max(50, int(1000 * scale))
    exp = side.experiment("runs")
    start = time.perf_counter()
    for _ in range(n):
        side.client.create_run(exp)
    return {"seconds": time.perf_counter() - start, "n": n}


def _seed_runs(side: Side, exp: str, n: int) -> None:
    """n runs with metric auc, param C and tag team, written straight into each tool's tables (not timed)."""
    import sqlite3

    now = int(time.time() * 1000)
    runs, metrics, params, tags = [], [], [], []
    for i in range(n):
        rid = uuid.uuid4().hex
        auc = (i % 100) / 100
        runs.append((rid, f"run-{i}", int(exp), now - i, now - i + 5, f"file:///x/{rid}/artifacts"))
        metrics.append((rid, "auc", auc, now, 0))
        params.append((rid, "C", str(i % 4)))
        tags.append((rid, "team", "a" if i % 2 else "b"))
    with sqlite3.connect(side.db) as conn:
        if side.name == "tureen":
            conn.executemany("INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, "
                             "artifact_uri, lifecycle_stage) VALUES (?, ?, ?, 'u', 'FINISHED', ?, ?, ?, 'active')", runs)
        else:  # MLflow's runs table has four more NOT NULL source columns
            conn.executemany("INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, "
                             "artifact_uri, lifecycle_stage, source_type, source_name, entry_point_name, "
                             "source_version) VALUES (?, ?, ?, 'u', 'FINISHED', ?, ?, ?, 'active', 'LOCAL', '', '', '')",
                             runs)
        conn.executemany("INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) "
                         "VALUES (?, ?, ?, ?, ?, 0)", metrics)
        conn.executemany("INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) "
                         "VALUES (?, ?, ?, ?, ?, 0)", metrics)
        conn.executemany("INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)", params)
        conn.executemany("INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)", tags)


def bench_search(side: Side, scale: float) -> dict[str, Any]:
    n = max(500, int(10000 * scale))
    exp = side.experiment("search")
    _seed_runs(side, exp, n)
    flt = "metrics.auc > 0.5 AND params.C = '1' AND tags.team = 'a'"
    times, found = [], 0
    for _ in range(5):
        start = time.perf_counter()
        found = len(side.client.search_runs([exp], flt, max_results=1000))
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "n": n, "found": found}


def _sk_model() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y), X


def bench_log_model(side: Side, scale: float) -> dict[str, Any]:
    model, X = _sk_model()
    times, version = [], None
    for _ in range(3):
        if side.name == "tureen":
            import tureen
            from tureen import flavors

            start = time.perf_counter()
            with tureen.start_run():
                info = flavors.sklearn.log_model(model, name="model", input_example=X[:5],
                                                 registered_model_name="churn")
            times.append(time.perf_counter() - start)
        else:
            import mlflow

            start = time.perf_counter()
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(model, name="model", input_example=X[:5],
                                                registered_model_name="churn")
            times.append(time.perf_counter() - start)
        version = info.registered_model_version
    side.client.transition_model_version_stage("churn", str(version), "Production")
    X[:5].to_csv(side.workdir / "rows.csv", index=False)
    return {"seconds": statistics.median(times)}


_LOAD_CODE = {
    "tureen": ("import pandas as pd, tureen.pyfunc as p; m = p.load_model('models:/churn/Production'); "
               "print(list(m.predict(pd.read_csv({csv!r}))))"),
    "mlflow": ("import pandas as pd, mlflow, mlflow.pyfunc as p; mlflow.set_tracking_uri({uri!r}); "
               "m = p.load_model('models:/churn/Production'); print(list(m.predict(pd.read_csv({csv!r}))))"),
}


def bench_load(side: Side, scale: float) -> dict[str, Any]:
    code = _LOAD_CODE[side.name].format(uri=side.uri, csv=str(side.workdir / "rows.csv"))
    env = dict(os.environ)
    times, out = [], ""
    for _ in range(3):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(f"{side.name} load failed: {proc.stderr[-2000:]}")
        out = proc.stdout.strip().splitlines()[-1]
    return {"seconds": statistics.median(times), "prediction": out}


SCENARIOS = [
    ("concurrent", bench_concurrent, "8 procs x 2,000 log_metric, one SQLite file", 5.0),
    ("log_metric", bench_log_metric, "10,000 log_metric calls", 5.0),
    ("log_batch", bench_log_batch, "10,000 metrics via log_batch (1,000 each)", 5.0),
    ("create_run", bench_create_run, "1,000 create_run", 5.0),
    ("search_runs", bench_search, "search_runs, 3-clause filter over 10,000 runs", 5.0),
    ("log_model", bench_log_model, "sklearn log_model + register", 2.0),
    ("load", bench_load, "pyfunc.load_model(models:/churn/Production), fresh process", 2.0),
]


#: scenarios measured together (load needs the model registered by log_model)
GROUPS = [["concurrent"], ["log_metric"], ["log_batch"], ["create_run"], ["search_runs"], ["log_model", "load"]]


def run_side(name: str, scale: float, only: list[str] | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        side = Side(name, Path(tmp))
        for key, fn, _label, _target in SCENARIOS:
            if only and key not in only:
                continue
            try:
                results[key] = fn(side, scale)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other scenarios
                results[key] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            print(f"[{name}] {key}: {results[key]}", file=sys.stderr, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="workload size factor (1.0 = the issue's sizes)")
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--mlflow-python", default=str(DEFAULT_MLFLOW_PYTHON))
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--side", choices=["tureen", "mlflow"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a child: run one tool's side and print its results as JSON
        print(json.dumps(run_side(args.side, args.scale, args.only)))
        return
    if not Path(args.mlflow_python).exists():
        sys.exit(f"No interpreter at {args.mlflow_python} for MLflow's side (create the MLflow peer venv first)")
    load_before = os.getloadavg()
    # The two sides alternate group by group, so a change in machine load hits both alike.
    sides: dict[str, dict[str, Any]] = {"tureen": {}, "mlflow": {}}
    for group in GROUPS:
        wanted = [k for k in group if not args.only or k in args.only]
        if not wanted:
            continue
        for name, python in (("tureen", sys.executable), ("mlflow", args.mlflow_python)):
            proc = subprocess.run([python, __file__, "--side", name, "--scale", str(args.scale), "--only", *wanted],
                                  stdout=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())
            if proc.returncode != 0:
                sys.exit(f"The {name} side failed (exit {proc.returncode})")
            sides[name].update(json.loads(proc.stdout.strip().splitlines()[-1]))
    load_after = os.getloadavg()
    mlflow_version = subprocess.run([args.mlflow_python, "-c", "import mlflow; print(mlflow.__version__)"],
                                    capture_output=True, text=True).stdout.strip()
    print(f"\ntureen vs MLflow {mlflow_version}, SQLite store, scale {args.scale}, {os.cpu_count()} CPUs, "
          f"load average {load_before[0]:.1f} at start, {load_after[0]:.1f} at end")
    print(f"{'scenario':<58} {'tureen':>10} {'MLflow':>10} {'speed-up':>9}  target  ok")
    ok_all = True
    for key, _fn, label, target in SCENARIOS:
        if args.only and key not in args.only:
            continue
        t, m = sides["tureen"].get(key, {}), sides["mlflow"].get(key, {})
        if "error" in t or "error" in m:
            print(f"{label:<58} {'error' if 'error' in t else t['seconds']:>10} "
                  f"{'error' if 'error' in m else m['seconds']:>10}")
            ok_all = ok_all and "error" not in t
            continue
        speedup = m["seconds"] / t["seconds"]
        ok = speedup >= target
        ok_all = ok_all and ok
        print(f"{label:<58} {t['seconds']:>9.3f}s {m['seconds']:>9.3f}s {speedup:>8.1f}x  >={target:.0f}x   "
              f"{'yes' if ok else 'NO'}")
        if key == "concurrent":
            for who, r in (("tureen", t), ("MLflow", m)):
                print(f"    {who}: {r['rows']}/{r['expected_rows']} rows present, {r['errors']} errors")
        if key == "search_runs":
            print(f"    runs found: tureen {t['found']}, MLflow {m['found']}")
        if key == "load":
            print(f"    same predictions: {t['prediction'] == m['prediction']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"scale": args.scale, "mlflow_version": mlflow_version,
                                               "load_average": [load_before, load_after], **sides}, indent=2))
    print("all targets met" if ok_all else "some targets NOT met")


if __name__ == "__main__":
    main()
