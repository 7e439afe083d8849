"""Tracking-server benchmark: MLflow 3.17's own Python client against ``tureen server`` and ``mlflow server``,
both on SQLite, both with the same gunicorn worker count, measured in one run.

    .venv/bin/python benchmarks/tracking_server_bench.py                 # 5 s per measurement
    .venv/bin/python benchmarks/tracking_server_bench.py --seconds 2 --workers 4 --json out.json

The client side always runs in the MLflow peer venv (``.cache/mlflow-venv``): the same client code drives
both servers, so only the servers differ. Each measurement starts N client processes (1 and 16) that repeat
one operation for ``--seconds`` and record every latency; the servers alternate measurement by measurement
(tureen first, then MLflow, then the next one with MLflow first) so changes in machine load hit both alike.

Operations: ``create_run``; ``log_batch`` of 10 and of 500 metrics; ``search_runs`` (filter on a metric, 100
results) over 10,000 runs; ``get_metric_history`` of a 10,000-point metric; upload and download of a 100 MB
artifact through the artifact proxy (one per client). Runs and history are seeded with SQL, not timed.

Targets (issue 16): throughput >= 5x ``mlflow server`` for create_run and log_batch, >= 10x for search_runs,
p99 latency <= 0.2x for those; the history and artifact rows are reported without a target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_MLFLOW_PYTHON = ROOT / ".cache" / "mlflow-venv" / "bin" / "python"

#: runs in the MLflow peer venv: argv = url, op, clients, seconds, setup-json; prints one JSON line
CLIENT = r'''
import json, multiprocessing as mp, os, sys, tempfile, time, warnings, logging
warnings.filterwarnings("ignore"); logging.getLogger("mlflow").setLevel(logging.ERROR)
url, op, clients, seconds, setup = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), json.loads(sys.argv[5])
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

def work(i, q):
    from mlflow import MlflowClient
    from mlflow.entities import Metric
    c = MlflowClient(url)
    lat, errors = [], 0
    run_id = None
    if op.startswith("log_batch") or op.startswith("artifact"):
        run_id = c.create_run(setup["exp"]).info.run_id
    n = int(op[len("log_batch"):]) if op.startswith("log_batch") else 0
    step = 0
    if op == "artifact_download":
        c.log_artifact(run_id, setup["file"], f"c{i}")
    deadline = time.monotonic() + seconds
    count = 0
    while True:
        if op.startswith("artifact"):
            if count >= 1:
                break
        elif time.monotonic() >= deadline:
            break
        t = time.perf_counter()
        try:
            if op == "create_run":
                c.create_run(setup["exp"])
            elif op.startswith("log_batch"):
                ts = int(time.time() * 1000)
                c.log_batch(run_id, metrics=[Metric(f"m{k}", 0.5, ts, step) for k in range(n)])
                step += 1
            elif op == "search_runs":
                got = c.search_runs([setup["search_exp"]], "metrics.auc > 0.5", max_results=100)
                assert len(got) == 100, len(got)
            elif op == "get_metric_history":
                got = c.get_metric_history(setup["history_run"], "loss")
                assert len(got) == 10000, len(got)
            elif op == "artifact_upload":
                c.log_artifact(run_id, setup["file"], f"u{i}")
            elif op == "artifact_download":
                d = tempfile.mkdtemp()
                p = c.download_artifacts(run_id, f"c{i}", d)
                assert os.path.getsize(os.path.join(p, os.path.basename(setup["file"]))) == setup["size"]
                import shutil; shutil.rmtree(d)
        except Exception as e:
            errors += 1
            if errors < 3: print(repr(e)[:300], file=sys.stderr)
        lat.append(time.perf_counter() - t)
        count += 1
    q.put((lat, errors))

ctx = mp.get_context("fork")
q = ctx.Queue()
ps = [ctx.Process(target=work, args=(i, q)) for i in range(clients)]
start = time.perf_counter()
for p in ps: p.start()
res = [q.get() for _ in ps]
wall = time.perf_counter() - start
for p in ps: p.join()
lat = sorted(x for r in res for x in r[0])
errors = sum(r[1] for r in res)
def pct(p): return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else None
busy = max(sum(r[0]) for r in res) if res else wall
print(json.dumps({"ops": len(lat), "errors": errors, "throughput": len(lat) / busy if busy else 0.0,
                  "p50": pct(0.5), "p99": pct(0.99)}))
'''

OPS = ["create_run", "log_batch10", "log_batch500", "search_runs", "get_metric_history", "artifact_upload",
       "artifact_download"]
TARGETS = {"create_run": 5, "log_batch10": 5, "log_batch500": 5, "search_runs": 10}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)


def start_server(kind: str, work: Path, workers: int, mlflow_python: str) -> tuple[str, subprocess.Popen, Path]:
    port = _free_port()
    db = work / f"{kind}.db"
    log = work / f"{kind}.log"
    dest = work / f"{kind}-artifacts"
    if kind == "tureen":
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "tureen.cli", "server", "--backend-store-uri", f"sqlite:///{db}",
               "--artifacts-destination", str(dest), "--port", str(port), "--workers", str(workers)]
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TUREEN_", "PYTHONPATH"))}
        env["PATH"] = f"{Path(mlflow_python).parent}:{env.get('PATH', '')}"
        cmd = [mlflow_python, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
               "--artifacts-destination", str(dest), "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=work, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait(url, proc, log)
    return url, proc, db


def _api(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(f"{url}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"{}")


def _insert(conn: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows, filling any other NOT NULL column of this tool's schema with a neutral value."""
    cols = conn.execute(f"PRAGMA table_info({table})").fetchall()
    extra = {c[1]: ("" if "CHAR" in (c[2] or "").upper() or "TEXT" in (c[2] or "").upper() else 0)
             for c in cols if c[3] and c[4] is None and c[1] not in rows[0] and not c[5]}
    names = list(rows[0]) + list(extra)
    conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     [tuple(r.values()) + tuple(extra.values()) for r in rows])


def seed(url: str, db: Path, n_runs: int, n_points: int) -> dict[str, Any]:
    """Experiments through the API, then 10,000 runs and a 10,000-point history straight into SQLite."""
    tag = uuid.uuid4().hex[:6]
    exp = _api(url, "experiments/create", {"name": f"bench-{tag}"})["experiment_id"]
    search_exp = _api(url, "experiments/create", {"name": f"search-{tag}"})["experiment_id"]
    history_run = _api(url, "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    now = int(time.time() * 1000)
    runs, metrics = [], []
    for i in range(n_runs):
        rid = uuid.uuid4().hex
        runs.append({"run_uuid": rid, "name": f"r{i}", "experiment_id": int(search_exp), "user_id": "u",
                     "status": "FINISHED", "start_time": now - i, "end_time": now - i + 5,
                     "artifact_uri": f"mlflow-artifacts:/{search_exp}/{rid}/artifacts", "lifecycle_stage": "active"})
        metrics.append({"run_uuid": rid, "key": "auc", "value": (i % 100) / 100, "timestamp": now, "step": 0,
                        "is_nan": 0})
    history = [{"run_uuid": history_run, "key": "loss", "value": 1.0 / (s + 1), "timestamp": now + s, "step": s,
                "is_nan": 0} for s in range(n_points)]
    with sqlite3.connect(db, timeout=60) as conn:
        _insert(conn, "runs", runs)
        _insert(conn, "metrics", metrics + history)
        _insert(conn, "latest_metrics", metrics + [history[-1]])
    return {"exp": exp, "search_exp": search_exp, "history_run": history_run}


def measure(mlflow_python: str, url: str, op: str, clients: int, seconds: float, setup: dict[str, Any]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TUREEN_", "PYTHONPATH"))}
    # MLflow's telemetry breaks in forked client processes (a KeyError on its session id): off on both sides
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    proc = subprocess.run([mlflow_python, "-c", CLIENT, url, op, str(clients), str(seconds), json.dumps(setup)],
                          capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        return {"ops": 0, "errors": -1, "throughput": 0.0, "p50": None, "p99": None, "stderr": proc.stderr[-500:]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if proc.stderr.strip():
        out["stderr"] = proc.stderr.strip()[-300:]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="time per measurement and client count")
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers of both servers")
    ap.add_argument("--clients", default="1,16", help="comma-separated concurrency levels")
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--artifact-mb", type=int, default=100)
    ap.add_argument("--mlflow-python", default=str(DEFAULT_MLFLOW_PYTHON))
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tureen-server-bench-"))
    big = work / "blob.bin"
    with open(big, "wb") as fh:
        block = os.urandom(1 << 20)
        for _ in range(args.artifact_mb):
            fh.write(block)
    servers: dict[str, tuple[str, subprocess.Popen, Path]] = {}
    try:
        for kind in ("tureen", "mlflow"):
            servers[kind] = start_server(kind, work, args.workers, args.mlflow_python)
        setups = {kind: {**seed(url, db, 10_000, 10_000), "file": str(big), "size": big.stat().st_size}
                  for kind, (url, _p, db) in servers.items()}
        print(f"# tureen server vs mlflow server 3.17.2, SQLite, {args.workers} workers each, {args.seconds:g} s "
              f"per measurement; load average {os.getloadavg()[0]:.1f} at start (shared machine)")
        results: list[dict[str, Any]] = []
        flip = False
        for op in args.ops.split(","):
            for clients in (int(c) for c in args.clients.split(",")):
                order = ("mlflow", "tureen") if flip else ("tureen", "mlflow")
                flip = not flip
                row: dict[str, Any] = {"op": op, "clients": clients}
                for kind in order:
                    row[kind] = measure(args.mlflow_python, servers[kind][0], op, clients, args.seconds, setups[kind])
                results.append(row)
                _print_row(row)
        print(f"# load average at end {os.getloadavg()[0]:.1f}")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        for _url, proc, _db in servers.values():
            try:
                os.killpg(proc.pid, 2)
                proc.wait(timeout=30)
            except Exception:  # noqa: BLE001
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def _print_row(row: dict[str, Any]) -> None:
    t, m = row["tureen"], row["mlflow"]
    ratio = t["throughput"] / m["throughput"] if m["throughput"] else float("inf")
    p99 = (t["p99"] / m["p99"]) if t["p99"] and m["p99"] else None
    target = TARGETS.get(row["op"])
    if target is None:
        verdict = "no target"
    else:
        ok = ratio >= target and p99 is not None and p99 <= 0.2 and t["errors"] == 0
        verdict = f"target >= {target}x, p99 <= 0.2x: {'met' if ok else 'NOT met'}"
    p99_text = f"{p99:.2f}x" if p99 is not None else "n/a"
    print(f"{row['op']:<20} {row['clients']:>3} clients | tureen {t['throughput']:9.1f}/s p99 "
          f"{(t['p99'] or 0) * 1000:8.1f} ms err {t['errors']} | mlflow {m['throughput']:9.1f}/s p99 "
          f"{(m['p99'] or 0) * 1000:8.1f} ms err {m['errors']} | {ratio:5.2f}x, p99 {p99_text} | {verdict}",
          flush=True)
    for kind in ("tureen", "mlflow"):
        if row[kind].get("stderr"):
            print(f"    {kind} client stderr: {row[kind]['stderr'][-200:]}", flush=True)


if __name__ == "__main__":
    main()
