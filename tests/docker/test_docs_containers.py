"""docs/containers.md: every ```python block and every `$ tureen ...` line runs, in order, on a real engine."""

from __future__ import annotations

import functools

import pytest

from _docs_runner import python_blocks, run_examples
from _tracking_state import fresh_tracking_state

PAGE = "containers.md"

pytestmark = pytest.mark.docker


def test_containers_page_examples_run(docker_engine, image_options, churn_image, tmp_path, monkeypatch) -> None:
    import tureen.docker

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUREEN_TRACKING_URI", raising=False)
    # The page builds from the default python:X.Y-slim base; no registry is reachable here, so the examples
    # get the session's local base image and the host's CA certificates, as every docker test does.
    options = {k: v for k, v in image_options.items() if k != "log"}
    monkeypatch.setattr(tureen.docker, "build_image", functools.partial(tureen.docker.build_image, **options))
    assert len(python_blocks(PAGE)) == 3
    try:
        with fresh_tracking_state(monkeypatch):
            namespace = run_examples(PAGE)
        assert namespace["result"].name == "iris:1" and docker_engine.image_exists("iris:1")
        assert (tmp_path / "iris-context" / "Dockerfile").is_file()
    finally:
        docker_engine.remove_images("iris:1")
