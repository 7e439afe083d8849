"""Web UI benchmark: tureen's UI beside MLflow 3.17's UI, same data, same headless Chromium, one run.

    .venv/bin/python benchmarks/ui_bench.py                  # 100,000 runs x 20 params x 20 metrics
    .venv/bin/python benchmarks/ui_bench.py --runs 10000     # a quicker look
    .venv/bin/python benchmarks/ui_bench.py --no-mlflow      # tureen only

What it measures (targets of issue 17):

* runs page, first page: server time (tureen's ``Server-Timing``; MLflow: the ``runs/search`` call its UI
  makes for the first 100 rows) and in the browser: navigation start until the first run row is in the DOM
  (< 300 ms server, < 1.5 s browser); the next page the same way (< 300 ms), in the browser from the click
  (tureen's next-page link; MLflow's "Load more" under its table) until the first run of that page is shown;
* 10 runs x 100,000-step histories of one metric charted: navigation until every line is drawn (< 1 s);
* compare 100 runs: the longest main-thread task while the page loads and draws, then while the values
  table is scrolled into view and across (no task > 200 ms); beside it the longest animation frame (a
  frame's scripts, style, layout and paint together, which the long-task figure can miss);
* 12,000 metric keys in one experiment: the runs page opens and shows rows (does not crash).

Data: one SQLite database for both tools (tureen's store is MLflow's schema), created by MLflow itself when
the peer venv is there, seeded with bulk inserts straight into its tables (not timed). Each tool's UI runs as
its own server process on 127.0.0.1 over that same file (``tureen ui``; ``mlflow server``, which is what
``mlflow ui`` starts). Scenarios alternate between the tools. MLflow's UI is a React app: its figures are
taken when real content is on screen (run names in its runs table, one plotted line per run). Where a page
of MLflow's does not get there, the table says "could not" with a note of why (and the time waited). The machine may be shared: the load
average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MLFLOW_PYTHON = ROOT / ".cache" / "mlflow-venv" / "bin" / "python"
NOW = 1_760_000_000_000


# ---------------------------------------------------------------------------------------------------------
# seeding (bulk SQL into whichever schema the database has)
# ---------------------------------------------------------------------------------------------------------
def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _insert_runs(conn: sqlite3.Connection, exp: int, rows: list[tuple[str, str, int]], prefix: str) -> None:
    cols = _columns(conn, "runs")
    extra = {"source_type": "LOCAL", "source_name": "", "entry_point_name": "", "source_version": ""}
    names = ["run_uuid", "name", "experiment_id", "user_id", "status", "start_time", "end_time", "artifact_uri",
             "lifecycle_stage"] + [c for c in extra if c in cols]
    values = [(rid, name, exp, "bench", "FINISHED", start, start + 1000, f"{prefix}/{rid}/artifacts", "active",
               *[extra[c] for c in extra if c in cols]) for rid, name, start in rows]
    conn.executemany(f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values)
    conn.executemany("INSERT INTO tags (run_uuid, key, value) VALUES (?, 'mlflow.runName', ?)",
                     [(rid, name) for rid, name, _ in rows])


def _insert_metrics(conn: sqlite3.Connection, rows: list[tuple[str, str, float, int, int]], latest: bool) -> None:
    conn.executemany("INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)",
                     rows)
    if latest:
        conn.executemany("INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) "
                         "VALUES (?, ?, ?, ?, ?, 0)", rows)


def seed(db: Path, experiments: dict[str, str], n_runs: int, log: Any) -> dict[str, Any]:
    """Fill the four experiments (ids given by name) of a database whose schema exists."""
    out: dict[str, Any] = {}
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        prefix = f"file://{db.parent}/artifacts"
        # 1. the big experiment: n runs x 20 params x 20 metrics
        exp = int(experiments["big"])
        t = time.perf_counter()
        chunk = 5000
        first = []
        for lo in range(0, n_runs, chunk):
            runs = [(uuid.uuid4().hex, f"r{i:06d}", NOW - i * 1000) for i in range(lo, min(n_runs, lo + chunk))]
            if lo == 0:
                first = [r[0] for r in runs[:200]]
            _insert_runs(conn, exp, runs, prefix)
            conn.executemany("INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)",
                             [(rid, f"p{k:02d}", str((i * 7 + k) % 97)) for i, (rid, _n, _s) in enumerate(runs, lo)
                              for k in range(20)])
            _insert_metrics(conn, [(rid, f"m{k:02d}", ((i * 13 + k) % 1000) / 1000, NOW, 0)
                                   for i, (rid, _n, _s) in enumerate(runs, lo) for k in range(20)], True)
        out["big_first_runs"] = first
        log(f"  seeded {n_runs} runs x 20 params x 20 metrics in {time.perf_counter() - t:.1f}s")
        # 2. ten runs with a 100,000-step history each
        exp = int(experiments["histories"])
        runs = [(uuid.uuid4().hex, f"h{i}", NOW - i * 1000) for i in range(10)]
        _insert_runs(conn, exp, runs, prefix)
        for i, (rid, _n, _s) in enumerate(runs):
            pts = [(rid, "loss", 1.0 / (1 + s / 1000) + (5.0 if s == 54321 else 0.0) + (s % 13) * 0.001,
                    NOW + s * 10, s) for s in range(100_000)]
            _insert_metrics(conn, pts, False)
            conn.execute("INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) "
                         "VALUES (?, 'loss', ?, ?, ?, 0)", (rid, pts[-1][2], pts[-1][3], pts[-1][4]))
        out["history_runs"] = [r[0] for r in runs]
        # 3. 12,000 metric keys: 20 runs with 600 distinct keys each
        exp = int(experiments["wide"])
        runs = [(uuid.uuid4().hex, f"w{i}", NOW - i * 1000) for i in range(20)]
        _insert_runs(conn, exp, runs, prefix)
        _insert_metrics(conn, [(rid, f"key_{i * 600 + k:05d}", float(k), NOW, 0) for i, (rid, _n, _s) in enumerate(runs)
                               for k in range(600)], True)
        out["wide_runs"] = [r[0] for r in runs]
        conn.commit()
    return out


# ---------------------------------------------------------------------------------------------------------
# the two servers
# ---------------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}")
            if time.time() > deadline:
                raise
            time.sleep(0.3)


class Tool:
    def __init__(self, name: str, workdir: Path, python: str, db: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.db = db
        self.uri = f"sqlite:///{self.db}"
        self.python = python
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def create_experiments(self) -> dict[str, str]:
        code = ("import json, sys\n"
                + ("from tureen.tracking.client import TrackingClient as C\n" if self.name == "tureen"
                   else "from mlflow import MlflowClient as C\n")
                + "c = C(sys.argv[1])\n"
                "print(json.dumps({n: c.create_experiment(n, artifact_location=sys.argv[2] + '/' + n)"
                " for n in ('big', 'histories', 'wide')}))\n")
        env = dict(os.environ)
        if self.name == "tureen":
            env["PYTHONPATH"] = str(ROOT)
            env["TUREEN_HOME"] = str(self.workdir / "home")
        out = subprocess.run([self.python, "-c", code, self.uri, f"file://{self.workdir}/artifacts"],
                             capture_output=True, text=True, env=env, check=False)
        if out.returncode:
            raise RuntimeError(out.stderr[-2000:])
        return json.loads(out.stdout.strip().splitlines()[-1])

    def start(self) -> None:
        port = free_port()
        env = dict(os.environ)
        if self.name == "tureen":
            env["PYTHONPATH"] = str(ROOT)
            cmd = [self.python, "-m", "tureen.cli", "ui", "--backend-store-uri", self.uri, "--port", str(port)]
        else:
            bin_dir = str(Path(self.python).parent)
            env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
            cmd = [str(Path(bin_dir) / "mlflow"), "server", "--backend-store-uri", self.uri, "--host", "127.0.0.1",
                   "--port", str(port), "--workers", "1", "--default-artifact-root", f"file://{self.workdir}/artifacts"]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        wait_http(self.url + "/", self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------------------------------------------------
# the browser
# ---------------------------------------------------------------------------------------------------------
LONGTASKS = """
window.__longTasks = []; window.__longFrames = [];
try { new PerformanceObserver(function (l) { l.getEntries().forEach(function (e) { window.__longTasks.push(e.duration); }); })
  .observe({ type: 'longtask', buffered: true }); } catch (e) {}
try { new PerformanceObserver(function (l) { l.getEntries().forEach(function (e) { window.__longFrames.push(e.duration); }); })
  .observe({ type: 'long-animation-frame', buffered: true }); } catch (e) {}
"""


def browser() -> Any:
    sys.path.insert(0, str(ROOT / "tests" / "ui"))
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from conftest import CHROMEDRIVER, chrome_options  # the test suite's browser flags

    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chrome_options(tempfile.mkdtemp()))
    driver.set_page_load_timeout(120)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LONGTASKS})
    return driver


def open_page(driver: Any, url: str) -> None:
    """A full navigation, so that performance.now() counts from this page's start.

    MLflow's pages differ only in the URL's fragment (``/#/...``): going from one to the next directly would be a
    same-document change, timed from the earlier page's start and keeping its long tasks."""
    driver.get("about:blank")
    driver.get(url)


def until(driver: Any, js: str, timeout: float = 90, what: str = "") -> float:
    """Wait until ``js`` is truthy; return ms since the navigation started (performance.now())."""
    start = time.time()
    while time.time() < start + timeout:
        got = driver.execute_script(f"return ({js}) ? performance.now() : null")
        if got is not None:
            return float(got)
        time.sleep(0.02)
    raise TimeoutError(f"{what or js} not on screen after waiting {time.time() - start:.0f} s")


def click_button(driver: Any, text: str, timeout: float = 60) -> float:
    """Click the first button whose text contains ``text``; return performance.now() at the click.

    A virtualised grid (MLflow's runs table) renders its last row, where "Load more" is, only once scrolled
    to the bottom: every grid viewport is scrolled down first."""
    js = ("var want = arguments[0];"  # (inside the filter callback, ``arguments`` would be the callback's own)
          " document.querySelectorAll('.ag-body-viewport').forEach(function (e) { e.scrollTop = e.scrollHeight; });"
          " var b = Array.prototype.slice.call(document.querySelectorAll('button')).filter(function (e) {"
          " return e.innerText && e.innerText.indexOf(want) >= 0; })[0];"
          " if (!b) return null; b.scrollIntoView(); var t = performance.now(); b.click(); return t;")
    start = time.time()
    while time.time() < start + timeout:
        got = driver.execute_script(js, text)
        if got is not None:
            return float(got)
        time.sleep(0.1)
    raise TimeoutError(f"no {text!r} button after waiting {time.time() - start:.0f} s")


def has_text(text: str) -> str:
    return f"document.body && document.body.innerText.indexOf({json.dumps(text)}) >= 0"


def long_tasks(driver: Any) -> float:
    return max(driver.execute_script("return window.__longTasks || []") or [0])


def long_frames(driver: Any) -> float:
    """The longest animation frame (scripts, style, layout and paint of one frame, > 50 ms only)."""
    return max(driver.execute_script("return window.__longFrames || []") or [0])


SCROLL_ALL = ("Array.prototype.slice.call(document.querySelectorAll('*')).forEach(function (e) {"
              " if (e.scrollHeight > e.clientHeight + 20) e.scrollTop = e.scrollHeight;"
              " if (e.scrollWidth > e.clientWidth + 20) e.scrollLeft = e.scrollWidth; });"
              " window.scrollTo(document.body.scrollWidth, document.body.scrollHeight);")


def http_ms(url: str, data: bytes | None = None) -> tuple[float, Any]:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as resp:
        body = resp.read()
        headers = resp.headers
    return (time.perf_counter() - t) * 1000, (body, headers)


# ---------------------------------------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------------------------------------
def runs_page(tool: Tool, d: Any, exps: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
    exp = exps["big"]
    if tool.name == "tureen":
        server = []
        for _ in range(5):
            wall, (_b, headers) = http_ms(f"{tool.url}/experiments/{exp}")
            server.append(float(headers["Server-Timing"].split("dur=")[1]))
        open_page(d, f"{tool.url}/experiments/{exp}")
        browser_ms = until(d, has_text("r000000"))
        t0 = float(d.execute_script("return performance.now()"))
        d.find_element("css selector", "#next-page").click()  # an htmx swap: timed from the click
        next_ms = until(d, has_text("r000050")) - t0
        _w, (body, headers) = http_ms(d.current_url)
        return {"server_ms": statistics.median(server), "browser_ms": browser_ms,
                "next_page_browser_ms": next_ms, "next_page_server_ms": float(headers["Server-Timing"].split("dur=")[1])}
    body = json.dumps({"experiment_ids": [exp], "max_results": 100, "order_by": ["attributes.start_time DESC"],
                       "run_view_type": "ACTIVE_ONLY"}).encode()
    server = [http_ms(f"{tool.url}/ajax-api/2.0/mlflow/runs/search", body)[0] for _ in range(5)]
    token = json.loads(http_ms(f"{tool.url}/ajax-api/2.0/mlflow/runs/search", body)[1][0]).get("next_page_token")
    body2 = json.dumps({"experiment_ids": [exp], "max_results": 100, "order_by": ["attributes.start_time DESC"],
                        "page_token": token}).encode()
    nxt = statistics.median(http_ms(f"{tool.url}/ajax-api/2.0/mlflow/runs/search", body2)[0] for _ in range(3))
    out: dict[str, Any] = {"server_ms": statistics.median(server), "next_page_server_ms": nxt}
    # the experiment's runs table (its bare page opens the GenAI overview of an experiment)
    open_page(d, f"{tool.url}/#/experiments/{exp}/runs")
    out["browser_ms"] = until(d, has_text("r000000"), timeout=300, what="the first run name (r000000)")
    # its next page: 100 runs a page, and a "Load more" button in a full-width last row of the (virtualised)
    # grid, there once more runs exist; a click appends the next 100 runs to the same table
    try:
        t0 = click_button(d, "Load more", timeout=60)
        out["next_page_browser_ms"] = until(d, has_text("r000100"), timeout=120, what="run r000100") - t0
    except Exception as exc:  # noqa: BLE001 - reported beside the figures
        out["next_page_error"] = str(exc)[:200]
    return out


def charts(tool: Tool, d: Any, exps: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
    ids = data["history_runs"]
    if tool.name == "tureen":
        open_page(d, f"{tool.url}/charts?" + "&".join(f"run={r}" for r in ids) + "&key=loss")
        ms = until(d, "document.body.getAttribute('data-charts-ready') === '1'", what="the drawn chart")
        top = d.execute_script("var f = document.querySelector('figure.chart'); return f && f._plot ? f._plot.scales.y.max : null")
        return {"charted_ms": ms, "long_task_ms": long_tasks(d), "spike_drawn": top is not None and top >= 5.0}
    from urllib.parse import quote

    # the metric page MLflow's UI links to from a run's metric (its own route and query format)
    open_page(d, f"{tool.url}/#/metric/?runs={json.dumps(ids)}&metric={quote(json.dumps('loss'))}"
          f"&experiments={json.dumps([exps['histories']])}&plot_metric_keys={quote(json.dumps(['loss']))}"
          "&plot_layout={}&x_axis=step&y_axis_scale=linear&line_smoothness=1&show_point=false"
          "&deselected_curves=[]&last_linear_y_axis_range=[]")
    ms = until(d, "document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length >= 10 && "
                  + has_text("h9 (loss)"), timeout=400, what="10 plotted lines")
    # does the drawn chart reach the one spike (5.0 at step 54321 in every history)?
    top = d.execute_script("var p = document.querySelector('.js-plotly-plot');"
                           " return p && p._fullLayout ? p._fullLayout.yaxis.range[1] : null")
    return {"charted_ms": ms, "long_task_ms": long_tasks(d), "spike_drawn": top is not None and top >= 5.0}


def compare(tool: Tool, d: Any, exps: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
    ids = data["big_first_runs"][:100]
    if tool.name == "tureen":
        open_page(d, f"{tool.url}/compare?" + "&".join(f"run={r}" for r in ids))
        ms = until(d, "document.body.getAttribute('data-compare-ready') === '1'", what="the compare page")
    else:
        open_page(d, f"{tool.url}/#/compare-runs?runs={json.dumps(ids)}&experiments={json.dumps([exps['big']])}")
        ms = until(d, has_text("r000099") + " && document.querySelector('.js-plotly-plot')", timeout=300,
                   what="the 100 run names and its plot")
        time.sleep(2)  # let its charts finish drawing (long tasks keep being recorded)
    loaded = long_tasks(d)
    # then the user scrolls down to the values table and across it: its rendering counts too
    for _ in range(3):
        d.execute_script(SCROLL_ALL)
        time.sleep(0.7)
    return {"ready_ms": ms, "long_task_load_ms": loaded, "long_task_ms": long_tasks(d),
            "long_frame_ms": long_frames(d)}


def wide(tool: Tool, d: Any, exps: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
    exp = exps["wide"]
    open_page(d, f"{tool.url}/experiments/{exp}" if tool.name == "tureen" else f"{tool.url}/#/experiments/{exp}/runs")
    try:
        ms = until(d, has_text("w19"), timeout=120, what="the runs w0..w19")
        ok = bool(d.execute_script("return 1"))
    except Exception as exc:  # noqa: BLE001 - a crash or hang is the result being measured
        return {"opened": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return {"opened": ok, "rows_ms": ms, "long_task_ms": long_tasks(d)}


TOOL_LABEL = {"tureen": "tureen", "mlflow": "MLflow 3.17"}
SCENARIO_LABEL = {"runs_page": "runs page", "charts": "charts", "compare": "compare 100 runs",
                  "wide": "12,000 metric keys"}
SCENARIOS = {"runs_page": runs_page, "charts": charts, "compare": compare, "wide": wide}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--no-mlflow", action="store_true")
    ap.add_argument("--mlflow-python", default=str(DEFAULT_MLFLOW_PYTHON))
    ap.add_argument("--json", dest="json_out", default=None)
    args = ap.parse_args()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="tureen-ui-bench-"))
    db = tmp / "store.db"
    tools = [Tool("tureen", tmp / "tureen", sys.executable, db)]
    if not args.no_mlflow:
        if Path(args.mlflow_python).exists():
            tools.append(Tool("mlflow", tmp / "mlflow", args.mlflow_python, db))
        else:
            log(f"MLflow peer venv not found at {args.mlflow_python}: tureen only")
    results: dict[str, dict[str, Any]] = {t.name: {} for t in tools}
    for tool in tools:
        tool.workdir.mkdir(parents=True)
    creator = tools[-1]  # MLflow makes the schema and the experiments when it is there
    log(f"{creator.name}: creating the schema and the experiments; seeding {db}")
    exps = creator.create_experiments()
    data = seed(db, exps, args.runs, log)
    seeded = {tool.name: (exps, data) for tool in tools}
    d = browser()
    try:
        for tool in tools:
            tool.start()
        for name, fn in SCENARIOS.items():
            for tool in tools:  # alternate: each scenario on both tools before the next one
                exps, data = seeded[tool.name]
                try:
                    results[tool.name][name] = fn(tool, d, exps, data)
                except Exception as exc:  # noqa: BLE001 - report what could not be measured
                    results[tool.name][name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
                log(f"  {tool.name:7s} {name}: {results[tool.name][name]}")
    finally:
        d.quit()
        for tool in tools:
            tool.stop()
    load = os.getloadavg()
    print(f"\nUI benchmark: {args.runs} runs x 20 params x 20 metrics (SQLite); load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores (shared machine)\n")
    rows = [("runs page, first page: server ms (< 300)", "runs_page", "server_ms"),
            ("runs page, first rows in the browser ms (< 1500)", "runs_page", "browser_ms"),
            ("runs page, next page: server ms (< 300)", "runs_page", "next_page_server_ms"),
            ("runs page, next page in the browser ms", "runs_page", "next_page_browser_ms"),
            ("10 runs x 100,000 steps charted ms (< 1000)", "charts", "charted_ms"),
            ("charts: longest task ms", "charts", "long_task_ms"),
            ("charts: the spike (5.0 at step 54,321) is drawn", "charts", "spike_drawn"),
            ("compare 100 runs ready ms", "compare", "ready_ms"),
            ("compare 100 runs: longest task while loading ms", "compare", "long_task_load_ms"),
            ("compare 100 runs: longest task, load + scroll ms (< 200)", "compare", "long_task_ms"),
            ("compare 100 runs: longest animation frame ms", "compare", "long_frame_ms"),
            ("12,000 metric keys: page opened", "wide", "opened"),
            ("12,000 metric keys: rows shown ms", "wide", "rows_ms")]
    print(f"{'measure':<57} {'tureen':>12} {'MLflow 3.17':>14}")
    print("-" * 85)
    notes: list[str] = []  # why a tool could not do a row's thing, printed under the table
    for label, scen, key in rows:
        cells = []
        for t in ("tureen", "mlflow"):
            r = results.get(t, {}).get(scen, {})
            v = r.get(key) if isinstance(r, dict) else None
            if t not in results:
                cells.append("-")
            elif v is None:
                page = key.startswith("next_page") and r.get("next_page_error")
                why = r.get("error") or page
                if why:
                    where = "runs page, next page" if page else SCENARIO_LABEL[scen]
                    note = f"{TOOL_LABEL[t]}, {where}: could not: {why}"
                    if note not in notes:
                        notes.append(note)
                    cells.append(f"could not ({notes.index(note) + 1})")
                else:
                    cells.append("n/a")
            elif isinstance(v, bool):
                cells.append("yes" if v else "no")
            else:
                cells.append(f"{v:.0f}")
        print(f"{label:<57} {cells[0]:>12} {cells[1]:>14}")
    for n, note in enumerate(notes, 1):
        print(f"  ({n}) {note}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
