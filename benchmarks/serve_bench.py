"""Serving benchmark: tureen's server against ``mlflow models serve --env-manager local``, in one run.

Both serve the same saved model (scaled LogisticRegression on breast_cancer, saved once by tureen's sklearn
flavor, which MLflow loads natively) with the same number of workers, on free loopback ports, one after the
other. wrk drives each in turn. Printed: requests/s and p99 for 1-row ``dataframe_split`` at 1, 8 and 32
connections, server CPU per request (all server processes, from /proc) against the in-process pyfunc
predict of that row (a DataFrame; tureen's server scores this model's one-dtype rows as a 2-D array, whose
in-process predict is printed below it), 1,000-row requests (split, records, CSV), time from process start
to ready, and the memory of all server processes (RSS and PSS summed over the process tree).

Usage (needs ``wrk``: ``apt-get install -y wrk``)::

    .venv/bin/python benchmarks/serve_bench.py [--workers 1] [--duration 5] [--repeat 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import clean_env, lean_tureen_python, mlflow_python, run_json  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

BUILD = r"""
import json, sys
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tureen.flavors import sklearn as flavor
out = sys.argv[1]
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
flavor.save_model(clf, out + "/model", input_example=X.head(3), serialization_format=sys.argv[2] or None)
big = X.sample(n=1000, replace=True, random_state=0)
cols = list(X.columns)
bodies = {
    "split1": json.dumps({"dataframe_split": {"columns": cols, "data": X.iloc[:1].to_numpy().tolist()}}),
    "split1000": json.dumps({"dataframe_split": {"columns": cols, "data": big.to_numpy().tolist()}}),
    "records1000": json.dumps({"dataframe_records": big.to_dict(orient="records")}),
    "csv1000": big.to_csv(index=False),
}
for name, text in bodies.items():
    open(f"{out}/{name}.body", "w").write(text)
X.iloc[:1].to_pickle(out + "/row.pkl")
print(json.dumps({"ok": True}))
"""

INPROC = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
module = sys.argv[3]
if module == "tureen":
    from tureen.pyfunc import load_model
else:
    from mlflow.pyfunc import load_model
model = load_model(sys.argv[1])
row = pd.read_pickle(sys.argv[2])


def cpu_ms(fn, arg, n=500):  # CPU ms of one fn(arg): the mean of n calls after 50 warm-up calls
    for _ in range(50):
        fn(arg)
    start = time.process_time()
    for _ in range(n):
        fn(arg)
    return (time.process_time() - start) / n * 1000


out = {"cpu_ms": cpu_ms(model.predict, row)}
block = getattr(model, "_block_predictor", lambda: None)()
if block is not None:  # what tureen's server scores for this model: the row's 2-D array
    out["block_cpu_ms"] = cpu_ms(block, row.to_numpy())
print(json.dumps(out))
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


def wrk(url: str, body_file: Path, content_type: str, connections: int, seconds: float, tmp: Path) -> dict:
    script = tmp / "post.lua"
    script.write_text('wrk.method = "POST"\n'
                      f'wrk.headers["Content-Type"] = "{content_type}"\n'
                      f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*a"); f:close()\n')
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(round(seconds)))}s", "--latency", "--timeout", "30s",
                          "-s", str(script), f"{url}/invocations"], capture_output=True, text=True, check=True)
    text = out.stdout
    total = int(re.search(r"(\d+) requests in", text).group(1))
    bad = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return {"requests": total, "errors": bad, "rps": rps, "p99_ms": float(p99.group(1)) * scale}


def measure_pair(servers: dict[str, Server], scenarios: list[tuple[str, str, str, int]], data: Path,
                 seconds: float, tmp: Path, repeat: int) -> dict:
    """Each scenario runs against every server back to back (so both see the same machine load), ``repeat``
    times; the median of each figure is kept."""
    import statistics

    results: dict = {name: {"ready_s": s.ready_s} for name, s in servers.items()}
    for s in servers.values():
        wrk(s.url, data / "split1.body", "application/json", 1, 2, tmp)  # warm up
    for key, body, ctype, conns in scenarios:
        runs: dict[str, list[dict]] = {name: [] for name in servers}
        for _ in range(repeat):
            for name, server in servers.items():
                pids = server.pids()
                before = cpu_seconds(pids)
                r = wrk(server.url, data / f"{body}.body", ctype, conns, seconds, tmp)
                r["cpu_ms_per_request"] = (cpu_seconds(pids) - before) / max(r["requests"], 1) * 1000
                runs[name].append(r)
                if r["errors"]:
                    print(f"  warning: {name} {key}: {r['errors']} non-2xx answers", file=sys.stderr)
        for name, rs in runs.items():
            results[name][key] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
    for name, server in servers.items():
        results[name]["rss_mib"], results[name]["pss_mib"] = memory_mib(server.pids())
        results[name]["processes"] = len(server.pids())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="tureen threads per worker")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario and server (median kept)")
    parser.add_argument("--format", default="", help="sklearn serialization format (default: tureen's default)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    tpy = lean_tureen_python("sklearn")
    mpy = mlflow_python()
    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    run_json(tpy, BUILD, str(tmp), args.format)
    model = tmp / "model"
    fmt = (model / "MLmodel").read_text().split("serialization_format:")[1].split()[0]

    scenarios = [("1row_c1", "split1", "application/json", 1), ("1row_c8", "split1", "application/json", 8),
                 ("1row_c32", "split1", "application/json", 32),
                 ("split1000_c8", "split1000", "application/json", 8),
                 ("records1000_c8", "records1000", "application/json", 8),
                 ("csv1000_c8", "csv1000", "text/csv", 8)]

    inproc = run_json(tpy, INPROC, str(model), str(tmp / "row.pkl"), "tureen")
    inproc_t = inproc["cpu_ms"]
    inproc_m = run_json(mpy, INPROC, str(model), str(tmp / "row.pkl"), "mlflow")["cpu_ms"]

    env = clean_env()
    tbin = str(Path(tpy).parent)
    mbin = str(Path(mpy).parent)
    menv = dict(env)
    menv["PATH"] = mbin + os.pathsep + menv.get("PATH", "")
    servers: dict[str, Server] = {}
    try:
        port = free_port()
        servers["tureen"] = Server("tureen", [f"{tbin}/tureen", "serve", str(model), "--port", str(port),
                                              "--workers", str(args.workers), "--threads", str(args.threads)],
                                   env, "/ready", port, tmp / "tureen.log")
        port = free_port()
        servers["mlflow"] = Server("mlflow", [f"{mbin}/mlflow", "models", "serve", "-m", str(model), "--env-manager",
                                              "local", "-p", str(port), "--host", "127.0.0.1", "-w",
                                              str(args.workers)], menv, "/ping", port, tmp / "mlflow.log")
        results = measure_pair(servers, scenarios, tmp, args.duration, tmp, args.repeat)
    finally:
        for server in servers.values():
            server.stop()
    results["inproc_predict_ms"] = {"tureen": inproc_t, "mlflow": inproc_m,
                                    "tureen_block": inproc.get("block_cpu_ms")}

    t, m = results["tureen"], results["mlflow"]
    rows = []

    def row(label: str, tv: float, mv: float, unit: str, target: str, ok: bool | None) -> None:
        ratio = tv / mv if mv else float("inf")
        rows.append((label, f"{tv:.2f} {unit}", f"{mv:.2f} {unit}", f"{ratio:.2f}x", target,
                     "" if ok is None else ("ok" if ok else "MISSED")))

    for key, label in (("1row_c1", "1-row split, 1 conn"), ("1row_c8", "1-row split, 8 conns"),
                       ("1row_c32", "1-row split, 32 conns")):
        row(f"{label}: req/s", t[key]["rps"], m[key]["rps"], "", ">= 5x", t[key]["rps"] >= 5 * m[key]["rps"])
        row(f"{label}: p99", t[key]["p99_ms"], m[key]["p99_ms"], "ms", "<= 0.2x",
            t[key]["p99_ms"] <= 0.2 * m[key]["p99_ms"])
    for key in ("1row_c1", "1row_c8", "1row_c32"):
        row(f"server CPU/request ({key})", t[key]["cpu_ms_per_request"], m[key]["cpu_ms_per_request"], "ms",
            f"<= 2x predict ({2 * inproc_t:.2f} ms)", t[key]["cpu_ms_per_request"] <= 2 * inproc_t)
    for key, label in (("split1000_c8", "1000-row split"), ("records1000_c8", "1000-row records"),
                       ("csv1000_c8", "1000-row CSV")):
        row(f"{label}, 8 conns: req/s", t[key]["rps"], m[key]["rps"], "", ">= 2x", t[key]["rps"] >= 2 * m[key]["rps"])
    row("start to ready", t["ready_s"], m["ready_s"], "s", "<= 0.4x", t["ready_s"] <= 0.4 * m["ready_s"])
    row(f"memory RSS, all processes ({t['processes']} vs {m['processes']})", t["rss_mib"], m["rss_mib"], "MiB",
        "<= 0.5x", t["rss_mib"] <= 0.5 * m["rss_mib"])
    row("memory PSS, all processes", t["pss_mib"], m["pss_mib"], "MiB", "<= 0.5x", t["pss_mib"] <= 0.5 * m["pss_mib"])
    row("in-process pyfunc predict, 1 row (CPU)", inproc_t, inproc_m, "ms", "", None)
    if "block_cpu_ms" in inproc:
        rows.append(("  same row as the 2-D array the server scores", f"{inproc['block_cpu_ms']:.2f} ms", "", "", "",
                     ""))

    print(f"\nserve_bench: {args.workers} worker(s), tureen threads={args.threads}, median of {args.repeat} runs of "
          f"{args.duration:g} s, "
          f"model format {fmt}, wrk -t1 over loopback, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n")
    widths = [max(len(str(r[i])) for r in rows + [("metric", "tureen", "mlflow", "ratio", "target", "")])
              for i in range(6)]
    header = ("metric", "tureen", "mlflow", "ratio", "target", "")
    for r in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
