"""The UI's routes through Flask's test client: escaping, confinement of artifact paths, cross-site refusal,
typed errors, downsampling that keeps spikes, and ``tureen ui`` serving a local store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from _ui_seed import HOSTILE, MLMODEL


@pytest.fixture(scope="module")
def http(ui_app):
    return ui_app.test_client()


def test_hostile_values_are_escaped_everywhere(http, ui_data):
    pages = ["/", f"/experiments/{ui_data['experiment_id']}?nested=0&n=200&col=t:note",
             f"/runs/{ui_data['rich']}", "/models",
             f"/compare?run={ui_data['rich']}&run={ui_data['runs'][7]}"]
    for url in pages:
        body = http.get(url).get_data(as_text=True)
        assert HOSTILE not in body, url
        assert "<img src=x onerror" not in body, url
    body = http.get(f"/experiments/{ui_data['experiment_id']}?nested=0&n=200").get_data(as_text=True)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in body


def test_pages_send_a_strict_csp(http):
    resp = http.get("/")
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/etc/passwd", "model/../../x", "a\x00b"])
def test_artifact_paths_are_confined(http, ui_data, path):
    for route in ("artifacts/preview", "artifacts/raw", "artifacts"):
        resp = http.get(f"/runs/{ui_data['rich']}/{route}", query_string={"path": path})
        assert resp.status_code == 400, (route, path)
        assert b"root:" not in resp.data


def test_artifact_symlink_leading_outside_is_refused(http, ui_data, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    run = ui_data["client"].get_run(ui_data["runs"][30])
    root = Path(run.info.artifact_uri.removeprefix("file://"))
    root.mkdir(parents=True, exist_ok=True)
    os.symlink(secret, root / "link.txt")
    resp = http.get(f"/runs/{run.info.run_id}/artifacts/preview", query_string={"path": "link.txt"})
    assert resp.status_code == 400 and b"top secret" not in resp.data
    listing = http.get(f"/runs/{run.info.run_id}/artifacts").get_data(as_text=True)
    assert "link.txt" not in listing


def test_raw_artifact_never_renders_as_html(http, ui_data):
    resp = http.get(f"/runs/{ui_data['rich']}/artifacts/raw", query_string={"path": "report.html"})
    assert resp.status_code == 200
    assert resp.mimetype == "application/octet-stream"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    img = http.get(f"/runs/{ui_data['rich']}/artifacts/raw", query_string={"path": "plots/plot.png"})
    assert img.mimetype == "image/png" and img.data.startswith(b"\x89PNG")


def test_cross_site_posts_are_refused(http, ui_data):
    rid = ui_data["runs"][40]
    resp = http.post("/runs/delete", data={"run": rid}, headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403
    assert ui_data["client"].get_run(rid).info.lifecycle_stage == "active"
    ok = http.post("/runs/delete", data={"run": rid, "next": "//evil.example/x"},
                   headers={"Origin": "http://localhost"})
    assert ok.status_code == 303 and not ok.headers["Location"].startswith("//evil")
    assert ui_data["client"].get_run(rid).info.lifecycle_stage == "deleted"
    http.post("/runs/restore", data={"run": rid}, headers={"Origin": "http://localhost"})
    assert ui_data["client"].get_run(rid).info.lifecycle_stage == "active"


def test_bad_input_is_a_typed_error(http, ui_data):
    resp = http.get("/ui-api/metric", query_string={"run": ui_data["rich"], "key": "loss", "x": "sideways"})
    assert resp.status_code == 400 and resp.json["error_code"] == "INVALID_PARAMETER_VALUE"
    resp = http.get("/ui-api/metric", query_string={"run": ui_data["rich"], "key": "loss", "points": "lots"})
    assert resp.status_code == 400 and "number" in resp.json["message"]
    assert http.get("/runs/0123456789abcdef0123456789abcdef").status_code == 404
    assert http.get("/experiments/999999").status_code == 404
    assert http.get("/model", query_string={"name": "nope"}).status_code == 404
    resp = http.post("/model/stage", data={"name": "churn-classifier", "version": "1", "stage": "Prod"})
    assert resp.status_code == 400 and b"Invalid stage" in resp.data


def test_chart_api_downsamples_and_keeps_the_spike(http, ui_data):
    q = {"run": ui_data["spiky"], "key": "val_loss", "points": "200"}
    body = http.get("/ui-api/metric", query_string=q).json
    assert body["count"] == 20_000 and body["downsampled"]
    assert len(body["y"]) <= 400
    assert max(body["y"]) == 1000.0  # the one spike at step 12345 survives
    assert min(body["y"]) == 1.0
    # zoomed into a window: full detail again
    body = http.get("/ui-api/metric", query_string={**q, "lo": "12300", "hi": "12400"}).json
    assert not body["downsampled"] and body["count"] == 101
    assert body["x"][body["y"].index(1000.0)] == 12345


def test_python_fallback_downsampling_keeps_the_spike():
    from tureen.server.ui._data import downsample

    xs = list(range(100_000))
    ys = [0.0] * 100_000
    ys[77_777] = -5.0
    ys[3] = 9.0
    out = downsample(xs, ys, 1000)
    assert out["downsampled"] and len(out["y"]) <= 2000
    assert max(out["y"]) == 9.0 and min(out["y"]) == -5.0


def test_runs_page_fetches_only_chosen_columns(ui_data):
    from tureen.tracking.stores import get_store

    store = get_store(ui_data["uri"])
    page = store.search_runs_columns([ui_data["experiment_id"]], "", 1, 5, None, None,
                                     params=["lr"], metrics=["acc"], tags=[])
    assert len(page) == 5 and page.token
    for run in page:
        assert set(run.data.params) == {"lr"} and set(run.data.metrics) <= {"acc"}
        assert set(run.data.tags) <= {"mlflow.runName", "mlflow.parentRunId", "mlflow.user", "mlflow.source.name",
                                      "mlflow.source.type"}
    keys, more = store.run_keys([ui_data["experiment_id"]], "metric", like="EXTRA")
    assert keys == ["extra_0", "extra_1"] and not more


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tureen_ui_command_serves_a_local_store(ui_data):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "tureen.cli", "ui", "--backend-store-uri", ui_data["uri"],
                             "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    html = resp.read().decode()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert "churn-model" in html
    finally:
        proc.terminate()
        proc.wait(10)


def test_tureen_ui_refuses_a_bad_store_uri():
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "ui", "--backend-store-uri", "nope://x", "--port", "0"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert res.returncode == 1 and "Unsupported tracking URI" in res.stderr


def test_tracking_server_serves_the_ui_with_proxied_artifacts(tmp_path):
    """``tureen server``'s app has the UI at ``/``; a run's ``mlflow-artifacts:/`` files preview through it."""
    from tureen.server.app import create_app

    app = create_app(backend_store_uri=f"sqlite:///{tmp_path / 's.db'}", artifacts_destination=str(tmp_path / "art"))
    http = app.test_client()
    eid = http.post("/api/2.0/mlflow/experiments/create", json={"name": "served <b>"}).json["experiment_id"]
    run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": eid, "run_name": "r1"}).json["run"]
    uri = run["info"]["artifact_uri"]
    assert uri.startswith("mlflow-artifacts:")
    rest = uri.split("mlflow-artifacts:", 1)[1].lstrip("/")
    put = http.put(f"/api/2.0/mlflow-artifacts/artifacts/{rest}/notes.txt", data=b"proxied hello")
    assert put.status_code == 200
    home = http.get("/")
    assert home.status_code == 200 and "served &lt;b&gt;" in home.get_data(as_text=True)
    rid = run["info"]["run_id"]
    listing = http.get(f"/runs/{rid}/artifacts").get_data(as_text=True)
    assert "notes.txt" in listing
    preview = http.get(f"/runs/{rid}/artifacts/preview", query_string={"path": "notes.txt"})
    assert preview.status_code == 200 and "proxied hello" in preview.get_data(as_text=True)
    assert http.get("/api/2.0/mlflow/experiments/get", query_string={"experiment_id": eid}).status_code == 200
    # a logged model's page and its proxied files
    lm = http.post("/api/2.0/mlflow/logged-models", json={"experiment_id": eid, "name": "served-lm",
                                                          "source_run_id": rid}).json["model"]["info"]
    loc = lm["artifact_uri"] if "artifact_uri" in lm else lm["artifact_location"]
    assert loc.startswith("mlflow-artifacts:")
    rest = loc.split("mlflow-artifacts:", 1)[1].lstrip("/")
    assert http.put(f"/api/2.0/mlflow-artifacts/artifacts/{rest}/MLmodel", data=MLMODEL.encode()).status_code == 200
    page = http.get(f"/logged-models/{lm['model_id']}").get_data(as_text=True)
    assert "served-lm" in page and f"/runs/{rid}" in page
    assert "MLmodel" in http.get(f"/logged-models/{lm['model_id']}/artifacts").get_data(as_text=True)
    preview = http.get(f"/logged-models/{lm['model_id']}/artifacts/preview", query_string={"path": "MLmodel"})
    assert preview.status_code == 200 and "sklearn" in preview.get_data(as_text=True)
    assert f"/logged-models/{lm['model_id']}" in http.get(f"/runs/{rid}").get_data(as_text=True)


def test_runs_table_pages_by_keyset_without_losing_or_repeating_runs(http, ui_data):
    """Default order (newest first): the next page resumes after the last start time shown; runs sharing
    that start time across the page boundary are neither lost nor shown twice."""
    import re

    c = ui_data["client"]
    eid = c.create_experiment("keyset-pages")
    expected = set()
    for i in range(70):
        start = 1_800_000_000_000 + (0 if 10 <= i < 50 else i) * 1000  # 40 runs share one start time
        expected.add(c.create_run(eid, run_name=f"k{i}", start_time=start).info.run_id)
    seen: list[str] = []
    url = f"/experiments/{eid}?n=25"
    pages = 0
    while url:
        body = http.get(url).get_data(as_text=True)
        seen += re.findall(r'<tr class="[^"]*" data-run="([0-9a-f]{32})"', body)
        nxt = re.search(r'href="([^"]*page=ks%3A[^"]*)"', body)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
        pages += 1
        assert pages < 10
    assert pages == 3 and len(seen) == len(set(seen)) == 70 and set(seen) == expected
    # start time ascending pages the same way; other orders keep offset pages
    body = http.get(f"/experiments/{eid}?n=25&dir=asc").get_data(as_text=True)
    assert "page=ks%3A1800000000000%3A" in body
    body = http.get(f"/experiments/{eid}?n=25&sort=attr:run_name").get_data(as_text=True)
    assert "page=ks" not in body and "page=" in body
    assert http.get(f"/experiments/{eid}?page=ks:notanumber:1").status_code in (200, 400)


def test_nested_runs_show_every_level(http, ui_data):
    c = ui_data["client"]
    eid = c.create_experiment("deep-nesting")
    parent_id = None
    chain = []
    for depth in range(5):
        tags = {"mlflow.parentRunId": parent_id} if parent_id else {}
        r = c.create_run(eid, run_name=f"level-{depth}", tags=tags, start_time=1_800_000_000_000 + depth)
        parent_id = r.info.run_id
        chain.append(parent_id)
    body = http.get(f"/experiments/{eid}").get_data(as_text=True)
    for depth, rid in enumerate(chain):
        assert f'data-run="{rid}" data-depth="{depth}"' in body, depth
        if depth:
            assert f'data-run="{rid}" data-depth="{depth}" data-parent="{chain[depth - 1]}"' in body
    # in tree order: each level right under its parent
    assert [body.index(f'data-run="{rid}"') for rid in chain] == sorted(body.index(f'data-run="{rid}"') for rid in chain)


# ------------------------------------------------------------------------------------------------------
# chart lines: every bucket's min and max, one grid for all runs, one request per chart
# ------------------------------------------------------------------------------------------------------
def _buckets(points, lo, hi, n):
    """Brute force: bucket -> (min, max) of the finite values, by the documented rule."""
    import math

    scale = n / (hi - lo)
    out = {}
    for x, y in points:
        if isinstance(y, float) and math.isnan(y):
            continue
        b = min(int((x - lo) * scale), n - 1)
        lo_y, hi_y = out.get(b, (y, y))
        out[b] = (min(lo_y, y), max(hi_y, y))
    return out


def _line_buckets(line, lo, hi, n):
    got = {}
    for x, y in zip(line["x"], line["y"]):
        b = min(int((x - lo) * n / (hi - lo)), n - 1)
        got.setdefault(b, []).append(y)
    return {b: (min(v), max(v)) for b, v in got.items()}


@pytest.fixture(scope="module")
def chart_experiment(ui_data):
    """Runs made by the chart tests live apart (the runs table's tests count the seeded ones)."""
    return ui_data["client"].create_experiment("chart-lines")


@pytest.fixture(scope="module")
def jagged(ui_data, chart_experiment):
    """Two runs of 5,000 irregular points (a NaN, repeated steps, a dip and a spike), different ranges."""
    from tureen.tracking.entities import Metric

    c = ui_data["client"]
    runs, series = [], []
    for j, (first, last) in enumerate(((0, 4999), (1000, 7000))):
        rid = c.create_run(chart_experiment, run_name=f"jagged-{j}", start_time=1_700_000_000_000).info.run_id
        pts = []
        state = 12345 + j
        for i in range(5000):
            state = (state * 1103515245 + 12345) % 2**31
            step = first + (i * (last - first)) // 4999
            value = (state % 10_000) / 100.0
            if i == 1234:
                value = -777.0 + j
            if i == 4321:
                value = 888.0 + j
            if i == 2000:
                value = float("nan")
            pts.append(Metric("jag", value, 1_700_000_000_000 + i * 7, step))
        for k in range(0, len(pts), 1000):
            c.log_batch(rid, metrics=pts[k:k + 1000])
        runs.append(rid)
        series.append([(p.step, p.value) for p in pts])
    return runs, series


def test_chart_lines_keep_every_buckets_min_and_max(http, jagged):
    runs, series = jagged
    body = http.get("/ui-api/metrics", query_string={"run": runs, "key": "jag", "points": "300"}).json
    assert (body["lo"], body["hi"], body["points"]) == (0, 7000, 300)  # one grid over both runs' steps
    for line, pts in zip(body["runs"], series):
        assert line["downsampled"] and line["count"] == 5000 and line["nan"] == 1
        assert len(line["y"]) <= 600
        assert _line_buckets(line, 0, 7000, 300) == _buckets(pts, 0, 7000, 300)
    # the two lines share their x values (one grid), so the chart joins them without gaps
    assert set(body["runs"][0]["x"]) & set(body["runs"][1]["x"])
    # a zoomed window: the same rule on the window's own grid, the dip still there
    body = http.get("/ui-api/metrics", query_string={"run": runs, "key": "jag", "points": "50",
                                                     "lo": "1100", "hi": "1400"}).json
    first = body["runs"][0]
    inside = [(x, y) for x, y in series[0] if 1100 <= x <= 1400]
    assert first["count"] == len(inside) and -777.0 in first["y"]
    assert _line_buckets(first, 1100, 1400, 50) == _buckets(inside, 1100, 1400, 50)


def test_chart_lines_without_the_sql_read_path_are_the_same(ui_data, jagged):
    """A REST store (``tureen server`` over loopback) has no SQL read path: the UI computes the lines
    itself from the metric histories, by the same rule, to the same answer."""
    import threading

    from werkzeug.serving import make_server

    from tureen.server.app import create_app
    from tureen.server.ui import _data as d
    from tureen.tracking.client import TrackingClient

    srv = make_server("127.0.0.1", 0, create_app(backend_store_uri=ui_data["uri"]), threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        rest = TrackingClient(f"http://127.0.0.1:{srv.server_port}")
        assert not hasattr(d._store(rest), "metric_histories")
        runs, _ = jagged
        for args in ((runs, "jag", "step", None, None, 300), (runs, "jag", "time", None, None, 40),
                     (runs[:1], "jag", "step", 1100.0, 1400.0, 50), (runs, "jag", "relative", None, None, 100)):
            assert d.metric_lines(rest, *args) == d.metric_lines(ui_data["client"], *args), args
    finally:
        srv.shutdown()
        srv.server_close()


def test_one_spike_in_100000_points_is_kept(http, ui_data, chart_experiment):
    """Hostile: a single high and a single low point among 100,000 survive a 1,500-bucket line."""
    from tureen.tracking.entities import Metric

    c = ui_data["client"]
    rid = c.create_run(chart_experiment, run_name="needle", start_time=1_700_000_000_000).info.run_id
    pts = [Metric("needle", 9e9 if s == 61_803 else -9e9 if s == 3 else 0.5, 1_700_000_000_000 + s, s)
           for s in range(100_000)]
    for k in range(0, len(pts), 1000):
        c.log_batch(rid, metrics=pts[k:k + 1000])
    for x in ("step", "time", "relative"):
        line = http.get("/ui-api/metrics", query_string={"run": rid, "key": "needle", "x": x}).json["runs"][0]
        assert line["count"] == 100_000 and line["downsampled"] and len(line["y"]) <= 3000, x
        assert max(line["y"]) == 9e9 and min(line["y"]) == -9e9, x
        spike = line["x"][line["y"].index(9e9)]
        assert abs(spike - (61_803 if x == "step" else 61_803 if x == "relative" else 1_700_000_061_803)) <= 100_000 / 1500


@pytest.mark.parametrize("query, status, words", [
    ({"key": "loss"}, 400, "at least one run"),
    ({"run": "RUN"}, 400, "metric key"),
    ({"run": "RUN", "key": "loss", "x": "sideways"}, 400, "Invalid x axis"),
    ({"run": "RUN", "key": "loss", "points": "lots"}, 400, "numbers"),
    ({"run": "RUN", "key": "loss", "points": "5"}, 400, "max_points"),
    ({"run": "RUN", "key": "loss", "points": "1000000"}, 400, "max_points"),
    ({"run": "RUN", "key": "loss", "lo": "nan"}, 400, "finite"),
    ({"run": "RUN", "key": "loss", "hi": "inf"}, 400, "finite"),
    ({"run": "RUN", "key": "loss", "lo": "10", "hi": "1"}, 400, "lo 10.0 is above hi 1.0"),
    ({"run": "RUN", "key": "loss", "lo": "1e300"}, 400, "finite"),
    ({"run": ["RUN", "0123456789abcdef0123456789abcdef"], "key": "loss"}, 404, "not found"),
    ({"run": [f"{i:032x}" for i in range(101)], "key": "loss"}, 400, "At most 100 runs"),
    ({"run": "../../etc/passwd", "key": "loss"}, 400, "run"),
])
def test_bad_chart_requests_answer_json_4xx(http, ui_data, query, status, words):
    def fill(v):
        return [fill(x) for x in v] if isinstance(v, list) else ui_data["rich"] if v == "RUN" else v

    resp = http.get("/ui-api/metrics", query_string={k: fill(v) for k, v in query.items()})
    assert resp.status_code == status and resp.is_json, resp.data[:300]
    assert words.lower() in resp.json["message"].lower() and "Traceback" not in resp.get_data(as_text=True)


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def other_database(request, tmp_path):
    """The same store on PostgreSQL or MariaDB (a fresh database of the session's server)."""
    from tureen.store.sql import SqlStore

    uri = request.getfixturevalue("postgres_uri" if request.param == "postgresql" else "mariadb_uri")
    return SqlStore(uri, artifact_root=str(tmp_path / "artifacts"))


def test_chart_lines_are_the_same_on_postgresql_and_mariadb(ui_data, jagged, other_database):
    """The bucket query is the database's arithmetic (SQLite: a cast through MLflow's ``(run_uuid, key,
    step)`` index asked for by ``INDEXED BY``; PostgreSQL and MariaDB: ``floor()``, no index hint): the
    jagged histories copied point for point give the same lines, bucket for bucket, on every database."""
    from tureen.server.ui import _data as d
    from tureen.tracking.entities import Metric

    sqlite_store = d._store(ui_data["client"])
    runs, _ = jagged
    store = other_database
    eid = store.create_experiment("chart-lines")
    copies = {}
    for rid in runs:
        src = ui_data["client"].get_run(rid).info
        new = store.create_run(eid, run_name=src.run_name, start_time=src.start_time).info.run_id
        pts = ui_data["client"].get_metric_history(rid, "jag")
        assert len(pts) == 5000
        for k in range(0, len(pts), 1000):
            store.log_batch(new, metrics=[Metric(p.key, p.value, p.timestamp, p.step) for p in pts[k:k + 1000]])
        copies[rid] = new
    for args in (("step", None, None, 300), ("time", None, None, 40), ("relative", None, None, 100),
                 ("step", 1100.0, 1400.0, 50), ("time", 1_700_000_010_000.0, None, 33)):
        want = sqlite_store.metric_histories(runs, "jag", *args)
        got = store.metric_histories([copies[r] for r in runs], "jag", *args)
        for line in want["runs"]:
            line["run"] = copies[line["run"]]
        assert got == want, args
        assert any(line["downsampled"] for line in got["runs"]) or args[-1] == 50, args
    assert sqlite_store._ui_history_index is True  # SQLite read through the index it was told to use
    # MLflow's index is there on the other database too (its planner picks it without a hint)
    from sqlalchemy import inspect

    names = {ix["name"] for ix in inspect(store._engine).get_indexes("metrics")}
    assert "index_metrics_run_uuid_key_step" in names, names


def test_logged_model_page_and_its_bad_input(http, ui_data):
    mid = ui_data["logged_model"]
    body = http.get(f"/logged-models/{mid}").get_data(as_text=True)
    assert "churn-lm" in body and f"/runs/{ui_data['h_run']}" in body and "lm_acc" in body
    listing = http.get(f"/logged-models/{mid}/artifacts").get_data(as_text=True)
    assert "MLmodel" in listing and "requirements.txt" in listing
    raw = http.get(f"/logged-models/{mid}/artifacts/raw", query_string={"path": "requirements.txt"})
    assert raw.status_code == 200 and raw.data == b"scikit-learn==1.9.0\n" and raw.mimetype == "application/octet-stream"
    unknown = "m-" + "0" * 32
    for url in (f"/logged-models/{unknown}", f"/logged-models/{unknown}/artifacts",
                f"/logged-models/{unknown}/artifacts/preview?path=MLmodel", "/logged-models/<script>"):
        page = http.get(url)
        assert page.status_code == 404 and page.mimetype == "text/html", url
        assert "RESOURCE_DOES_NOT_EXIST" in page.get_data(as_text=True) and "Traceback" not in page.get_data(as_text=True)
        as_json = http.get(url, headers={"Accept": "application/json"})
        assert as_json.status_code == 404 and as_json.json["error_code"] == "RESOURCE_DOES_NOT_EXIST", url
    for path in ("../../../../etc/passwd", "/etc/passwd", "a\x00b", ""):
        for route in ("artifacts/preview", "artifacts/raw"):
            resp = http.get(f"/logged-models/{mid}/{route}", query_string={"path": path})
            assert resp.status_code == 400 and b"root:" not in resp.data, (route, path)
    resp = http.get(f"/logged-models/{mid}/artifacts", query_string={"path": "../.."})
    assert resp.status_code == 400


def test_experiment_rename_bad_names_change_nothing(http, ui_data):
    c = ui_data["client"]
    eid = c.create_experiment("rename-target")
    for name, status, words in (("", 400, "must not be empty"), ("   ", 400, "must not be empty"),
                                ("churn-model", 400, "already exists"), ("x" * 600, 400, "at most"),
                                (HOSTILE, 200, None)):
        resp = http.post(f"/experiments/{eid}/rename", data={"name": name, "next": f"/experiments/{eid}?n=25"})
        if words is None:  # the hostile name is a valid one: renamed, and shown escaped
            assert resp.status_code == 303
            assert HOSTILE not in http.get(f"/experiments/{eid}").get_data(as_text=True)
            continue
        body = resp.get_data(as_text=True)
        assert resp.status_code == status and resp.mimetype == "text/html", name
        assert 'id="rename-error"' in body and words in body and "Traceback" not in body, name
        assert f'name="next" value="/experiments/{eid}?n=25"' in body  # the forms post back to the view
        assert c.get_experiment(eid).name == "rename-target"
    assert http.post("/experiments/999999/rename", data={"name": "x"}).status_code == 404


@pytest.mark.parametrize("query, words", [("smooth=abc", "smooth must be a number"), ("smooth=nan", "smooth"),
                                          ("smooth=inf", "smooth"), ("x=sideways", "Invalid x axis")])
def test_bad_chart_page_controls_are_typed_errors(http, ui_data, query, words):
    resp = http.get(f"/charts?run={ui_data['rich']}&key=loss&{query}")
    assert resp.status_code == 400 and words in resp.get_data(as_text=True)
    assert "Traceback" not in resp.get_data(as_text=True)
    as_json = http.get(f"/charts?run={ui_data['rich']}&key=loss&{query}", headers={"Accept": "application/json"})
    assert as_json.status_code == 400 and as_json.json["error_code"] == "INVALID_PARAMETER_VALUE"


def test_chart_smoothing_factor_is_clamped(http, ui_data):
    import json
    import re

    for given, shown in (("7", 0.99), ("-3", 0.0), ("0.25", 0.25), ("", 0.0)):
        body = http.get(f"/charts?run={ui_data['rich']}&key=loss&smooth={given}").get_data(as_text=True)
        config = json.loads(re.search(r'<script type="application/json" id="chart-config">(.*?)</script>', body,
                                      re.S).group(1))
        assert config["smooth"] == shown, given


def test_compare_plot_choices_are_carried_escaped_and_bounded(http, ui_data):
    runs = ui_data["runs"][40:42]
    q = {"run": runs, "pc": ["params.lr", HOSTILE], "sx": "x" * 5000, "sy": "metrics.acc"}
    resp = http.get("/compare", query_string=q)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and HOSTILE not in body and "Traceback" not in body
    assert 'name="pc" value="params.lr"' in body and 'name="sy" value="metrics.acc"' in body
    assert "x" * 1001 not in body  # a long value is cut, not echoed whole
    assert "pc=params.lr" in body.split('id="diff-toggle"')[0].rsplit("<a", 1)[-1]
