"""Images built on a real Docker engine, run, and scored: the sklearn and xgboost flavors from models:/ URIs.

Every build uses the session's local base image (Debian bookworm + Python 3.11; nothing can be pulled here)
and the host's extra CA certificates (pip in the build goes through a TLS-intercepting proxy).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import _docker_harness as harness
from tureen.docker import build_image
from tureen.exceptions import ImageBuildError, InvalidParameterError

pytestmark = pytest.mark.docker


def _session() -> Any:
    import requests

    s = requests.Session()
    s.trust_env = False  # 127.0.0.1 never through a proxy
    return s


@contextlib.contextmanager
def running(engine: harness.Engine, image: str, *, port_inside: int = 8080,
            env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """Run ``image`` published on a free 127.0.0.1 port; yield (container id, base URL); remove it after."""
    port = harness.free_port()
    args = ["run", "-d", "-p", f"127.0.0.1:{port}:{port_inside}"]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    cid = engine.docker(*args, image).stdout.strip()
    url = f"http://127.0.0.1:{port}"

    def still_running() -> None:
        state = engine.docker("inspect", "--format", "{{.State.Running}}", cid, check=False).stdout.strip()
        if state == "false":
            logs = engine.docker("logs", cid, check=False)
            raise AssertionError(f"container exited:\n{logs.stdout[-3000:]}\n{logs.stderr[-3000:]}")

    try:
        harness.wait_http(f"{url}/ready", timeout=120, proc_check=still_running)
        yield cid, url
    finally:
        engine.docker("rm", "-f", cid, check=False)


def _score(url: str, frame: Any) -> list[Any]:
    body = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
    deadline = time.monotonic() + 90
    while True:  # without preload, each worker answers 503 until it has loaded the model
        resp = _session().post(f"{url}/invocations", json=body, timeout=60)
        if resp.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert resp.status_code == 200, resp.text
    return resp.json()["predictions"]


def _wait_healthy(engine: harness.Engine, cid: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = engine.docker("inspect", "--format", "{{.State.Health.Status}}", cid).stdout.strip()
        if status in ("healthy", "unhealthy"):
            return status
        time.sleep(1)
    return status


# ------------------------------------------------------------------------------------------------
# models and images shared by the tests


@pytest.fixture(scope="session")
def xgb_model(breast_cancer):
    """A scikit-learn wrapper: its requirements name scikit-learn, which it imports at load in the image."""
    import xgboost as xgb

    X, y = breast_cancer
    return xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)


# ------------------------------------------------------------------------------------------------


def test_sklearn_image_from_models_uri_serves_local_predictions(docker_engine, churn_image, churn_v1, breast_cancer,
                                                                use_registry) -> None:
    from tureen import pyfunc

    result, logs = churn_image
    assert result.python_version.startswith("3.")
    assert any(line.startswith("Step 1/") for line in logs)  # the build log was streamed
    config = json.loads(docker_engine.docker("image", "inspect", result.name).stdout)[0]["Config"]
    assert config["User"] == "10001" and "8080/tcp" in config["ExposedPorts"]
    assert "/ready" in " ".join(config["Healthcheck"]["Test"])
    X, _ = breast_cancer
    expected = pyfunc.load_model(churn_v1).predict(X[:40])
    with running(docker_engine, result.name) as (cid, url):
        assert _score(url, X[:40]) == [int(v) for v in expected]
        s = _session()
        assert s.get(f"{url}/ping", timeout=10).status_code == 200
        assert "tureen_requests_total" in s.get(f"{url}/metrics", timeout=10).text
        bad = s.post(f"{url}/invocations", json={"dataframe_split": {"columns": ["nope"], "data": [[1]]}}, timeout=10)
        assert 400 <= bad.status_code < 500 and "error_code" in bad.json() and "Traceback" not in bad.text
        assert docker_engine.docker("exec", cid, "id", "-u").stdout.strip() == "10001"
        assert _wait_healthy(docker_engine, cid) == "healthy"


def test_xgboost_image_via_cli_with_env_passed_through(docker_engine, image_options, registered, xgb_model,
                                                       breast_cancer, use_registry, registry_uri,
                                                       churn_image) -> None:
    from tureen import flavors, pyfunc

    X, _ = breast_cancer
    uri = registered("docker-xgb", lambda name: flavors.xgboost.log_model(
        xgb_model, name="model", input_example=X[:3], registered_model_name=name))
    name = "tureen-test/xgb:1"
    cmd = [sys.executable, "-m", "tureen.cli", "build-docker", "-m", uri, "-n", name,
           "--base-image", image_options["base_image"], "--env", "TUREEN_SERVING_WORKERS=2"]
    for cert in image_options["extra_ca_certs"]:
        cmd += ["--extra-ca-cert", cert]
    if image_options["pip_index_url"]:
        cmd += ["--pip-index-url", image_options["pip_index_url"]]
    for extra in image_options["pip_extra_index_urls"]:
        cmd += ["--pip-extra-index-url", extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TUREEN_TRACKING_URI=registry_uri))
    try:
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert "Step 1/" in proc.stderr and f"Built {name}" in proc.stdout
        # tureen's dependency layer is the one the sklearn image built: pinned alike, so shared
        deps_step = next(s for s in _steps(proc.stderr.splitlines()) if "requirements/tureen.txt" in s[0]
                         and s[0].startswith("RUN"))
        assert deps_step[1], "tureen's dependency layer was not shared with the sklearn image"
        expected = pyfunc.load_model(uri).predict(X[:40])
        # TUREEN_SERVING_* given at `docker run` reach the server: here it listens on 9000, not 8080.
        # The model is preloaded in gunicorn's master (the default) and served by forked workers.
        with running(docker_engine, name, port_inside=9000, env={"TUREEN_SERVING_PORT": "9000"}) as (cid, url):
            got = _score(url, X[:40])
            assert [float(v) for v in got] == pytest.approx([float(v) for v in expected])
            env = docker_engine.docker("exec", cid, "printenv", "TUREEN_SERVING_WORKERS").stdout.strip()
            assert env == "2"
            assert _wait_healthy(docker_engine, cid) == "healthy"  # the health check follows the port too
    finally:
        docker_engine.remove_images(name)


def test_rebuild_after_only_the_model_changed_reuses_the_requirements_layer(docker_engine, image_options, churn_image,
                                                                          registered, in_registry, breast_cancer,
                                                                          use_registry) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tureen import flavors
    from tureen.uri import resolve_model_uri

    X, y = breast_cancer
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000)).fit(X, y)
    v2 = registered("docker-churn", lambda name: flavors.sklearn.log_model(
        model, name="model", input_example=X[:3], registered_model_name=name))
    assert v2.endswith("/2")
    logs: list[str] = []
    with in_registry():
        result = build_image(v2, "tureen-test/churn:2", **{**image_options, "log": logs.append})
    try:
        steps = _steps(logs)
        pip_steps = [s for s in steps if "pip install" in s[0]]
        model_step = next(s for s in steps if s[0].startswith("COPY model/"))
        # (the wheel's layer is cached too unless tureen's own sources changed in between)
        assert len(pip_steps) == 3 and all(cached for _, cached in pip_steps[:2]), \
            "a requirements layer was rebuilt although only the model changed"
        assert not model_step[1]
        inside = docker_engine.docker("run", "--rm", "--entrypoint", "cat", result.name,
                                      "/opt/ml/model/MLmodel").stdout
        assert (resolve_model_uri(v2) / "MLmodel").read_text() == inside
    finally:
        docker_engine.remove_images("tureen-test/churn:2")


def _steps(logs: list[str]) -> list[tuple[str, bool]]:
    """(instruction, used the cache) for each step of a classic-builder log."""
    out: list[tuple[str, bool]] = []
    for line in logs:
        if line.startswith("Step "):
            out.append((line.split(" : ", 1)[1], False))
        elif line.strip() == "---> Using cache" and out:
            out[-1] = (out[-1][0], True)
    return out


def test_failed_pip_install_reports_pips_error_and_leaves_no_image(docker_engine, image_options, saved_sklearn,
                                                                   tmp_path: Path, churn_image) -> None:
    model = harness.editable_copy(saved_sklearn, tmp_path / "model")
    (model / "requirements.txt").write_text("tureen-surely-missing-dist==0.0.1\nscikit-learn\n")
    name = "tureen-test/broken:1"
    before = set(docker_engine.docker("ps", "-aq").stdout.split())
    with pytest.raises(ImageBuildError) as info:
        build_image(model, name, **image_options)
    message = info.value.message
    assert "docker build failed at step" in message and "pip install -r /opt/tureen/requirements" in message
    assert "No matching distribution found for tureen-surely-missing-dist==0.0.1" in message
    assert info.value.error_code == "IMAGE_BUILD_FAILED"
    assert not docker_engine.image_exists(name)
    assert set(docker_engine.docker("ps", "-aq").stdout.split()) == before  # no leftover build container


@pytest.fixture(scope="session")
def unsuitable_bases(docker_engine, base_image, tmp_path_factory) -> Iterator[dict[str, str]]:
    """Images derived from the base: one without Python, one whose python3 is an old interpreter (a shim that
    answers like Python 3.9, since no old Python can be pulled here)."""
    root = tmp_path_factory.mktemp("bases")
    images = {
        "nopython": (f"FROM {base_image}\nRUN rm -f /usr/bin/python3 /usr/bin/python3.11 /usr/bin/python\n"),
        "oldpython": (f"FROM {base_image}\nRUN printf '#!/bin/sh\\necho TUREEN-PROBE 3.9.2 venv\\n' "
                      "> /usr/local/bin/python3 && chmod +x /usr/local/bin/python3\n"),
    }
    names = {}
    for key, dockerfile in images.items():
        (root / key).mkdir()
        (root / key / "Dockerfile").write_text(dockerfile)
        names[key] = f"tureen-test/base-{key}:1"
        docker_engine.docker("build", "-q", "-t", names[key], str(root / key))
    yield names
    docker_engine.remove_images(*names.values())


@pytest.mark.parametrize("kind, match", [("nopython", "has no 'python3' on its PATH"),
                                         ("oldpython", "has Python 3.9.2; tureen needs Python >= 3.10")])
def test_base_image_without_suitable_python_is_refused_before_building(docker_engine, unsuitable_bases, saved_sklearn,
                                                                       kind, match) -> None:
    logs: list[str] = []
    with pytest.raises(InvalidParameterError, match=match):
        build_image(saved_sklearn, "tureen-test/never:1", base_image=unsuitable_bases[kind], log=logs.append)
    assert logs == []  # nothing was built
    assert not docker_engine.image_exists("tureen-test/never:1")


def test_missing_base_image_is_a_clear_engine_error(docker_engine, saved_sklearn) -> None:
    from tureen.exceptions import ContainerEngineError

    with pytest.raises(ContainerEngineError, match="Cannot use the base image 'tureen-test/absent:0'"):
        build_image(saved_sklearn, "tureen-test/never:1", base_image="tureen-test/absent:0", log=None)
