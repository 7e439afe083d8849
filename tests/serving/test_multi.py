"""Several models in one real gunicorn server: routing by name, the repository API, readiness, per-model
metrics, the memory cap, config files, registered aliases, and hostile names."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests

from _serving_support import post_json
from tureen.serving.testing import serve_in_background

HERE = Path(__file__).resolve().parent
X_BODY = {"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.0], [3.0]]}}


@pytest.fixture(scope="session")
def ballast_models(tmp_path_factory):
    """Three models holding 40 MiB each once loaded, predicting 0, 1 and 2."""
    from _serving_models import Ballast
    from tureen.models.signature import ColSpec, ModelSignature, Schema
    from tureen.pyfunc import save_model

    root = tmp_path_factory.mktemp("ballast")
    sig = ModelSignature(inputs=Schema([ColSpec("double", "x")]))
    paths = []
    for i in range(3):
        path = root / f"b{i}"
        save_model(path, python_model=Ballast(40, i), signature=sig, code_paths=[str(HERE / "_serving_models.py")],
                   pip_requirements=["numpy"])
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def two(saved_sklearn, shapes_model):
    with serve_in_background([f"sk={saved_sklearn}", f"shapes={shapes_model}"], workers=2) as server:
        yield server


def _sk_body(X, rows):
    return {"dataframe_split": {"columns": list(X.columns), "data": X.iloc[rows].to_numpy().tolist()}}


def _raw(url: str, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request with the target sent exactly as given (no client-side normalisation of ``..``)."""
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def test_each_model_answers_at_its_own_name(two, sk_pipeline, breast_cancer):
    X, _ = breast_cancer
    r = post_json(f"{two}/invocations/sk", _sk_body(X, slice(0, 4)))
    assert r.status_code == 200 and r.json() == {"predictions": sk_pipeline.predict(X.iloc[:4]).tolist()}
    r = post_json(f"{two}/invocations/shapes", {"dataframe_split": {"columns": ["a", "b", "c"],
                                                                   "data": [[1, 0.5, "x"], [4, 1.0, "y"]]}})
    assert r.status_code == 200 and r.json() == {"predictions": [2, 8]}
    v2 = post_json(f"{two}/v2/models/shapes/infer", {"inputs": [
        {"name": "a", "shape": [1], "datatype": "INT64", "data": [3]},
        {"name": "b", "shape": [1], "datatype": "FP64", "data": [1.0]},
        {"name": "c", "shape": [1], "datatype": "BYTES", "data": ["z"]}]})
    assert v2.status_code == 200 and v2.json()["outputs"][0]["data"] == [6] and v2.json()["model_name"] == "shapes"


def test_single_model_endpoints_and_readiness(two):
    assert requests.get(f"{two}/ping", timeout=10).status_code == 200
    ready = requests.get(f"{two}/ready", timeout=10)
    assert ready.status_code == 200 and ready.json() == {"status": "ready",
                                                         "models": {"sk": "READY", "shapes": "READY"}}
    assert requests.get(f"{two}/v2/models/sk/ready", timeout=10).json() == {"name": "sk", "ready": True}
    meta = requests.get(f"{two}/v2/models/shapes", timeout=10).json()
    assert meta["name"] == "shapes" and [t["name"] for t in meta["inputs"]] == ["a", "b", "c"]
    assert requests.get(f"{two}/metadata/sk", timeout=10).json()["model_name"] == "sk"
    r = post_json(f"{two}/invocations", X_BODY)  # which model? the answer names them
    assert r.status_code == 404 and "sk" in r.json()["message"] and "shapes" in r.json()["message"]


def test_repository_index_has_the_triton_shape(two):
    r = requests.post(f"{two}/v2/repository/index", json={}, timeout=10)
    assert r.status_code == 200
    assert r.json() == [{"name": "sk", "version": "", "state": "READY", "reason": ""},
                        {"name": "shapes", "version": "", "state": "READY", "reason": ""}]
    assert requests.post(f"{two}/v2/repository/index", json={"ready": "yes"}, timeout=10).status_code == 400


def test_metrics_carry_the_model_name_and_unknown_names_add_no_series(two, breast_cancer):
    X, _ = breast_cancer
    for _ in range(3):
        assert post_json(f"{two}/invocations/sk", _sk_body(X, slice(0, 1))).status_code == 200
    assert post_json(f"{two}/invocations/shapes", {"inputs": "bad"}).status_code == 400
    for name in ("nosuch", "evil\"} 1\nfake_metric{a=\"", "x" * 300):
        assert post_json(f"{two}/invocations/{name}", X_BODY).status_code == 404
    text = requests.get(f"{two}/metrics", timeout=10).text
    assert int(re.search(r'^tureen_model_requests_total\{model="sk",code="200"\} (\d+)', text, re.M).group(1)) >= 3
    assert re.search(r'^tureen_model_requests_total\{model="shapes",code="400"\} [1-9]', text, re.M)
    assert re.search(r'^tureen_model_request_duration_seconds_count\{model="sk"\} [1-9]', text, re.M)
    assert re.search(r'^tureen_model_loaded\{model="sk"\} [12]$', text, re.M)
    models = set(re.findall(r'model="([^"]*)"', text))
    assert models == {"sk", "shapes"}
    assert "fake_metric" not in text


@pytest.mark.parametrize("target", [
    "/invocations/../invocations/sk", "/invocations/%2e%2e/sk", "/invocations/..%2Fsk", "/invocations/sk/../shapes",
    "/invocations/%2Fetc%2Fpasswd", "/invocations/", "/invocations/sk%00", "/invocations/.", "/invocations/..",
    "/v2/models/..%2F..%2Fetc/infer", "/v2/models/%2Ftmp/ready", "/metadata/..%2Fsk",
    "/v2/repository/models/..%2F..%2Ftmp%2Fx/load", "/v2/repository/models/%2Ftmp%2Fmodel/load",
])
def test_a_name_in_the_url_cannot_escape(two, target):
    method = "GET" if target.endswith("/ready") or target.startswith("/metadata") else "POST"
    status, body = _raw(two.url, method, target, b'{"inputs": [[1]]}')
    assert status == 404, (target, status, body)
    assert b"Traceback" not in body and body.startswith(b"{")


def test_load_and_unload_touch_only_configured_models(two, tmp_path, saved_sklearn, breast_cancer):
    X, _ = breast_cancer
    body = _sk_body(X, slice(0, 2))
    assert requests.post(f"{two}/v2/repository/models/sk/unload", timeout=30).status_code == 200
    # both workers follow the unload
    answers = [post_json(f"{two}/invocations/sk", body) for _ in range(6)]
    assert {r.status_code for r in answers} == {503} and "load" in answers[0].json()["message"]
    index = requests.post(f"{two}/v2/repository/index", json={}, timeout=10).json()
    assert index[0]["state"] == "UNAVAILABLE" and "repository API" in index[0]["reason"]
    assert requests.post(f"{two}/v2/repository/index", json={"ready": True}, timeout=10).json() == [
        {"name": "shapes", "version": "", "state": "READY", "reason": ""}]
    assert requests.get(f"{two}/v2/models/sk/ready", timeout=10).status_code == 503
    assert post_json(f"{two}/invocations/shapes", {"dataframe_split": {"columns": ["a", "b", "c"],
                                                                      "data": [[1, 0.5, "x"]]}}).status_code == 200
    # Triton lets a load request carry a config and files; here such a request loads nothing and writes nothing
    marker = tmp_path / "written"
    hostile = {"parameters": {"config": "{}", f"file:{marker}": "aGVsbG8="}}
    r = requests.post(f"{two}/v2/repository/models/sk/load", json=hostile, timeout=30)
    assert r.status_code == 400 and "no parameters" in r.json()["error"] and not marker.exists()
    r = requests.post(f"{two}/v2/repository/models/other/load", json={}, timeout=30)
    assert r.status_code == 404 and r.json()["error"].startswith("No model named 'other'")
    r = requests.post(f"{two}/v2/repository/models/{saved_sklearn}/load", timeout=30)
    assert r.status_code == 404
    assert requests.post(f"{two}/v2/repository/models/sk/load", timeout=60).status_code == 200
    answers = [post_json(f"{two}/invocations/sk", body) for _ in range(6)]
    assert {r.status_code for r in answers} == {200}
    assert requests.get(f"{two}/ready", timeout=10).json()["models"]["sk"] == "READY"


def test_memory_cap_unloads_the_least_recently_used(ballast_models):
    specs = [f"b{i}={p}" for i, p in enumerate(ballast_models)]
    with serve_in_background(specs, workers=1, max_memory="100MiB") as server:
        def rss() -> int:
            pid = server.worker_pids()[0]
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096

        def loaded() -> set[str]:
            index = requests.post(f"{server}/v2/repository/index", json={}, timeout=10).json()
            return {e["name"] for e in index if e["state"] == "READY"}

        assert len(loaded()) == 2  # the third did not fit next to the first two: the oldest went
        peak = 0
        for name in ["b0", "b1", "b2", "b0", "b2", "b1", "b0"]:
            r = post_json(f"{server}/invocations/{name}", X_BODY)
            assert r.status_code == 200 and r.json() == {"predictions": [int(name[1])] * 3}
            now = loaded()
            assert name in now and len(now) == 2, now
            peak = max(peak, rss())
        # b0 was used last, b1 before it: b2 is the least recently used and unloaded
        assert loaded() == {"b0", "b1"}
        index = {e["name"]: e for e in requests.post(f"{server}/v2/repository/index", json={}, timeout=10).json()}
        assert "memory cap" in index["b2"]["reason"]
        # the worker never held the three models (40 MiB each) at once
        assert peak - rss() < 40 * 2 ** 20
        text = requests.get(f"{server}/metrics", timeout=10).text
        assert re.search(r'^tureen_model_loaded\{model="b2"\} 0$', text, re.M)


def test_a_model_over_the_cap_alone_is_refused(ballast_models):
    with serve_in_background([f"big={ballast_models[0]}", f"big2={ballast_models[1]}"], max_memory="200MiB",
                             wait_ready=True) as server:
        assert post_json(f"{server}/invocations/big", X_BODY).status_code == 200
    with pytest.raises(RuntimeError, match="memory cap"):
        with serve_in_background([f"big={ballast_models[0]}", f"b1={ballast_models[1]}"], max_memory="20MiB",
                                 startup_timeout=60):
            pass


def test_config_file_relative_paths_versions_and_lazy_loading(tmp_path, saved_sklearn, shapes_model, breast_cancer,
                                                              sk_pipeline):
    import shutil

    X, _ = breast_cancer
    shutil.copytree(saved_sklearn, tmp_path / "models" / "sk")
    config = tmp_path / "serve.yaml"
    config.write_text(f"models:\n  churn:\n    uri: ./models/sk\n    version: '3'\n"
                      f"  shapes:\n    uri: {shapes_model}\n    load: false\n")
    with serve_in_background(["--config", str(config)]) as server:
        index = {e["name"]: e for e in requests.post(f"{server}/v2/repository/index", timeout=10).json()}
        assert index["churn"]["state"] == "READY" and index["churn"]["version"] == "3"
        assert index["shapes"]["state"] == "UNAVAILABLE" and "first request" in index["shapes"]["reason"]
        r = post_json(f"{server}/invocations/churn", _sk_body(X, slice(0, 3)))
        assert r.json() == {"predictions": sk_pipeline.predict(X.iloc[:3]).tolist()}
        assert requests.get(f"{server}/v2/models/churn/versions/3/ready", timeout=10).status_code == 200
        assert requests.get(f"{server}/v2/models/churn/versions/4/ready", timeout=10).status_code == 404
        r = post_json(f"{server}/invocations/shapes", {"dataframe_split": {"columns": ["a", "b", "c"],
                                                                          "data": [[2, 0.5, "x"]]}})
        assert r.status_code == 200 and r.json() == {"predictions": [4]}


@pytest.mark.parametrize("text, needle", [
    ("models: {}\n", "non-empty 'models'"),
    ("models:\n  ../x: ./m\n", "not a valid model name"),
    ("models:\n  a: {path: ./m}\n", "give a URI"),
    ("models:\n  a: {uri: ./m, code: evil}\n", "unknown keys"),
    ("models: [\n", "not valid YAML"),
])
def test_bad_config_files_are_typed_errors(tmp_path, text, needle):
    from tureen.exceptions import InvalidParameterError
    from tureen.serving.repository import read_config

    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(InvalidParameterError, match=re.escape(needle)):
        read_config(tmp_path / "c.yaml")


def test_cli_refuses_bad_names_with_a_typed_error(saved_sklearn):
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "serve", f"a/b={saved_sklearn}", f"c={saved_sklearn}"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "not a valid model name" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "serve", f"a={saved_sklearn}", f"a={saved_sklearn}"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "given twice" in res.stderr and "Traceback" not in res.stderr


def test_names_and_arguments():
    from tureen.serving.repository import parse_model_arg, valid_name

    assert parse_model_arg("models:/churn@champion") is None
    assert parse_model_arg("churn=models:/churn@champion") == ("churn", "models:/churn@champion")
    assert parse_model_arg("file:///tmp/a=b") is None
    for bad in ("..", ".", "a/b", "", "a b", "@x", "a@", "a@b@c", "x" * 129, "a\x00"):
        assert not valid_name(bad), bad
    for good in ("churn", "churn@champion", "m-1.2_x"):
        assert valid_name(good)


def test_registered_models_serve_every_alias(sk_pipeline, breast_cancer):
    import tureen
    from tureen import flavors
    from tureen.tracking.client import TrackingClient

    X, y = breast_cancer
    tureen.set_experiment("multi")
    with tureen.start_run():
        v1 = flavors.sklearn.log_model(sk_pipeline, name="model", input_example=X[:3], registered_model_name="churn")
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier(strategy="constant", constant=1).fit(X, y)
    with tureen.start_run():
        v2 = flavors.sklearn.log_model(dummy, name="model", input_example=X[:3], registered_model_name="churn")
    client = TrackingClient()
    client.set_registered_model_alias("churn", "champion", v1.registered_model_version)
    client.set_registered_model_alias("churn", "challenger", v2.registered_model_version)
    with serve_in_background(["--registered-models"]) as server:
        index = requests.post(f"{server}/v2/repository/index", timeout=10).json()
        assert {e["name"] for e in index} == {"churn@champion", "churn@challenger"}
        body = _sk_body(X, slice(0, 5))
        assert post_json(f"{server}/invocations/churn@champion", body).json() == {
            "predictions": sk_pipeline.predict(X.iloc[:5]).tolist()}
        assert post_json(f"{server}/invocations/churn@challenger", body).json() == {"predictions": [1] * 5}
        assert post_json(f"{server}/invocations/churn@nosuch", body).status_code == 404


def test_batching_merges_each_model_separately(saved_sklearn, shapes_model, sk_pipeline, breast_cancer):
    X, _ = breast_cancer
    with serve_in_background([f"sk={saved_sklearn}", f"shapes={shapes_model}"], max_batch_size=32,
                             max_latency_ms=10) as server:
        def sk(i):
            return lambda: ("sk", i, post_json(f"{server}/invocations/sk", _sk_body(X, slice(i, i + 1))))

        def shapes(i):
            body = {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[i, 0.5, "x"]]}}
            return lambda: ("shapes", i, post_json(f"{server}/invocations/shapes", body))

        calls = [sk(i) if i % 2 else shapes(i) for i in range(64)]
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda f: f(), calls))
        expected = sk_pipeline.predict(X.iloc[:64])
        for kind, i, r in results:
            assert r.status_code == 200
            want = [int(expected[i])] if kind == "sk" else [2 * i]
            assert r.json() == {"predictions": want}, (kind, i)
        text = requests.get(f"{server}/metrics", timeout=10).text
        assert float(re.search(r"^tureen_batch_size_count (\d+)", text, re.M).group(1)) >= 1
        assert np.isfinite(float(re.search(r"^tureen_batch_queue_seconds_sum (\S+)", text, re.M).group(1)))


def test_two_models_cost_little_more_memory_than_one(saved_sklearn, tmp_path):
    import shutil

    shutil.copytree(saved_sklearn, tmp_path / "copy")

    def pss(server) -> float:
        total = 0
        for pid in [server.pid, *server.worker_pids()]:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total += int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))
        return total

    with serve_in_background(saved_sklearn) as one:
        single = pss(one)
    with serve_in_background([f"a={saved_sklearn}", f"b={tmp_path / 'copy'}"]) as both:
        double = pss(both)
    assert double <= 1.3 * single, (double, single)
    time.sleep(0)


def test_config_file_settings_apply_under_explicit_ones(tmp_path):
    from tureen.exceptions import InvalidParameterError
    from tureen.serving.settings import ServingSettings
    from tureen.serving.wsgi import model_specs

    config = tmp_path / "c.yaml"
    config.write_text("models:\n  a: ./m\nmax_memory: 2GiB\nmax_batch_size: 16\n")
    specs, settings = model_specs(["--config", str(config)], settings=ServingSettings())
    assert [s.name for s in specs] == ["a"] and specs[0].uri == str((tmp_path / "m").resolve())
    assert settings.max_memory == 2 * 2 ** 30 and settings.max_batch_size == 16
    _, settings = model_specs([], config=str(config), settings=ServingSettings(max_batch_size=4))
    assert settings.max_batch_size == 4  # a flag wins over the file
    config.write_text("models:\n  a: ./m\nmax_memory: 0\n")
    with pytest.raises(InvalidParameterError, match="max_memory"):
        model_specs(["--config", str(config)], settings=ServingSettings())
    config.write_text("models:\n  a: ./m\nworker_code: evil\n")
    with pytest.raises(InvalidParameterError, match="unknown settings"):
        model_specs(["--config", str(config)], settings=ServingSettings())
    with pytest.raises(InvalidParameterError, match="NAME=URI"):
        model_specs(["a=./m", "./plain"], settings=ServingSettings())
