"""Import benchmark: an MLflow file store into SQLite, ``tureen import`` beside MLflow's ``migrate-filestore``.

    .venv/bin/python benchmarks/import_bench.py                # 10,000 runs
    .venv/bin/python benchmarks/import_bench.py --runs 2000    # a quick look
    .venv/bin/python benchmarks/import_bench.py --server       # from a live mlflow server (peer venv)

One synthetic file store in MLflow's layout (``<exp>/meta.yaml``, ``<exp>/<run>/{meta.yaml,params,tags,
metrics}``; each run has 3 params, 3 tags and 2 metrics of 5 points) is imported by both tools into fresh
SQLite files, tureen first, then MLflow 3.17 from the peer venv (``.cache/mlflow-venv``). Printed: seconds and
runs per minute of each (target, issue 14: tureen >= 10,000 runs/minute). The machine's load average is
printed too: on a shared machine both figures move.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MLFLOW = ROOT / ".cache" / "mlflow-venv" / "bin" / "mlflow"


def make_file_store(root: Path, runs: int) -> None:
    exp = root / "1"
    exp.mkdir(parents=True)
    (exp / "meta.yaml").write_text(f"artifact_location: {exp.as_uri()}\ncreation_time: 1\nexperiment_id: '1'\n"
                                   "last_update_time: 1\nlifecycle_stage: active\nname: bench\n")
    for i in range(runs):
        rid = uuid.uuid4().hex
        r = exp / rid
        for sub in ("params", "tags", "metrics"):
            (r / sub).mkdir(parents=True)
        (r / "meta.yaml").write_text(
            f"artifact_uri: {(r / 'artifacts').as_uri()}\nend_time: {1000 + i}\nentry_point_name: ''\n"
            f"experiment_id: '1'\nlifecycle_stage: active\nrun_id: {rid}\nrun_name: run-{i}\nrun_uuid: {rid}\n"
            f"source_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: {i}\nstatus: 3\ntags: []\n"
            "user_id: bench\n")
        for k in ("alpha", "beta", "gamma"):
            (r / "params" / k).write_text(str(i % 7))
        for k in ("mlflow.runName", "mlflow.user", "team"):
            (r / "tags" / k).write_text(f"run-{i}" if k == "mlflow.runName" else "bench")
        for k in ("loss", "acc"):
            (r / "metrics" / k).write_text("".join(f"{1000 + s} {1.0 / (s + 1)} {s}\n" for s in range(5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--server", action="store_true", help="import from a live mlflow server instead")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.server:
        server_main(args.runs)
        return
    from tureen.store._import import import_file_store

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        store = work / "mlruns"
        make_file_store(store, args.runs)
        load = os.getloadavg()[0]
        start = time.perf_counter()
        summary = import_file_store(store, f"sqlite:///{work / 'tureen.db'}")
        ours = time.perf_counter() - start
        assert summary.runs_added == args.runs and summary.verified, summary
        theirs = None
        if not args.skip_mlflow and MLFLOW.exists():
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_", "MLFLOW_", "PYTHONPATH"))}
            start = time.perf_counter()
            subprocess.run([str(MLFLOW), "migrate-filestore", "--source", str(store), "--target",
                            f"sqlite:///{work / 'mlflow.db'}", "--no-progress"], check=True, env=env,
                           capture_output=True)
            theirs = time.perf_counter() - start  # includes MLflow's import time (~10-20 s)
        print(f"import of {args.runs:,} runs (3 params, 3 tags, 2x5 metric points each) into SQLite, "
              f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end")
        print(f"tureen import:             {ours:8.2f}s  {args.runs / ours * 60:10,.0f} runs/minute  "
              f"(target >= 10,000)  verified={summary.verified}")
        if theirs is not None:
            print(f"mlflow migrate-filestore:  {theirs:8.2f}s  {args.runs / theirs * 60:10,.0f} runs/minute")



# ---------------------------------------------------------------------------------------------------------
# from a live MLflow server (``--server``): the same runs in an MLflow-made SQLite database behind
# ``mlflow server`` (peer venv), imported over its REST API
# ---------------------------------------------------------------------------------------------------------
def seed_mlflow_db(python: Path, db: Path, runs: int) -> str:
    """An MLflow 3.17 database made by MLflow, then filled with SQL (not timed); returns the experiment id."""
    import sqlite3

    code = ("import sys; from mlflow import MlflowClient; c = MlflowClient('sqlite:///' + sys.argv[1]); "
            "print(c.create_experiment('bench', artifact_location='file:///tmp/bench-art'))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_", "MLFLOW_", "PYTHONPATH"))}
    out = subprocess.run([str(python), "-c", code, str(db)], check=True, capture_output=True, text=True, env=env)
    exp = out.stdout.strip().splitlines()[-1]
    rows, params, tags, metrics, latest = [], [], [], [], []
    for i in range(runs):
        rid = uuid.uuid4().hex
        rows.append((rid, f"run-{i}", int(exp), i, 1000 + i, f"file:///tmp/bench-art/{rid}/artifacts"))
        params += [(rid, k, str(i % 7)) for k in ("alpha", "beta", "gamma")]
        tags += [(rid, "mlflow.runName", f"run-{i}"), (rid, "mlflow.user", "bench"), (rid, "team", "bench")]
        for k in ("loss", "acc"):
            metrics += [(rid, k, 1.0 / (s + 1), 1000 + s, s) for s in range(5)]
            latest.append((rid, k, 1.0 / 5, 1004, 4))
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, "
                         "artifact_uri, lifecycle_stage, source_type, source_name, entry_point_name, source_version) "
                         "VALUES (?, ?, ?, 'bench', 'FINISHED', ?, ?, ?, 'active', 'LOCAL', '', '', '')", rows)
        conn.executemany("INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)", params)
        conn.executemany("INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)", tags)
        conn.executemany("INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)",
                         metrics)
        conn.executemany("INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) "
                         "VALUES (?, ?, ?, ?, ?, 0)", latest)
    return exp


def server_main(runs: int) -> None:
    import socket
    import urllib.request

    from tureen.store._import_server import import_server

    python = MLFLOW.parent / "python"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seed_mlflow_db(python, work / "mlflow.db", runs)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_", "MLFLOW_", "PYTHONPATH"))}
        env["PATH"] = f"{python.parent}:{env.get('PATH', '')}"
        proc = subprocess.Popen([str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
                                 "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 120
            while True:
                try:
                    urllib.request.urlopen(url + "/health", timeout=2).read()
                    break
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        raise RuntimeError("mlflow server did not start") from None
                    time.sleep(0.2)
            load = os.getloadavg()[0]
            start = time.perf_counter()
            summary = import_server(url, f"sqlite:///{work / 'tureen.db'}")
            ours = time.perf_counter() - start
            assert summary.runs_added == runs and summary.verified, summary
        finally:
            import signal

            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:  # a loaded machine: do not leave the server behind
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        print(f"import of {runs:,} runs from a live mlflow server (2 gunicorn workers) into SQLite, load average "
              f"{load:.1f} at start, {os.getloadavg()[0]:.1f} at end")
        print(f"tureen import http://...:  {ours:8.2f}s  {runs / ours * 60:10,.0f} runs/minute  "
              f"(target >= 10,000)  verified={summary.verified}  metric points={summary.metric_points:,}")


if __name__ == "__main__":
    main()
