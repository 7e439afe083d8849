"""docs/containers.md: every ```python block and every `$ tureen ...` line runs, in order, on a real engine."""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from _tracking_state import fresh_tracking_state

PAGE = Path(__file__).resolve().parents[2] / "docs" / "containers.md"
BLOCK = re.compile(r"```(python|console)\n(.*?)```", re.S)

pytestmark = pytest.mark.docker


def test_containers_page_examples_run(docker_engine, image_options, churn_image, tmp_path, monkeypatch) -> None:
    import tureen.docker

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUREEN_TRACKING_URI", raising=False)
    # The page builds from the default python:X.Y-slim base; no registry is reachable here, so the examples
    # get the session's local base image and the host's CA certificates, as every docker test does.
    options = {k: v for k, v in image_options.items() if k != "log"}
    monkeypatch.setattr(tureen.docker, "build_image", functools.partial(tureen.docker.build_image, **options))
    found = BLOCK.findall(PAGE.read_text())
    assert [kind for kind, _ in found].count("python") == 3
    namespace: dict = {"__name__": "__docs__"}
    built = []
    try:
        with fresh_tracking_state(monkeypatch):
            for kind, code in found:
                if kind == "python":
                    exec(compile(code, str(PAGE), "exec"), namespace)  # noqa: S102 - our own docs
                    if "result" in namespace and not built:
                        built.append(namespace["result"].name)
                    continue
                for line in code.splitlines():
                    if line.startswith("$ "):
                        args = shlex.split(line[2:])
                        res = subprocess.run([sys.executable, "-m", "tureen.cli", *args[1:]], capture_output=True,
                                             text=True, env=os.environ.copy())
                        assert res.returncode == 0, f"{line}\n{res.stderr}"
        assert built == ["iris:1"] and docker_engine.image_exists("iris:1")
        assert (tmp_path / "iris-context" / "Dockerfile").is_file()
    finally:
        docker_engine.remove_images("iris:1")
