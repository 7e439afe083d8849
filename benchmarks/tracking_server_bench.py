"""Tracking-server benchmark: MLflow 3.17's own Python client against ``tureen server`` and ``mlflow server``,
on the same database kind (SQLite files, or one PostgreSQL cluster with ``--db postgresql``) with the same
worker count, measured in one run.

    .venv/bin/python benchmarks/tracking_server_bench.py                       # 5 s per measurement
    .venv/bin/python benchmarks/tracking_server_bench.py --seconds 3 --rounds 2 --db postgresql --json out.json

The client side always runs in the MLflow peer venv (``.cache/mlflow-venv``): the same client code drives
both servers, so only the servers differ. MLflow is imported once before N client processes fork (1 and 16);
each makes its run and one untimed call, then all start together at a barrier and repeat one operation for
``--seconds`` (and at least ``--min-ops`` times). Before anything is timed, every worker of both servers is
warmed up (an MLflow worker's first request takes seconds). The servers alternate measurement by measurement
(tureen first, then MLflow, then the next one with MLflow first), ``--rounds`` repeats each, so changes in
machine load hit both alike; the load average is printed beside every row.

MLflow's server runs as it ships (uvicorn) with its GenAI job runner off (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION
=false``: eight background processes that serve nothing measured here); SQLite databases are each server's
own, created by it (MLflow's with its rollback journal, tureen's with WAL).

Beside throughput and p50/p99 latency the table shows CPU per operation on each side: the server's (all
processes of its group, from /proc) and the client's. On this 2-core machine clients and servers share the
CPU, so the client's own cost bounds every ratio: with a free server, a ratio can be at most
``(mlflow server CPU + client CPU) / client CPU``.

Operations: ``create_run``; ``log_batch`` of 10 and of 500 metrics; ``search_runs`` (filter on a metric, 100
results) over 10,000 runs; ``get_metric_history`` of a 10,000-point metric; upload and download of a 100 MB
artifact through the artifact proxy (one per client). Runs and history are seeded with SQL, not timed.

After the measured rows, two more sets, printed beside them and not part of the target's measure:

- the client's floor (``--no-client-floor`` skips it): for each targeted operation, the same MLflow client
  against a server that answers at once with recorded copies of tureen's answers. Its throughput over
  MLflow's is the largest ratio any server could show on this machine (``bound``);
- each server's capacity (``--no-light-client`` skips it): the same requests (paths and JSON bodies) from a
  standard-library client at the highest concurrency, which costs a fraction of a millisecond per call, so
  the ratio is the servers' own.

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

#: the end of both client scripts (each defines ``work(i, barrier, q)``, ``clients`` and ``seconds`` first):
#: ``failed`` for a client that cannot start, ``timed`` for the measured loop (one call when ``single``, else
#: until ``seconds`` are up and it made ``min_ops`` calls), then the clients forked, run and summed up as one
#: JSON line.
_CLIENTS = r"""
def failed(barrier, q, e):
    barrier.wait()  # a client that cannot start still reaches the barrier
    q.put(([], 1, 0.0, 0.0, repr(e)[:300]))

def timed(once, barrier, q, min_ops, single=False):
    barrier.wait()
    lat, errors, first = [], 0, None
    cpu0, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + seconds
    while True:
        if single:
            if len(lat) >= 1:
                break
        elif time.perf_counter() >= deadline and len(lat) >= min_ops:
            break
        t = time.perf_counter()
        try:
            once()
        except Exception as e:
            errors += 1
            first = first or repr(e)[-700:]
        lat.append(time.perf_counter() - t)
    q.put((lat, errors, time.perf_counter() - t0, time.process_time() - cpu0, first))

ctx = mp.get_context("fork")
q = ctx.Queue()
barrier = ctx.Barrier(clients)
ps = [ctx.Process(target=work, args=(i, barrier, q)) for i in range(clients)]
for p in ps: p.start()
res = [q.get() for _ in ps]
for p in ps: p.join()
lat = sorted(x for r in res for x in r[0])
errors = sum(r[1] for r in res)
elapsed = max(r[2] for r in res)
def pct(p): return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else None
firsts = [r[4] for r in res if r[4]]
print(json.dumps({"ops": len(lat), "errors": errors, "elapsed": elapsed,
                  "throughput": len(lat) / elapsed if elapsed else 0.0, "p50": pct(0.5), "p99": pct(0.99),
                  "client_cpu_ms": 1000 * sum(r[3] for r in res) / len(lat) if lat else None,
                  "first_error": firsts[0] if firsts else None}))
"""

#: runs in the MLflow peer venv: argv = url, op, clients, seconds, min_ops, setup-json; prints one JSON line.
#: MLflow is imported once in the parent before the clients fork (16 children importing it themselves would
#: burn about 20 CPU seconds inside the measured window); every client makes its run, logs what it needs and
#: does one untimed warm-up call (the HTTP connection is open), then all start together at a barrier.
CLIENT = r"""
import json, multiprocessing as mp, os, sys, tempfile, time, warnings, logging, shutil
warnings.filterwarnings("ignore"); logging.getLogger("mlflow").setLevel(logging.ERROR)
url, op, clients, seconds, min_ops = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
setup = json.loads(sys.argv[6])
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "600")
from mlflow import MlflowClient
from mlflow.entities import Metric
import mlflow.store.artifact.http_artifact_repo  # noqa: F401 - imported before the fork, not in the window
import mlflow.store.tracking.rest_store  # noqa: F401

def work(i, barrier, q):
    try:
        c = MlflowClient(url)
        run_id = None
        if op.startswith("log_batch") or op.startswith("artifact"):
            run_id = c.create_run(setup["exp"]).info.run_id
        n = int(op[len("log_batch"):]) if op.startswith("log_batch") else 0
        state = {"step": 0}

        def once():
            if op == "create_run":
                c.create_run(setup["exp"])
            elif op.startswith("log_batch"):
                ts = int(time.time() * 1000)
                c.log_batch(run_id, metrics=[Metric(f"m{k}", 0.5, ts, state["step"]) for k in range(n)])
                state["step"] += 1
            elif op == "search_runs":
                got = c.search_runs([setup["search_exp"]], "metrics.auc > 0.5", max_results=100)
                assert len(got) == 100, len(got)
            elif op == "get_metric_history":
                got = c.get_metric_history(setup["history_run"], "loss")
                assert len(got) == setup["points"], len(got)
            elif op == "artifact_upload":
                c.log_artifact(run_id, setup["file"], f"u{i}")
            elif op == "artifact_download":
                d = tempfile.mkdtemp()
                try:
                    p = c.download_artifacts(run_id, f"c{i}", d)
                    assert os.path.getsize(os.path.join(p, os.path.basename(setup["file"]))) == setup["size"]
                finally:
                    shutil.rmtree(d)

        if op == "artifact_download":
            c.log_artifact(run_id, setup["file"], f"c{i}")
        elif not op.startswith("artifact"):
            once()  # warm-up: connection open, lazy imports done
    except BaseException as e:
        failed(barrier, q, e)
        return
    timed(once, barrier, q, min_ops, single=op.startswith("artifact"))
""" + _CLIENTS

#: the client's floor: a server that answers every request at once with recorded bytes (tureen's own answers,
#: taken before, chosen by the request's path; ``{}`` for any other path), so what a call costs there is the
#: client's own time and the HTTP round trip. One process, asyncio, keep-alive: argv = port, a JSON file
#: mapping request paths to files holding the answer.
CANNED = r"""
import asyncio, json, sys
port, table = int(sys.argv[1]), json.load(open(sys.argv[2]))
def reply(body):
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
answers = {path.encode(): reply(open(f, "rb").read()) for path, f in table.items()}
empty = reply(b"{}")
async def serve(reader, writer):
    try:
        while True:
            headers = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            path = headers.split(b" ", 2)[1].split(b"?", 1)[0]
            writer.write(answers.get(path, empty))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=256)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""

#: the light client: the same requests as MLflow's client makes (same paths and JSON bodies), sent with the
#: standard library's http.client over one keep-alive connection per client process, so the client costs
#: a fraction of a millisecond per call and the figure is the server's capacity on this machine (the two
#: cores are still shared). Runs with this interpreter: argv = url, op, clients, seconds, setup-json.
LIGHT = r"""
import http.client, json, multiprocessing as mp, socket, sys, time, urllib.parse
url, op, clients, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
setup = json.loads(sys.argv[5])
host = urllib.parse.urlsplit(url)
API = "/api/2.0/mlflow/"

def call(conn, path, body):
    data = json.dumps(body).encode()
    conn.request("POST", API + path, body=data, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    out = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"{path}: HTTP {resp.status} {out[:200]!r}")
    return out

def work(i, barrier, q):
    try:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=600)
        conn.connect()  # TCP_NODELAY as urllib3 (MLflow's client) sets it: without it a call can stall on
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # Nagle + delayed ACK
        run_id = json.loads(call(conn, "runs/create", {"experiment_id": setup["exp"], "user_id": "bench",
                             "start_time": int(time.time() * 1000), "tags": []}))["run"]["info"]["run_id"]
        n = int(op[len("log_batch"):]) if op.startswith("log_batch") else 0
        state = {"step": 0}

        def once():
            if op == "create_run":
                call(conn, "runs/create", {"experiment_id": setup["exp"], "user_id": "bench",
                                           "start_time": int(time.time() * 1000), "tags": []})
            elif op.startswith("log_batch"):
                ts = int(time.time() * 1000)
                call(conn, "runs/log-batch", {"run_id": run_id, "metrics": [
                    {"key": f"m{k}", "value": 0.5, "timestamp": ts, "step": state["step"]} for k in range(n)],
                    "params": [], "tags": []})
                state["step"] += 1
            elif op == "search_runs":
                got = json.loads(call(conn, "runs/search", {"experiment_ids": [setup["search_exp"]],
                                 "filter": "metrics.auc > 0.5", "max_results": 100, "order_by": [],
                                 "run_view_type": "ACTIVE_ONLY"}))
                assert len(got["runs"]) == 100, len(got["runs"])
        once()
    except BaseException as e:
        failed(barrier, q, e)
        return
    timed(once, barrier, q, 0)
""" + _CLIENTS

OPS = ["create_run", "log_batch10", "log_batch500", "search_runs", "get_metric_history", "artifact_upload",
       "artifact_download"]
TARGETS = {"create_run": 5, "log_batch10": 5, "log_batch500": 5, "search_runs": 10}
P99_TARGET = 0.2
_PG_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/14/bin")


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


# ---------------------------------------------------------------------------------------------------------
# databases: a SQLite file per server, or one PostgreSQL cluster with a database per server
# ---------------------------------------------------------------------------------------------------------
def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in _PG_DIRS:
        if Path(d, name).exists():
            return str(Path(d, name))
    raise SystemExit(f"--db postgresql needs PostgreSQL's {name}")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    """A throwaway PostgreSQL cluster on a free loopback port, with its default durability (fsync on)."""

    def __init__(self, work: Path) -> None:
        self.base = work / "pg"
        self.base.mkdir()
        if os.geteuid() == 0:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            os.chmod(work, 0o711)  # mkdtemp's 0700 would keep the postgres user out of its own directory
        self.data = self.base / "data"
        subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                                     "-E", "UTF8"]), check=True, capture_output=True, timeout=300)
        self.port = _free_port()
        opts = f"-k {self.base} -h 127.0.0.1 -p {self.port} -c max_connections=300"
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                                     str(self.base / "log"), "-w", "-t", "120", "start"]), check=True,
                       capture_output=True, timeout=180)

    def create(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]),
                       capture_output=True, timeout=120)


def start_server(kind: str, work: Path, workers: int, mlflow_python: str, db_uri: str
                 ) -> tuple[str, subprocess.Popen]:
    port = _free_port()
    log = work / f"{kind}.log"
    dest = work / f"{kind}-artifacts"
    if kind == "tureen":
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TUREEN_"))}
        env["PYTHONPATH"] = str(ROOT)
        cmd = [sys.executable, "-m", "tureen.cli", "server", "--backend-store-uri", db_uri,
               "--artifacts-destination", str(dest), "--port", str(port), "--workers", str(workers)]
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TUREEN_", "PYTHONPATH"))}
        env["PATH"] = f"{Path(mlflow_python).parent}:{env.get('PATH', '')}"
        # its GenAI job runner (a job process and seven huey consumers) serves nothing measured here and
        # tureen has no such thing: off, so it takes no CPU from MLflow's workers
        env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
        cmd = [mlflow_python, "-m", "mlflow", "server", "--backend-store-uri", db_uri,
               "--artifacts-destination", str(dest), "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=work, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait(url, proc, log)
    return url, proc


def _group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes of a process group (a server: master and workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ...; utime stime are 14, 15
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _api(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(f"{url}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"{}")


class _Db:
    """Bulk inserts into either kind of database, filling any other NOT NULL column with a neutral value."""

    def __init__(self, uri: str) -> None:
        if uri.startswith("sqlite:"):
            self.conn = sqlite3.connect(uri.partition(":///")[2], timeout=60)
            self.mark = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(uri)
            self.mark = "%s"

    def _required(self, table: str) -> dict[str, str]:
        """NOT NULL columns without a default: name -> type."""
        if self.mark == "?":
            cols = self.conn.execute(f"PRAGMA table_info({table})").fetchall()
            return {c[1]: (c[2] or "") for c in cols if c[3] and c[4] is None and not c[5]}
        cur = self.conn.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
                                "%s AND is_nullable = 'NO' AND column_default IS NULL", (table,))
        return dict(cur.fetchall())

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        extra = {name: ("" if any(t in kind.upper() for t in ("CHAR", "TEXT")) else 0)
                 for name, kind in self._required(table).items() if name not in rows[0]}
        names = list(rows[0]) + list(extra)
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join([self.mark] * len(names))})"
        cur = self.conn.cursor()
        cur.executemany(sql, [tuple(r.values()) + tuple(extra.values()) for r in rows])

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()


def seed(url: str, db_uri: str, n_runs: int, n_points: int) -> dict[str, Any]:
    """Experiments through the API, then the search runs and a long metric history straight into the database."""
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
                        "is_nan": False})
    history = [{"run_uuid": history_run, "key": "loss", "value": 1.0 / (s + 1), "timestamp": now + s, "step": s,
                "is_nan": False} for s in range(n_points)]
    db = _Db(db_uri)
    try:
        db.insert("runs", runs)
        db.insert("metrics", metrics + history)
        db.insert("latest_metrics", metrics + [history[-1]])
    finally:
        db.close()
    if db_uri.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db_uri, autocommit=True) as conn:
            conn.execute("ANALYZE")
    return {"exp": exp, "search_exp": search_exp, "history_run": history_run, "points": n_points}


def measure(mlflow_python: str, url: str, proc: subprocess.Popen, op: str, clients: int, seconds: float,
            min_ops: int, setup: dict[str, Any], light: bool = False) -> dict:
    """One measurement with MLflow's client (or, ``light``, the standard-library client of ``LIGHT``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TUREEN_", "PYTHONPATH"))}
    # MLflow's telemetry breaks in forked client processes (a KeyError on its session id): off on both sides
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    load = os.getloadavg()[0]
    cpu0 = _group_cpu(proc.pid)
    cmd = ([sys.executable, "-c", LIGHT, url, op, str(clients), str(seconds), json.dumps(setup)] if light else
           [mlflow_python, "-c", CLIENT, url, op, str(clients), str(seconds), str(min_ops), json.dumps(setup)])
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    except subprocess.TimeoutExpired:
        return {"ops": 0, "errors": -1, "throughput": 0.0, "p50": None, "p99": None, "stderr": "timed out", "load": load}
    server_cpu = _group_cpu(proc.pid) - cpu0  # includes the clients' setup and warm-up calls (a few per client)
    if run.returncode != 0:
        return {"ops": 0, "errors": -1, "throughput": 0.0, "p50": None, "p99": None, "stderr": run.stderr[-500:],
                "load": load}
    out = json.loads(run.stdout.strip().splitlines()[-1])
    out["server_cpu_ms"] = 1000 * server_cpu / out["ops"] if out["ops"] else None
    out["load"] = load
    if run.stderr.strip():
        out["stderr"] = run.stderr.strip()[-300:]
    return out


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one measurement as one: summed ops over summed time; the worst round's p99 (conservative)."""
    if len(parts) == 1:
        return parts[0]
    ok = [p for p in parts if p.get("errors", 0) >= 0]
    ops = sum(p["ops"] for p in ok)
    elapsed = sum(p.get("elapsed", 0.0) for p in ok)

    def mean_of(key: str) -> float | None:
        vals = [(p[key], p["ops"]) for p in ok if p.get(key) is not None]
        return sum(v * n for v, n in vals) / sum(n for _, n in vals) if vals else None

    p99s = [p["p99"] for p in ok if p.get("p99") is not None]
    p50s = sorted(p["p50"] for p in ok if p.get("p50") is not None)
    return {"ops": ops, "errors": sum(p["errors"] for p in parts), "elapsed": elapsed,
            "throughput": ops / elapsed if elapsed else 0.0, "p50": p50s[len(p50s) // 2] if p50s else None,
            "p99": max(p99s) if p99s else None, "client_cpu_ms": mean_of("client_cpu_ms"),
            "server_cpu_ms": mean_of("server_cpu_ms"), "load": max(p["load"] for p in parts),
            "rounds": [{k: p.get(k) for k in ("throughput", "p99", "load")} for p in parts],
            **({"stderr": "; ".join(p["stderr"] for p in parts if p.get("stderr"))}
               if any(p.get("stderr") for p in parts) else {})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="measured time per measurement")
    ap.add_argument("--min-ops", type=int, default=5, help="each client goes on past --seconds until it did this many")
    ap.add_argument("--rounds", type=int, default=1, help="repeat each measurement, alternating which server goes first")
    ap.add_argument("--workers", type=int, default=4, help="worker processes of both servers")
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite", help="the database kind of both")
    ap.add_argument("--clients", default="1,16", help="comma-separated concurrency levels")
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--runs", type=int, default=10_000, help="runs in the searched experiment")
    ap.add_argument("--points", type=int, default=10_000, help="points of the long metric history")
    ap.add_argument("--artifact-mb", type=int, default=100)
    ap.add_argument("--mlflow-python", default=str(DEFAULT_MLFLOW_PYTHON))
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--no-client-floor", action="store_true",
                    help="skip the rows against a server answering canned responses (MLflow's client's floor)")
    ap.add_argument("--no-light-client", action="store_true",
                    help="skip the rows with a standard-library client (each server's capacity)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tureen-server-bench-"))
    ops = args.ops.split(",")
    big = work / "blob.bin"
    if any(o.startswith("artifact") for o in ops):
        with open(big, "wb") as fh:
            block = os.urandom(1 << 20)
            for _ in range(args.artifact_mb):
                fh.write(block)
    servers: dict[str, tuple[str, subprocess.Popen]] = {}
    pg = None
    try:
        if args.db == "postgresql":
            pg = Postgres(work)
            uris = {"tureen": pg.create("tureen_bench"), "mlflow": pg.create("mlflow_bench")}
        else:
            uris = {kind: f"sqlite:///{work / f'{kind}.db'}" for kind in ("tureen", "mlflow")}
        for kind in ("tureen", "mlflow"):
            servers[kind] = start_server(kind, work, args.workers, args.mlflow_python, uris[kind])
        setups = {kind: {**seed(url, uris[kind], args.runs, args.points), "file": str(big),
                         "size": big.stat().st_size if big.exists() else 0}
                  for kind, (url, _p) in servers.items()}
        # every worker of both servers opens its store and imports what it needs before anything is timed
        # (an MLflow worker's first request takes seconds): a short burst of each operation at the highest
        # concurrency, not recorded
        for kind, (url, proc) in servers.items():
            for op in ("create_run", "search_runs"):
                measure(args.mlflow_python, url, proc, op, 4 * args.workers, 1.0, 1, setups[kind])
        print(f"# tureen server vs mlflow server 3.17.2 (its default: uvicorn), {args.db}, {args.workers} workers "
              f"each, MLflow 3.17.2's client; {args.seconds:g} s per measurement x {args.rounds} round(s); "
              f"load average {_load_text()} at start (2 shared cores)", flush=True)
        results: list[dict[str, Any]] = []
        flip = False
        for op in ops:
            for clients in (int(c) for c in args.clients.split(",")):
                parts: dict[str, list[dict[str, Any]]] = {"tureen": [], "mlflow": []}
                for _ in range(args.rounds):
                    order = ("mlflow", "tureen") if flip else ("tureen", "mlflow")
                    flip = not flip
                    for kind in order:
                        url, proc = servers[kind]
                        parts[kind].append(measure(args.mlflow_python, url, proc, op, clients, args.seconds,
                                                   args.min_ops, setups[kind]))
                row: dict[str, Any] = {"op": op, "clients": clients,
                                       **{kind: _merge(parts[kind]) for kind in ("tureen", "mlflow")}}
                results.append(row)
                _print_row(row)
        targeted = [r for r in results if r["op"] in TARGETS]
        if targeted and not args.no_client_floor:
            results += _client_floor(args, work, servers["tureen"][0], setups["tureen"], targeted)
        if targeted and not args.no_light_client:
            results += _light_rows(args, servers, setups, [r["op"] for r in targeted if r["clients"] == max(
                int(c) for c in args.clients.split(","))], flip)
        print(f"# load average at end {_load_text()}")
        print()
        _print_table(results, args)
        if args.json:
            Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    finally:
        for _url, proc in servers.values():
            try:
                os.killpg(proc.pid, 15)
                proc.wait(timeout=60)
            except Exception:  # noqa: BLE001
                try:
                    os.killpg(proc.pid, 9)
                except OSError:
                    pass
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def _record_answers(tureen_url: str, setup: dict[str, Any], work: Path) -> Path:
    """tureen's answers to the requests the targeted operations make, saved for the canned server."""
    answers: dict[str, str] = {}
    for path, body in (("runs/create", {"experiment_id": setup["exp"], "start_time": int(time.time() * 1000),
                                        "tags": []}),
                       ("runs/search", {"experiment_ids": [setup["search_exp"]], "filter": "metrics.auc > 0.5",
                                        "max_results": 100, "run_view_type": "ACTIVE_ONLY"})):
        req = urllib.request.Request(f"{tureen_url}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            f = work / f"canned-{path.replace('/', '-')}.json"
            f.write_bytes(resp.read())
        answers[f"/api/2.0/mlflow/{path}"] = str(f)  # any other path (log-batch) gets {}, as from both servers
    table = work / "canned.json"
    table.write_text(json.dumps(answers))
    return table


def _client_floor(args: Any, work: Path, tureen_url: str, setup: dict[str, Any],
                  rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each targeted operation with MLflow's client against a server that does nothing (canned copies of
    tureen's answers): the most any server could reach on this machine. ``bound`` is that throughput over
    MLflow's: the largest ratio a server taking no time at all would show."""
    table = _record_answers(tureen_url, setup, work)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", CANNED, str(port), str(table)], stdout=subprocess.PIPE,
                            start_new_session=True)
    out = []
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        url = f"http://127.0.0.1:{port}"
        print("# MLflow's client against a server answering at once with recorded copies of tureen's answers: "
              "the client's floor, the most any server could show here", flush=True)
        for row in rows:
            op, clients = row["op"], row["clients"]
            parts = [measure(args.mlflow_python, url, proc, op, clients, args.seconds, args.min_ops, setup)
                     for _ in range(args.rounds)]
            floor = _merge(parts)
            m, tu = row["mlflow"], row["tureen"]
            bound = floor["throughput"] / m["throughput"] if m["throughput"] else float("inf")
            p99_bound = floor["p99"] / m["p99"] if floor.get("p99") and m.get("p99") else None
            share = (tu["throughput"] / floor["throughput"]) if floor["throughput"] else None
            print(f"{op + ' canned':<19} {clients:>3} cl | {floor['throughput']:8.1f}/s p50 {_ms(floor['p50'])} "
                  f"p99 {_ms(floor['p99'])} ms client CPU {_f(floor.get('client_cpu_ms'), '.1f')} ms/op | "
                  f"bound {bound:.2f}x over mlflow (tureen {tu['throughput'] / m['throughput']:.2f}x, "
                  f"{_f(share and 100 * share, '.0f')}% of the floor), p99 bound {_f(p99_bound)}x | "
                  f"load {floor['load']:.1f}", flush=True)
            out.append({"op": f"{op}_canned_floor", "clients": clients, "floor": floor, "bound": bound,
                        "p99_bound": p99_bound, "tureen_share_of_floor": share})
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    return out


def _light_rows(args: Any, servers: dict[str, tuple[str, subprocess.Popen]], setups: dict[str, dict[str, Any]],
                ops: list[str], flip: bool) -> list[dict[str, Any]]:
    """The targeted operations at the highest concurrency with the light client against both servers: each
    server's own capacity, with the client costing a fraction of a millisecond per call. Not the issue's
    measure (that is MLflow's client), printed beside it so the server's share is visible."""
    clients = max(int(c) for c in args.clients.split(","))
    print(f"# the same requests from a standard-library client ({clients} processes, keep-alive): each server's "
          "capacity on this machine, not the target's measure", flush=True)
    out = []
    for op in ops:
        parts: dict[str, list[dict[str, Any]]] = {"tureen": [], "mlflow": []}
        for _ in range(args.rounds):
            order = ("mlflow", "tureen") if flip else ("tureen", "mlflow")
            flip = not flip
            for kind in order:
                url, proc = servers[kind]
                parts[kind].append(measure(args.mlflow_python, url, proc, op, clients, args.seconds, 1,
                                           setups[kind], light=True))
        row = {"op": f"{op} (light client)", "clients": clients,
               **{kind: _merge(parts[kind]) for kind in ("tureen", "mlflow")}}
        out.append(row)
        _print_row(row)
    return out


def _load_text() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _verdict(row: dict[str, Any]) -> tuple[float, float | None, str]:
    t, m = row["tureen"], row["mlflow"]
    ratio = t["throughput"] / m["throughput"] if m["throughput"] else float("inf")
    p99 = (t["p99"] / m["p99"]) if t["p99"] and m["p99"] else None
    target = TARGETS.get(row["op"])
    if t["errors"] or m["errors"] or not t["ops"] or not m["ops"]:
        return ratio, p99, "NOT MEASURED (errors)"
    if target is None:
        return ratio, p99, "-"
    ok = ratio >= target and p99 is not None and p99 <= P99_TARGET
    return ratio, p99, f"{'met' if ok else 'NOT met'} (>= {target}x, p99 <= {P99_TARGET}x)"


def _ms(x: float | None) -> str:
    return f"{x * 1000:.1f}" if x is not None else "-"


def _f(x: float | None, fmt: str = ".2f") -> str:
    return format(x, fmt) if x is not None else "-"


def _print_row(row: dict[str, Any]) -> None:
    t, m = row["tureen"], row["mlflow"]
    ratio, p99, verdict = _verdict(row)
    print(f"{row['op']:<19} {row['clients']:>3} cl | tureen {t['throughput']:8.1f}/s p99 {_ms(t['p99']):>7} ms "
          f"err {t['errors']} | mlflow {m['throughput']:8.1f}/s p99 {_ms(m['p99']):>7} ms err {m['errors']} | "
          f"{ratio:6.2f}x p99 {_f(p99)}x | load {t['load']:.1f}/{m['load']:.1f} | {verdict}", flush=True)
    for kind in ("tureen", "mlflow"):
        for key in ("stderr", "first_error"):
            text = row[kind].get(key)
            if text and not (key == "stderr" and "Downloading artifacts" in text):  # not MLflow's progress bar
                print(f"    {kind} {key}: {text[-700:]}", flush=True)


def _print_table(results: list[dict[str, Any]], args: Any) -> None:
    """The whole run as one table: both servers, ratios, p50/p99, CPU per operation on each side."""
    head = ("| operation | clients | tureen ops/s | mlflow ops/s | ratio | tureen p50 / p99 ms | mlflow p50 / p99 ms "
            "| p99 ratio | server CPU ms/op tureen / mlflow | client CPU ms/op tureen / mlflow | load | target |")
    print(head)
    print("|" + "|".join("---" for _ in range(head.count("|") - 1)) + "|")
    for row in results:
        if "floor" in row:
            f = row["floor"]
            print(f"| {row['op'][:-len('_canned_floor')]}, canned answer (client floor) | {row['clients']} | "
                  f"{f['throughput']:.1f} | - | "
                  f"bound {row['bound']:.2f}x | {_ms(f['p50'])} / {_ms(f['p99'])} | - | bound "
                  f"{_f(row['p99_bound'])}x | 0 | {_f(f.get('client_cpu_ms'), '.1f')} | {f['load']:.1f} | - |")
            continue
        t, m = row["tureen"], row["mlflow"]
        ratio, p99, verdict = _verdict(row)
        print(f"| {row['op']} | {row['clients']} | {t['throughput']:.1f} | {m['throughput']:.1f} | {ratio:.2f}x | "
              f"{_ms(t['p50'])} / {_ms(t['p99'])} | {_ms(m['p50'])} / {_ms(m['p99'])} | {_f(p99)}x | "
              f"{_f(t.get('server_cpu_ms'), '.1f')} / {_f(m.get('server_cpu_ms'), '.1f')} | "
              f"{_f(t.get('client_cpu_ms'), '.1f')} / {_f(m.get('client_cpu_ms'), '.1f')} | "
              f"{t['load']:.1f}/{m['load']:.1f} | {verdict} |")


if __name__ == "__main__":
    main()
