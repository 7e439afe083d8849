"""The kubernetes backend: the Job rendered from the user's template and validated offline (no cluster
exists here; kubectl is replaced by a recording script only where a cluster would answer)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import tureen
from tureen import projects
from tureen.exceptions import ProjectBackendError, ProjectError

K8S_VERSION = kubernetes_validate.latest_version()

TEMPLATE = """
apiVersion: batch/v1
kind: Job
metadata:
  name: "{replaced with the project name}"
  namespace: mlflow
spec:
  ttlSecondsAfterFinished: 100
  backoffLimit: 0
  template:
    spec:
      containers:
      - name: "project"
        image: "{replaced with the image}"
        command: ["{replaced with the entry point command}"]
        env:
        - {name: KEEP_ME, value: "1"}
        resources:
          limits: {memory: 512Mi}
          requests: {cpu: 100m}
      restartPolicy: Never
"""

PROJECT = """
name: K8s_Project
docker_env:
  image: base-image:1
  environment: [["FROM_FILE", "yes"]]
entry_points:
  main:
    parameters: {alpha: {type: float, default: 0.1}}
    command: "python train.py --alpha {alpha}"
"""


@pytest.fixture
def k8s_project(make_project, tmp_path):
    proj = make_project(PROJECT, **{"train.py": "print('train')\n"})
    template = tmp_path / "job.yaml"
    template.write_text(TEMPLATE)
    return proj, template


def _validate(doc: dict) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_rendered_job_reuses_a_prebuilt_image_and_validates(k8s_project, tracking):
    proj, template = k8s_project
    config = {"kube-job-template-path": str(template), "image": "registry.example/team/prebuilt:7"}
    plan = projects.plan(str(proj), backend="kubernetes", backend_config=config, parameters={"alpha": "0.7"})
    job = plan.job
    _validate(job)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/team/prebuilt:7"
    assert container["command"] == ["sh", "-c", "python train.py --alpha 0.7"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KEEP_ME"] == "1" and env["FROM_FILE"] == "yes"
    assert {"MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "TUREEN_RUN_ID"} <= set(env)
    assert job["metadata"]["name"].startswith("k8s-project-") and job["metadata"]["namespace"] == "mlflow"
    assert container["resources"]["limits"]["memory"] == "512Mi"
    assert any("no build, no push" in n for n in plan.notes)
    assert any("local to this machine" in n for n in plan.notes)


def test_without_a_prebuilt_image_the_project_image_is_named_and_not_pushed(k8s_project, tracking):
    proj, template = k8s_project
    plan = projects.plan(str(proj), backend="kubernetes",
                         backend_config={"kube-job-template-path": str(template), "repository-uri": "reg.example/p"})
    _validate(plan.job)
    assert plan.docker_image.startswith("reg.example/p:")
    assert any("not pushed" in n for n in plan.notes)
    pushed = projects.plan(str(proj), backend="kubernetes", backend_config={
        "kube-job-template-path": str(template), "repository-uri": "reg.example/p", "push": True})
    assert any("pushed (push: true)" in n for n in pushed.notes)


def test_no_cluster_configured_is_a_clear_error_and_no_run(k8s_project, tracking, tmp_path):
    proj, template = k8s_project
    with pytest.raises(ProjectBackendError, match="kube-context"):
        projects.run(str(proj), backend="kubernetes",
                     backend_config={"kube-job-template-path": str(template), "image": "x:1"})
    for config, fragment in (({}, "kube-job-template-path"), ({"kube-job-template-path": str(tmp_path / "no")}, "read"),
                             ({"kube-job-template-path": str(template), "bogus": 1}, "Unknown"),
                             ("{not json", "JSON")):
        with pytest.raises(ProjectError, match=fragment):
            projects.run(str(proj), backend="kubernetes", backend_config=config)
    bad = tmp_path / "pod.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")
    with pytest.raises(ProjectError, match="kind: Job"):
        projects.plan(str(proj), backend="kubernetes", backend_config={"kube-job-template-path": str(bad), "image": "x:1"})
    assert tureen.search_runs(output_format="list") == []


def _recording_tool(path: Path, log: Path, stdout: str = "") -> Path:
    path.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, sys
        data = sys.stdin.read() if "-f" in sys.argv else ""
        with open({str(log)!r}, "a") as f:
            f.write(json.dumps({{"argv": sys.argv[1:], "stdin": data}}) + "\\n")
        print({stdout!r})
        """))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_with_a_cluster_kubectl_applies_the_job_and_the_run_follows_it(k8s_project, tracking, tmp_path,
                                                                        monkeypatch):
    proj, template = k8s_project
    calls = tmp_path / "kubectl.log"
    done = json.dumps({"status": {"conditions": [{"type": "Complete", "status": "True"}]}})
    monkeypatch.setenv("TUREEN_KUBECTL", str(_recording_tool(tmp_path / "kubectl", calls, done)))
    docker_calls = tmp_path / "docker.log"
    monkeypatch.setenv("TUREEN_DOCKER", str(_recording_tool(tmp_path / "docker", docker_calls)))
    submitted = projects.run(str(proj), backend="kubernetes", synchronous=False, backend_config={
        "kube-job-template-path": str(template), "kube-context": "ctx-a", "image": "reg.example/pre:1"})
    lines = [json.loads(x) for x in calls.read_text().splitlines()]
    assert lines[0]["argv"][:4] == ["--context", "ctx-a", "apply", "-f"]
    applied = yaml.safe_load(lines[0]["stdin"])
    _validate(applied)
    env = {e["name"]: e["value"] for e in applied["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLFLOW_RUN_ID"] == submitted.run_id
    assert submitted.wait() is True
    run = tureen.get_run(submitted.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.project.backend"] == "kubernetes"
    assert run.data.tags["mlflow.docker.image.uri"] == "reg.example/pre:1"
    assert run.data.tags["tureen.kubernetes.job"] == applied["metadata"]["name"]
    assert not docker_calls.exists()  # a pre-built image: no build, no push
    running = projects.run(str(proj), backend="kubernetes", synchronous=False, backend_config={
        "kube-job-template-path": str(template), "kube-context": "ctx-a", "image": "reg.example/pre:1"})
    running.cancel()
    assert tureen.get_run(running.run_id).info.status == "KILLED"
    assert any(c["argv"][2:4] == ["delete", "job"] for c in map(json.loads, calls.read_text().splitlines()))


def test_cli_dry_run_prints_the_job_yaml(k8s_project, tracking, tmp_path):
    proj, template = k8s_project
    config = tmp_path / "backend.json"
    config.write_text(json.dumps({"kube-job-template-path": str(template), "image": "reg.example/pre:2"}))
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "run", str(proj), "--backend", "kubernetes",
                          "--backend-config", str(config), "--dry-run"], capture_output=True, text=True,
                         env=os.environ.copy())
    assert res.returncode == 0, res.stderr
    job_text = res.stdout.split("job: |\n", 1)[1]
    job = yaml.safe_load("\n".join(line[2:] for line in job_text.splitlines()))
    _validate(job)
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "reg.example/pre:2"
