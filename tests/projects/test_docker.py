"""The docker backend on the real engine (tests/docker's private dockerd and local base image): the
project copied into an image built FROM docker_env.image, docker_args, volumes and environment from the
file, the tracking URI and run id passed in, the local store mounted at the same path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import tureen
from tureen import projects
from tureen.exceptions import ProjectRunFailedError

pytestmark = pytest.mark.docker

SCRIPT = """
import json, os, sys
db = os.environ["MLFLOW_TRACKING_URI"][len("sqlite:///"):]
json.dump({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith(("MLFLOW", "TUREEN",
           "FROM_", "HOST_", "EXTRA"))}, "db_visible": os.path.exists(db), "cwd": os.getcwd()},
          open("/vol/out.json", "w"))
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""


@pytest.fixture
def docker_project(make_project, tmp_path, base_image, docker_engine):
    vol = tmp_path / "vol"
    vol.mkdir()
    proj = make_project(f"""
        name: dock
        docker_env:
          image: {base_image}
          volumes: ["{vol}:/vol"]
          environment: [["FROM_FILE", "yes"], "HOST_VAR"]
        entry_points:
          main:
            parameters: {{word: {{type: string, default: "a b"}}}}
            command: "python3 echo.py {{word}}"
        """, **{"echo.py": SCRIPT})
    yield proj, vol
    docker_engine.docker("image", "prune", "-f", check=False)


def test_a_docker_env_project_runs_in_its_image_with_everything_passed_in(docker_project, tracking, monkeypatch):
    proj, vol = docker_project
    monkeypatch.setenv("HOST_VAR", "from-host")
    submitted = projects.run(str(proj), parameters={"word": "x; echo $(id)"}, docker_args={"e": "EXTRA=1"})
    out = json.loads((vol / "out.json").read_text())
    assert out["argv"] == ["x; echo $(id)"]
    env = out["env"]
    assert env["MLFLOW_RUN_ID"] == env["TUREEN_RUN_ID"] == submitted.run_id
    assert env["MLFLOW_TRACKING_URI"] == tracking
    assert out["db_visible"] is True  # the local store is mounted at the same path
    assert env["FROM_FILE"] == "yes" and env["HOST_VAR"] == "from-host" and env["EXTRA"] == "1"
    assert out["cwd"] == "/tureen/project"
    run = tureen.get_run(submitted.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.project.env"] == "docker"
    assert run.data.tags["mlflow.docker.image.uri"].startswith("tureen-project-dock:")
    assert run.data.tags["mlflow.docker.image.id"]
    # the same files: the image is reused, not rebuilt
    messages: list[str] = []
    projects.run(str(proj), backend="docker", log=messages.append)
    assert any("reusing image" in m for m in messages)


def test_a_failing_container_fails_the_run(docker_project, tracking):
    proj, _ = docker_project
    with pytest.raises(ProjectRunFailedError) as info:
        projects.run(str(proj), docker_args={"e": "EXIT_CODE=4"})
    assert info.value.details["returncode"] == 4
    assert tureen.get_run(info.value.details["run_id"]).info.status == "FAILED"


def test_dry_run_shows_the_volumes_and_image_from_the_file(docker_project, tracking, base_image):
    proj, vol = docker_project
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "run", str(proj), "--dry-run", "-A", "e=EXTRA=1",
                          "-A", "network=none"], capture_output=True, text=True, env=os.environ.copy())
    assert res.returncode == 0, res.stderr
    assert f"volume from MLproject: {vol}:/vol" in res.stdout
    assert f"mounts host paths into the container: {vol}:/vol" in res.stdout
    assert "environment from MLproject: FROM_FILE=yes" in res.stdout
    assert "-e EXTRA=1 --network none" in res.stdout
    assert "image:       tureen-project-dock:" in res.stdout
    assert tureen.search_runs(output_format="list") == []


def test_kubernetes_builds_the_project_image_on_the_engine_and_pushes_only_when_asked(docker_project, tracking,
                                                                                   tmp_path, monkeypatch,
                                                                                   docker_engine):
    import yaml
    from test_kubernetes import TEMPLATE, _recording_tool, _validate

    proj, _ = docker_project
    template = tmp_path / "job.yaml"
    template.write_text(TEMPLATE)
    calls = tmp_path / "kubectl.log"
    monkeypatch.setenv("TUREEN_KUBECTL", str(_recording_tool(tmp_path / "kubectl", calls, "{}")))
    submitted = projects.run(str(proj), backend="kubernetes", synchronous=False, backend_config={
        "kube-job-template-path": str(template), "kube-context": "ctx", "repository-uri": "tureen-test/k8sproj"})
    applied = yaml.safe_load(json.loads(calls.read_text().splitlines()[0])["stdin"])
    _validate(applied)
    image = applied["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("tureen-test/k8sproj:")
    # built on the engine; not pushed (no registry is reachable here: a push would have failed the run)
    assert docker_engine.docker("image", "inspect", image).returncode == 0
    tags = tureen.get_run(submitted.run_id).data.tags
    assert tags["mlflow.docker.image.uri"] == image and tags["mlflow.docker.image.id"]
    submitted.cancel()
    docker_engine.docker("rmi", "-f", image, check=False)
