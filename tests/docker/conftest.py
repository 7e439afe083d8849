"""Fixtures of the container tests: a private Docker engine, a local Python base image, a model registry.

The engine and base image are session-scoped: the first docker test starts ``dockerd`` (installing
``docker.io`` and ``debootstrap`` with apt if missing) and imports the base image from the cached rootfs
tarball (debootstrapped on the first run ever); the session's end removes every container and image and
stops the daemon.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _docker_harness as harness  # noqa: E402
from _tracking_state import fresh_tracking_state  # noqa: E402


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[harness.Engine]:
    """A running private ``dockerd``; ``DOCKER_HOST`` points at it for the whole session."""
    engine = harness.start_engine()
    old = {k: os.environ.get(k) for k in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    os.environ["DOCKER_HOST"] = engine.host
    os.environ.pop("DOCKER_CONTEXT", None)
    try:
        yield engine
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        engine.stop()


@pytest.fixture(scope="session")
def base_image(docker_engine: harness.Engine) -> str:
    """The local Debian bookworm + Python 3.11 image (no registry is reachable to pull python:3.11-slim)."""
    return docker_engine.import_base()


def _host_index_settings() -> dict[str, Any]:
    """http(s) package indexes the host's pip is configured with (file:// ones do not exist in the image)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    out: dict[str, Any] = {"pip_index_url": None, "pip_extra_index_urls": []}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        value = value.strip().strip("'\"")
        urls = [u for u in value.split() if u.startswith(("http://", "https://"))]
        if key.endswith(".index-url") and urls:
            out["pip_index_url"] = urls[0]
        elif key.endswith(".extra-index-url"):
            out["pip_extra_index_urls"] += urls
    return out


@pytest.fixture(scope="session")
def image_options(base_image: str) -> dict[str, Any]:
    """Options every test build uses: the local base image, the host's extra CA certificates (pip inside
    the build passes a TLS-intercepting proxy here, as behind many corporate proxies) and its indexes."""
    return {"base_image": base_image, "extra_ca_certs": [str(p) for p in harness.host_ca_certs()],
            **_host_index_settings(), "log": None}


@pytest.fixture(scope="session")
def registry_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tracking/registry database of this session (models:/ URIs of the docker tests resolve here)."""
    root = tmp_path_factory.mktemp("docker-registry")
    return f"sqlite:///{root / 'tureen.db'}"


@contextlib.contextmanager
def registry_env(registry_uri: str, artifact_root: Path) -> Iterator[None]:
    """Tracking/registry calls inside this block use the session registry, and leave no global state."""
    with pytest.MonkeyPatch.context() as mp, fresh_tracking_state(mp, artifact_root, tracking_uri=registry_uri):
        yield


@pytest.fixture(scope="session")
def in_registry(registry_uri: str, tmp_path_factory: pytest.TempPathFactory):
    """``with in_registry(): ...`` runs code against the session registry."""
    artifacts = tmp_path_factory.mktemp("docker-registry-artifacts")
    return lambda: registry_env(registry_uri, artifacts)


@pytest.fixture(scope="session")
def registered(in_registry):
    """``registered(name, log_fn) -> "models:/name/<version>"``: ``log_fn(name)`` logs and registers a model
    (returning its ModelInfo) inside a run of the session registry."""

    def register(name: str, log_fn) -> str:
        import tureen

        with in_registry():
            with tureen.start_run():
                info = log_fn(name)
        return f"models:/{name}/{info.registered_model_version}"

    return register


@pytest.fixture
def use_registry(registry_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point this test's models:/ resolution at the session registry."""
    with fresh_tracking_state(monkeypatch, tracking_uri=registry_uri):
        yield registry_uri


@pytest.fixture(scope="session")
def churn_v1(registered, sk_pipeline, breast_cancer) -> str:
    """The breast-cancer pipeline registered as ``models:/docker-churn/1``."""
    from tureen import flavors

    X, _ = breast_cancer
    return registered("docker-churn", lambda name: flavors.sklearn.log_model(
        sk_pipeline, name="model", input_example=X[:3], registered_model_name=name))


@pytest.fixture(scope="session")
def churn_image(docker_engine, image_options, in_registry, churn_v1) -> Iterator[tuple[Any, list[str]]]:
    """``(BuildResult, build log lines)`` of the sklearn image, built once; later builds reuse its layers."""
    from tureen.docker import build_image

    from tureen.exceptions import ImageBuildError

    logs: list[str] = []
    with in_registry():
        try:
            result = build_image(churn_v1, "tureen-test/churn:1", **{**image_options, "log": logs.append})
        except ImageBuildError as exc:
            # pip inside the build downloads through the network's proxy; a download cut short there fails
            # pip's check against the index's hashes. That is the network's fault, not the build's: once more
            # (every test of the session depends on this image)
            if "DO NOT MATCH THE HASHES" not in str(exc):
                raise
            logs.clear()
            result = build_image(churn_v1, "tureen-test/churn:1", **{**image_options, "log": logs.append})
    yield result, logs
    docker_engine.remove_images(result.name)
