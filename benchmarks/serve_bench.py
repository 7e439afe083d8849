"""Serving benchmark (issue 13): tureen's server against ``mlflow models serve --env-manager local``, in one run.

Two models, both saved once by tureen's scikit-learn flavor (MLflow loads them natively):

* **headline**: ``Pipeline(ColumnTransformer[StandardScaler on 4 numeric columns, OneHotEncoder on a string
  column], LogisticRegression)``, the shape of model the demo serves (no block path: a DataFrame per request);
* **numeric**: scaled LogisticRegression on breast_cancer (30 double columns: the scikit-learn block path).

For each model four servers run side by side, 1 worker each: MLflow, tureen with gunicorn's ``sync`` worker
(how tureen served before the loop worker: "before"), tureen's ``loop`` worker with batching off, and with
batching on (``--max-batch-size 64 --max-latency-ms 2``). wrk drives them in paired rounds: for each
connection count (1, 8, 32, 64), ``--repeat`` rounds of one short run (``--duration`` s) per server back to back,
the order turning each round, so a change in machine load hits every side alike; figures are the medians over
the rounds. Requests are 1-row ``dataframe_split`` bodies cycling through 256 distinct rows. Printed per model and connection count: requests/s, p99 latency and server CPU per request
(all server processes, from /proc), and the issue's targets marked met / not met. Then every server answers all
256 distinct rows from 32 concurrent clients and each answer is compared with the local pyfunc prediction of
its own row. Also: 1,000-row requests (split, records, CSV) for the numeric model, time to ready, memory,
and the memory of one server holding both models (``headline=... numeric=...``) beside one holding one.

Usage (needs ``wrk``: ``apt-get install -y wrk``)::

    .venv/bin/python benchmarks/serve_bench.py [--duration 2] [--repeat 5] [--connections 1,8,32,64]

tureen runs from this source tree with the interpreter running the benchmark (``PYTHONPATH`` = the tree).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, clean_env, lean_mlflow_python, run_json  # noqa: E402

BUILD = r"""
import json, sys
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tureen.flavors import sklearn as flavor
from tureen.pyfunc import load_model
out = sys.argv[1]
K = 256
rng = np.random.default_rng(0)
n = 3000
plans = np.array(["basic", "plus", "premium", "family", "student"])
churn = pd.DataFrame({
    "tenure": rng.integers(0, 72, n).astype(float), "monthly_charges": rng.uniform(20, 120, n).round(2),
    "total_charges": rng.uniform(0, 8000, n).round(2), "age": rng.integers(18, 90, n).astype(float),
    "plan": plans[rng.integers(0, len(plans), n)]})
y = ((churn["monthly_charges"] / 60 - churn["tenure"] / 36 + (churn["plan"] == "basic") +
      rng.normal(0, 0.5, n)) > 0.5).astype(int)
num = ["tenure", "monthly_charges", "total_charges", "age"]
pipe = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), num),
                                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])])),
                 ("clf", LogisticRegression(max_iter=1000))]).fit(churn, y)
flavor.save_model(pipe, out + "/headline", input_example=churn.head(3))
X, yb = load_breast_cancer(return_X_y=True, as_frame=True)
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, yb)
flavor.save_model(clf, out + "/numeric", input_example=X.head(3))
for name, frame in (("headline", churn), ("numeric", X)):
    model = load_model(out + "/" + name)
    rows = frame.sample(n=K, random_state=1).reset_index(drop=True)
    bodies, expected = [], []
    for i in range(K):
        row = rows.iloc[i:i + 1]
        bodies.append(json.dumps({"dataframe_split": {"columns": list(row.columns),
                                                      "data": json.loads(row.to_json(orient="values"))}}))
        expected.append(np.asarray(model.predict(row)).tolist())
    open(f"{out}/{name}.bodies", "w").write("\n".join(bodies) + "\n")
    open(f"{out}/{name}.expected.json", "w").write(json.dumps(expected))
big = X.sample(n=1000, replace=True, random_state=0)
cols = list(X.columns)
extra = {
    "split1000": json.dumps({"dataframe_split": {"columns": cols, "data": big.to_numpy().tolist()}}),
    "records1000": json.dumps({"dataframe_records": big.to_dict(orient="records")}),
    "csv1000": big.to_csv(index=False),
}
for name, text in extra.items():
    open(f"{out}/{name}.body", "w").write(text)
# the floor under any server's latency: the local pyfunc predict of the headline model, per call
import time
model = load_model(out + "/headline")
rows = churn.sample(n=K, random_state=1).reset_index(drop=True)
floor = {}
for n in (1, 8, 64):
    batch = [rows.iloc[i:i + n].reset_index(drop=True) for i in range(0, K - n + 1, n)] * (1200 // (K // n) + 1)
    times = []
    for frame in batch[:1200]:
        t = time.perf_counter()
        model.predict(frame)
        times.append(time.perf_counter() - t)
    times.sort()
    floor[n] = {"median_ms": times[len(times) // 2] * 1000, "p99_ms": times[int(len(times) * 0.99)] * 1000}
print(json.dumps({"ok": True, "floor": floor}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def memory_mib(pids: list[int]) -> tuple[float, float]:
    rss = pss = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        rss += int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))
        pss += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
    return rss / 1024, pss / 1024


class Server:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], ready_path: str, port: int,
                 log: Path) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(log, "wb")
        start = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=str(log.parent))
        deadline = start + 300
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{name} was not ready in time")
            time.sleep(0.02)
        self.ready_s = time.perf_counter() - start

    def pids(self) -> list[int]:
        return descendants(self.proc.pid)

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()


def wrk(url: str, body_file: Path, content_type: str, connections: int, seconds: float, tmp: Path,
        cycle: bool = False) -> dict:
    """wrk against ``url/invocations``: one body, or (``cycle``) the lines of ``body_file`` in turn."""
    script = tmp / f"post-{os.getpid()}.lua"
    if cycle:
        script.write_text('wrk.method = "POST"\n'
                          f'wrk.headers["Content-Type"] = "{content_type}"\n'
                          f'local bodies = {{}}\nfor line in io.lines("{body_file}") do bodies[#bodies + 1] = line end\n'
                          'local i = 0\n'
                          'request = function()\n  i = i + 1\n'
                          '  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])\nend\n')
    else:
        script.write_text('wrk.method = "POST"\n'
                          f'wrk.headers["Content-Type"] = "{content_type}"\n'
                          f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*a"); f:close()\n')
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(round(seconds)))}s", "--latency",
                          "--timeout", "30s", "-s", str(script), f"{url}/invocations"], capture_output=True,
                         text=True, check=True)
    text = out.stdout
    total = int(re.search(r"(\d+) requests in", text).group(1))
    bad = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    bad += sum(int(g) for g in sock.groups()) if sock else 0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return {"requests": total, "errors": bad, "rps": rps, "p99_ms": float(p99.group(1)) * scale}


def check_answers(url: str, bodies: list[str], expected: list, clients: int = 32) -> tuple[int, int]:
    """Every distinct row from ``clients`` concurrent clients: (answers equal to the local predict, total)."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    def one(i: int) -> bool:
        r = requests.post(f"{url}/invocations", data=bodies[i], headers={"Content-Type": "application/json"},
                          timeout=60)
        return r.status_code == 200 and r.json()["predictions"] == expected[i]

    with ThreadPoolExecutor(clients) as pool:
        ok = sum(pool.map(one, range(len(bodies))))
    return ok, len(bodies)


SIDES = ("mlflow", "before", "off", "on")
LABELS = {"mlflow": "MLflow", "before": "tureen sync (before)", "off": "tureen loop, batching off",
          "on": "tureen loop, batching on"}


def start_servers(model: Path, tmp: Path, mpy: str, extra_env: dict[str, str] | None = None) -> dict[str, Server]:
    env = clean_env()
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra_env or {})
    mbin = str(Path(mpy).parent)
    menv = clean_env()
    menv["PATH"] = mbin + os.pathsep + menv.get("PATH", "")
    base = [sys.executable, "-m", "tureen.cli", "serve", str(model), "--workers", "1", "--no-access-log"]
    servers: dict[str, Server] = {}
    try:
        for side in SIDES:
            port = free_port()
            log = tmp / f"{model.name}-{side}.log"
            if side == "mlflow":
                servers[side] = Server(side, [f"{mbin}/mlflow", "models", "serve", "-m", str(model), "--env-manager",
                                              "local", "-p", str(port), "--host", "127.0.0.1", "-w", "1"],
                                       menv, "/ping", port, log)
                continue
            extra = {"before": ["--worker", "sync"], "off": [],
                     "on": ["--max-batch-size", "64", "--max-latency-ms", "2"]}[side]
            servers[side] = Server(side, base + ["--port", str(port)] + extra, env, "/ready", port, log)
    except BaseException:
        for s in servers.values():
            s.stop()
        raise
    return servers


def measure(servers: dict[str, Server], body_file: Path, conns: list[int], seconds: float, repeat: int,
            tmp: Path) -> dict:
    results: dict = {side: {} for side in servers}
    for s in servers.values():
        wrk(s.url, body_file, "application/json", 4, 2, tmp, cycle=True)  # warm up
    sides = list(servers)
    for c in conns:
        runs: dict[str, list[dict]] = {side: [] for side in servers}
        for i in range(repeat):
            # paired rounds: one short run of every side, back to back, so a change in machine load hits all
            # sides alike; the order turns each round so no side always runs first (or last)
            k = i % len(sides)
            for side in sides[k:] + sides[:k]:
                server = servers[side]
                pids = server.pids()
                before = cpu_seconds(pids)
                r = wrk(server.url, body_file, "application/json", c, seconds, tmp, cycle=True)
                r["cpu_ms"] = (cpu_seconds(pids) - before) / max(r["requests"], 1) * 1000
                runs[side].append(r)
        for side, rs in runs.items():
            results[side][c] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            results[side][c]["errors"] = sum(r["errors"] for r in rs)
            results[side][c]["rounds"] = [{k: r[k] for k in ("rps", "p99_ms")} for r in rs]
    return results


def measure_multi(tmp: Path) -> dict:
    """RSS (all server processes) of one tureen server holding the headline model, and of one holding both
    models (``headline=... numeric=...``), each after answering a few requests per model."""
    env = clean_env()
    env["PYTHONPATH"] = str(ROOT)
    base = [sys.executable, "-m", "tureen.cli", "serve", "--workers", "1", "--no-access-log"]
    out: dict = {}
    for key, models in (("one", None), ("two", ["headline", "numeric"])):
        port = free_port()
        args = [str(tmp / "headline")] if models is None else [f"{m}={tmp / m}" for m in models]
        server = Server(key, base + args + ["--port", str(port)], env, "/ready", port, tmp / f"multi-{key}.log")
        try:
            for m in models or ["headline"]:
                body = (tmp / f"{m}.bodies").read_text().splitlines()[0]
                path = "/invocations" if models is None else f"/invocations/{m}"
                for _ in range(20):
                    req = urllib.request.Request(server.url + path, data=body.encode(),
                                                 headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(req, timeout=30) as r:
                        assert r.status == 200
            out[key] = memory_mib(server.pids())
        finally:
            server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per wrk run (one round of one server)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="paired rounds per connection count (medians over the rounds are reported)")
    parser.add_argument("--connections", default="1,8,32,64")
    parser.add_argument("--models", default="headline,numeric")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for tureen's servers only, e.g. TUREEN_SERVING_GC_FREEZE=false "
                             "(repeatable; an A/B of one setting)")
    args = parser.parse_args()
    extra_env = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            sys.exit(f"--server-env takes NAME=VALUE, got {item!r}")
        extra_env[name] = value
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    conns = [int(c) for c in args.connections.split(",")]
    mpy = lean_mlflow_python()
    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    env = clean_env()
    env["PYTHONPATH"] = str(ROOT)
    load_start = os.getloadavg()
    built = run_json(sys.executable, BUILD, str(tmp), env=env)
    report: dict = {"_floor": built["floor"]}
    for name in args.models.split(","):
        model = tmp / name
        servers = start_servers(model, tmp, mpy, extra_env)
        try:
            res = measure(servers, tmp / f"{name}.bodies", conns, args.duration, args.repeat, tmp)
            bodies = (tmp / f"{name}.bodies").read_text().splitlines()
            expected = json.loads((tmp / f"{name}.expected.json").read_text())
            res["answers"] = {side: check_answers(s.url, bodies, expected) for side, s in servers.items()}
            res["ready_s"] = {side: s.ready_s for side, s in servers.items()}
            res["memory"] = {side: memory_mib(s.pids()) for side, s in servers.items()}
            if name == "numeric":
                big = {}
                for key, ctype in (("split1000", "application/json"), ("records1000", "application/json"),
                                   ("csv1000", "text/csv")):
                    big[key] = {side: wrk(servers[side].url, tmp / f"{key}.body", ctype, 8, args.duration, tmp)
                                for side in ("mlflow", "off")}
                res["big"] = big
        finally:
            for s in servers.values():
                s.stop()
        report[name] = res
    report["_multi"] = measure_multi(tmp)
    print_report(report, conns, args, load_start)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    shutil.rmtree(tmp, ignore_errors=True)


def print_report(report: dict, conns: list[int], args: Any, load_start: tuple[float, ...]) -> None:
    def fmt_row(cells: list[str], widths: list[int]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    print(f"\nserve_bench: 1 worker per server, wrk -t1 over loopback, 1-row dataframe_split cycling 256 distinct rows, "
          f"median of {args.repeat} paired round(s) of {args.duration:g} s per server, {os.cpu_count()} CPUs shared with other work "
          f"(load average {' '.join(f'{x:.2f}' for x in load_start)} at start, "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at end)\n")
    targets: list[tuple[str, bool | None, str]] = []
    for name, res in report.items():
        if name.startswith("_"):
            continue
        header = ["model", "conns"] + [f"req/s {s}" for s in SIDES] + ["on/MLflow", "p99 MLflow", "p99 on",
                                                                          "p99 ratio"] + \
                 [f"CPU/req {s}" for s in SIDES] + ["errors"]
        rows = []
        for c in conns:
            r = {side: res[side][c] for side in SIDES}
            ratio = r["on"]["rps"] / r["mlflow"]["rps"] if r["mlflow"]["rps"] else float("inf")
            p99r = r["on"]["p99_ms"] / r["mlflow"]["p99_ms"] if r["mlflow"]["p99_ms"] else float("inf")
            errors = "/".join(str(int(r[s]["errors"])) for s in SIDES)

            def spread(a: str, b: str, key: str) -> str:
                # the same ratio in each paired round: how far a single round could mislead
                qs = [x[key] / y[key] for x, y in zip(r[a]["rounds"], r[b]["rounds"]) if y[key]]
                return f"rounds {min(qs):.2f}-{max(qs):.2f}" if qs else ""
            rows.append([name, str(c)] + [f"{r[s]['rps']:.0f}" for s in SIDES] + [f"{ratio:.1f}x",
                        f"{r['mlflow']['p99_ms']:.1f} ms", f"{r['on']['p99_ms']:.1f} ms", f"{p99r:.2f}x"] +
                        [f"{r[s]['cpu_ms']:.2f} ms" for s in SIDES] + [errors])
            if c == 8:
                targets.append((f"{name}: req/s at 8 conns >= 5x MLflow ({ratio:.1f}x)", ratio >= 5,
                                spread("on", "mlflow", "rps")))
            if c in (32, 64):
                targets.append((f"{name}: req/s at {c} conns >= 10x MLflow ({ratio:.1f}x)", ratio >= 10,
                                spread("on", "mlflow", "rps")))
            if c == 1:
                # the p99 target goes with its 8/32/64-connection throughput targets: one connection
                # waits on nothing but the model, so its p99 is the model's own p99 plus the server's overhead
                alone = (report.get("_floor") or {}).get("1", {}).get("p99_ms") if name == "headline" else None
                extra = (f"; the model alone: p99 {alone:.1f} ms, so the server adds {r['on']['p99_ms'] - alone:.1f} ms"
                         if alone else "")
                targets.append((f"{name}: p99 at 1 conn, {p99r:.2f}x MLflow (not a target: nothing queues at one "
                                f"connection{extra})", None, spread("on", "mlflow", "p99_ms")))
            else:
                targets.append((f"{name}: p99 at {c} conns <= 0.2x MLflow ({p99r:.2f}x)", p99r <= 0.2,
                                spread("on", "mlflow", "p99_ms")))
            if c == 1:
                q = r["on"]["rps"] / r["off"]["rps"] if r["off"]["rps"] else 0
                targets.append((f"{name}: 1 conn, batching on >= 0.9x batching off ({q:.2f}x)", q >= 0.9,
                                spread("on", "off", "rps")))
            if c == 32:
                q = r["on"]["cpu_ms"] / r["before"]["cpu_ms"] if r["before"]["cpu_ms"] else 0
                targets.append((f"{name}: server CPU/request at 32 conns <= 0.5x before "
                                f"({r['on']['cpu_ms']:.2f} vs {r['before']['cpu_ms']:.2f} ms: {q:.2f}x)", q <= 0.5, ""))
        errs = sum(res[s][c]["errors"] for s in ("off", "on") for c in conns)
        targets.append((f"{name}: zero errors, tureen loop off/on ({errs:.0f})", errs == 0, ""))
        ok_all = all(res["answers"][s][0] == res["answers"][s][1] for s in ("before", "off", "on"))
        shown = ", ".join(f"{s} {res['answers'][s][0]}/{res['answers'][s][1]}" for s in SIDES)
        targets.append((f"{name}: every answer equals the local pyfunc predict of its own row ({shown})", ok_all, ""))
        widths = [max(len(x[i]) for x in rows + [header]) for i in range(len(header))]
        print(fmt_row(header, widths))
        print(fmt_row(["-" * w for w in widths], widths))
        for row in rows:
            print(fmt_row(row, widths))
        mem = ", ".join(f"{s} {res['memory'][s][0]:.0f}/{res['memory'][s][1]:.0f}" for s in SIDES)
        ready = ", ".join(f"{s} {res['ready_s'][s]:.2f}" for s in SIDES)
        print(f"  RSS/PSS MiB: {mem};  start to ready s: {ready}")
        if "big" in res:
            for key, v in res["big"].items():
                print(f"  {key}, 8 conns: tureen {v['off']['rps']:.0f} req/s, MLflow {v['mlflow']['rps']:.0f} req/s "
                      f"({v['off']['rps'] / max(v['mlflow']['rps'], 1e-9):.1f}x, target >= 2x)")
        print()
    floor = report.get("_floor")
    if floor:
        print("the model alone (local pyfunc predict of the headline model, in one process, 1,200 calls): " +
              ", ".join(f"{n} row(s) median {v['median_ms']:.2f} ms, p99 {v['p99_ms']:.2f} ms" for n, v in floor.items()))
        print()
    multi = report.get("_multi")
    if multi:
        q = multi["two"][0] / multi["one"][0]
        print(f"several models per server: RSS/PSS MiB, headline alone {multi['one'][0]:.0f}/{multi['one'][1]:.0f}, "
              f"headline + numeric {multi['two'][0]:.0f}/{multi['two'][1]:.0f}\n")
        targets.append((f"two models in one server: RSS <= 1.3x one model's ({q:.2f}x)", q <= 1.3, ""))
    print("targets (issue 13):")
    for text, ok, note in targets:
        mark = "n/a" if ok is None else ("met" if ok else "NOT MET")
        print(f"  [{mark}] {text}{(' - ' + note) if note else ''}")


if __name__ == "__main__":
    main()
