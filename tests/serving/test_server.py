"""Real gunicorn servers on free loopback ports: the CLI, workers, limits, timeouts, SIGTERM, models:/ URIs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import requests

from _serving_support import post_json
from tureen.serving.testing import serve_in_background

SPLIT = {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 0.5, "x"], [2, 1.5, "y"]]}}


def test_scores_the_saved_example_and_spreads_over_workers(sk_server, saved_sklearn):
    body = json.loads((saved_sklearn / "serving_input_example.json").read_text())
    with requests.Session() as s:
        for _ in range(30):
            r = s.post(f"{sk_server.url}/invocations", json=body, timeout=30)
            assert r.status_code == 200 and len(r.json()["predictions"]) == 5
        metrics = s.get(f"{sk_server.url}/metrics", timeout=30).text
    # counters live in memory shared by the workers: whichever worker answers sees all of them
    line = next(l for l in metrics.splitlines() if l.startswith('tureen_requests_total{endpoint="/invocations",code="200"}'))
    assert int(line.split()[-1]) >= 30
    assert "tureen_worker_starts_total 2" in metrics
    pids = {json.loads(l)["pid"] for l in sk_server.logs().splitlines() if l.startswith('{"ts"')}
    assert pids <= set(sk_server.worker_pids()) and pids


def test_access_log_lines_from_gunicorn(sk_server):
    requests.get(f"{sk_server.url}/ping", headers={"X-Request-ID": "probe-1"}, timeout=10)
    time.sleep(0.2)
    entries = [json.loads(l) for l in sk_server.logs().splitlines() if l.startswith('{"ts"')]
    probe = [e for e in entries if e.get("request_id") == "probe-1"]
    assert len(probe) == 1 and probe[0]["status"] == 200 and probe[0]["path"] == "/ping"


def test_body_limit_with_length_and_chunked(saved_sklearn):
    with serve_in_background(saved_sklearn, max_request_bytes=1000) as url:
        r = requests.post(f"{url}/invocations", data=b"{" + b" " * 5000 + b"}",
                          headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 413 and "1000 bytes" in r.json()["message"]
        chunks = (b" " * 500 for _ in range(10))  # no Content-Length: chunked transfer
        r = requests.post(f"{url}/invocations", data=chunks, headers={"Content-Type": "application/json"},
                          timeout=30)
        assert r.status_code == 413 and "1000 bytes" in r.json()["message"]
        assert requests.get(f"{url}/ping", timeout=10).status_code == 200


def test_timeout_504_in_sync_worker_then_serves_again(shapes_server):
    r = post_json(f"{shapes_server.url}/invocations", {**SPLIT, "params": {"sleep": 4}})
    assert r.status_code == 504 and r.json()["error_code"] == "DEADLINE_EXCEEDED"
    r = post_json(f"{shapes_server.url}/invocations", SPLIT)
    assert r.status_code == 200 and r.json() == {"predictions": [2, 4]}


def test_threads_and_no_preload(shapes_model):
    with serve_in_background(shapes_model, threads=4, preload=False, timeout=1) as url:
        assert requests.get(f"{url}/ready", timeout=10).status_code == 200
        r = post_json(f"{url}/invocations", {**SPLIT, "params": {"sleep": 3}})
        assert r.status_code == 504
        results = []

        def call() -> None:
            results.append(post_json(f"{url}/invocations", SPLIT).status_code)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 8


def test_sigterm_lets_in_flight_requests_finish(shapes_model):
    with serve_in_background(shapes_model, timeout=10) as server:
        out = {}

        def slow() -> None:
            out["r"] = post_json(f"{server.url}/invocations", {**SPLIT, "params": {"sleep": 1.5}})

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.5)
        os.kill(server.pid, signal.SIGTERM)
        t.join(timeout=30)
        assert out["r"].status_code == 200 and out["r"].json() == {"predictions": [2, 4]}
        assert server.process.wait(timeout=30) == 0


def test_cli_serve_prints_the_url_and_bad_uris_fail_in_one_line(tmp_path, shapes_model):
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "serve", str(tmp_path / "missing")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip().startswith("Error (RESOURCE_DOES_NOT_EXIST)") and "Traceback" not in res.stderr
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "serve", str(shapes_model), "--workers", "0"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "workers must be at least 1" in res.stderr
    env = {**os.environ, "TUREEN_SERVING_PORT": "0", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tureen.cli", "serve", str(shapes_model)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"tureen: serving {shapes_model} at http://127.0.0.1:")
        url = line.rsplit(" at ", 1)[1].strip()
        hint = proc.stdout.readline()  # a ready-to-paste curl scoring the model's own example
        assert hint.startswith(f"try: curl -s {url}/invocations -H 'Content-Type: application/json' -d ")
        deadline = time.monotonic() + 60
        while requests.get(f"{url}/ready", timeout=10).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert post_json(f"{url}/invocations", SPLIT).json() == {"predictions": [2, 4]}
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0


def test_serves_a_registered_model_by_stage(sk_pipeline, breast_cancer):
    import tureen
    from tureen import flavors
    from tureen.tracking.client import TrackingClient

    X, _ = breast_cancer
    tureen.set_experiment("serving")
    with tureen.start_run():
        info = flavors.sklearn.log_model(sk_pipeline, name="model", input_example=X[:3],
                                         registered_model_name="churn")
    TrackingClient().transition_model_version_stage("churn", info.registered_model_version, "Production")
    with serve_in_background("models:/churn/Production") as url:
        body = {"dataframe_split": {"columns": list(X.columns), "data": X.iloc[:4].to_numpy().tolist()}}
        r = post_json(f"{url}/invocations", body)
        assert r.status_code == 200 and r.json() == {"predictions": sk_pipeline.predict(X[:4]).tolist()}
        meta = requests.get(f"{url}/metadata", timeout=10).json()
        assert meta["model_name"] == "churn" and meta["model_uri"] == "models:/churn/Production"
        assert requests.get(f"{url}/v2/models/churn/ready", timeout=10).status_code == 200


def test_fork_unsafe_flavor_is_loaded_in_each_worker(tmp_path, breast_cancer):
    import lightgbm

    from tureen.flavors import lightgbm as lgb_flavor

    X, y = breast_cancer
    X = X.iloc[:, :4]
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)
    lgb_flavor.save_model(model, tmp_path / "lgb", input_example=X.head(2))
    with serve_in_background(tmp_path / "lgb", workers=2) as server:
        assert "no preload" in server.logs() and "lightgbm" in server.logs()
        body = {"dataframe_split": {"columns": list(X.columns), "data": X.iloc[:3].to_numpy().tolist()}}
        r = post_json(f"{server.url}/invocations", body)
        assert r.status_code == 200 and r.json() == {"predictions": model.predict(X.iloc[:3]).tolist()}
