"""Project runs on the local backend: a tracked run with MLflow's system tags and the parameters, the
entry point's own start_run() joining it, failures, async runs with wait/cancel, nested runs, storage_dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ECHO_PY

import tureen
from tureen import projects
from tureen.exceptions import ProjectBackendError, ProjectError, ProjectParameterError, ProjectRunFailedError
from tureen.tracking.client import TrackingClient

REPO = Path(__file__).resolve().parents[2]

ECHO = """
name: echo
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      word: {type: string, default: hello}
    command: "python echo.py --alpha {alpha} --word {word}"
  fail:
    parameters:
      code: {type: int, default: 3}
    command: "python -c 'import sys; sys.exit({code})'"
  sleep:
    command: "python -c 'import time; time.sleep(60)'"
  data:
    parameters:
      data: path
    command: "python echo.py {data}"
"""


def _runs(tracking: str, experiment_id: str = "0"):
    return TrackingClient(tracking).search_runs([experiment_id])


def test_a_project_run_is_a_tracked_run_with_mlflows_system_tags(make_project, tracking):
    proj = make_project(ECHO, **{"echo.py": ECHO_PY})
    submitted = projects.run(str(proj), parameters={"alpha": "0.25", "extra_flag": "x y"},
                             experiment_name="proj-exp", run_name="first")
    assert submitted.get_status() == "FINISHED"
    run = tureen.get_run(submitted.run_id)
    tags = run.data.tags
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.source.name"] == str(proj)
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.env"] == "local"
    assert tags["mlflow.project.backend"] == "local"
    assert tags["mlflow.runName"] == "first"
    assert run.data.params == {"alpha": "0.25", "word": "hello", "extra_flag": "x y"}
    assert run.info.status == "FINISHED"
    assert tureen.get_experiment(run.info.experiment_id).name == "proj-exp"
    seen = json.loads((proj / "out.json").read_text())
    assert seen["argv"] == ["--alpha", "0.25", "--word", "hello", "--extra_flag", "x y"]
    assert seen["run_id"] == seen["mlflow_run_id"] == submitted.run_id
    assert seen["tracking_uri"] == tracking
    assert seen["experiment_id"] == run.info.experiment_id
    assert seen["python"] == sys.executable or Path(seen["python"]).parent == Path(sys.executable).parent


def test_the_entry_points_start_run_joins_the_project_run(make_project, tracking):
    proj = make_project("""
        entry_points:
          main:
            parameters: {n: {type: int, default: 4}}
            command: "python log.py {n}"
        """, **{"log.py": """
        import sys
        import tureen
        with tureen.start_run() as run:
            tureen.log_metric("n_squared", int(sys.argv[1]) ** 2)
            tureen.set_tag("inside", run.info.run_id)
        """})
    submitted = projects.run(str(proj), parameters={"n": 5})
    runs = _runs(tracking)
    assert [r.info.run_id for r in runs] == [submitted.run_id]  # no second run was made
    run = runs[0]
    assert run.data.metrics["n_squared"] == 25
    assert run.data.tags["inside"] == submitted.run_id
    assert run.info.status == "FINISHED"


def test_a_failing_entry_point_fails_the_run_and_raises(make_project, tracking):
    proj = make_project(ECHO, **{"echo.py": ECHO_PY})
    with pytest.raises(ProjectRunFailedError) as info:
        projects.run(str(proj), "fail", parameters={"code": 7})
    assert info.value.details["returncode"] == 7
    run = tureen.get_run(info.value.details["run_id"])
    assert run.info.status == "FAILED"
    submitted = projects.run(str(proj), "fail", synchronous=False)
    assert submitted.wait() is False and submitted.get_status() == "FAILED"


def test_bad_parameters_create_no_run(make_project, tracking):
    proj = make_project(ECHO, **{"echo.py": ECHO_PY})
    for params in ({"alpha": "abc"}, {"alpha": [1]}, {"bad name": 1}):
        with pytest.raises(ProjectParameterError):
            projects.run(str(proj), parameters=params)
    with pytest.raises(ProjectParameterError, match="data"):
        projects.run(str(proj), "data")
    with pytest.raises(ProjectError, match="no entry point"):
        projects.run(str(proj), "nope")
    with pytest.raises(ProjectBackendError, match="databricks"):
        projects.run(str(proj), backend="databricks")
    with pytest.raises(ProjectError, match="backend"):
        projects.run(str(proj), backend="mars")
    with pytest.raises(ProjectError, match="env manager"):
        projects.run(str(proj), env_manager="pipenv")
    assert _runs(tracking) == []


def test_async_run_wait_and_cancel(make_project, tracking):
    proj = make_project(ECHO, **{"echo.py": ECHO_PY})
    started = time.monotonic()
    submitted = projects.run(str(proj), "sleep", synchronous=False)
    assert time.monotonic() - started < 20
    assert submitted.get_status() == "RUNNING"
    assert tureen.get_run(submitted.run_id).info.status == "RUNNING"
    submitted.cancel()
    assert submitted.get_status() == "KILLED"
    assert tureen.get_run(submitted.run_id).info.status == "KILLED"
    with pytest.raises(ProcessLookupError):
        os.kill(submitted.pid, 0)
    ok = projects.run(str(proj), synchronous=False)
    assert ok.wait() is True and ok.get_status() == "FINISHED"


def test_run_id_continues_an_existing_run(make_project, tracking):
    proj = make_project(ECHO, **{"echo.py": ECHO_PY})
    with tureen.start_run() as existing:
        pass
    submitted = projects.run(str(proj), run_id=existing.info.run_id)
    assert submitted.run_id == existing.info.run_id
    run = tureen.get_run(existing.info.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.source.type"] == "PROJECT"
    assert len(_runs(tracking)) == 1


def test_nested_project_runs_inherit_the_env_manager_and_the_parent(make_project, tracking):
    inner = make_project(ECHO, name="inner", **{"echo.py": ECHO_PY})
    outer = make_project("""
        entry_points:
          main:
            parameters: {inner: string}
            command: "python outer.py {inner}"
        """, name="outer", **{"outer.py": """
        import sys
        from tureen import projects
        projects.run(sys.argv[1])
        """})
    submitted = projects.run(str(outer), parameters={"inner": str(inner)}, env_manager="local")
    runs = {r.data.tags["mlflow.source.name"]: r for r in _runs(tracking)}
    child = runs[str(inner)]
    assert child.data.tags["mlflow.parentRunId"] == submitted.run_id
    assert child.data.tags["mlflow.project.env"] == "local"
    assert json.loads((inner / "out.json").read_text())["env_manager"] == "local"
    assert child.info.status == runs[str(outer)].info.status == "FINISHED"


def test_path_parameters_given_as_uris_are_downloaded_into_storage_dir(make_project, tracking, tmp_path):
    proj = make_project(ECHO, **{"echo.py": ECHO_PY})
    with tureen.start_run() as source:
        tureen.log_text("a,b\n1,2\n", "data/rows.csv")
    storage = tmp_path / "storage"
    projects.run(str(proj), "data", parameters={"data": f"runs:/{source.info.run_id}/data/rows.csv"},
                 storage_dir=str(storage))
    argv = json.loads((proj / "out.json").read_text())["argv"]
    local = Path(argv[0])
    assert storage.resolve() in local.parents and local.read_text() == "a,b\n1,2\n"
    with pytest.raises(ProjectParameterError, match="data"):
        projects.run(str(proj), "data", parameters={"data": "runs:/nope/x"}, storage_dir=str(storage))


def test_hostile_values_are_not_run_by_the_shell(make_project, tracking, tmp_path):
    proj = make_project(ECHO, **{"echo.py": ECHO_PY})
    marker = tmp_path / "pwned"
    hostile = f"x; touch {marker}; $(touch {marker}) `touch {marker}` ' \""
    projects.run(str(proj), parameters={"word": hostile, "more": hostile})
    argv = json.loads((proj / "out.json").read_text())["argv"]
    assert argv[3] == hostile and argv[-1] == hostile
    assert not marker.exists()


def _cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tureen.cli", "run", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


def test_cli_streams_output_and_exits_with_the_entry_points_status(make_project, tracking):
    proj = make_project("""
        entry_points:
          main:
            parameters: {code: {type: int, default: 0}}
            command: "echo streamed-line && exit {code}"
        """)
    ok = _cli(str(proj), "--experiment-name", "cli-exp")
    assert ok.returncode == 0, ok.stderr
    assert "streamed-line" in ok.stdout
    bad = _cli(str(proj), "-P", "code=9")
    assert bad.returncode == 9
    assert "Error (RUN_FAILED)" in bad.stderr
    usage = _cli(str(proj), "-P", "novalue")
    assert usage.returncode == 2 and "NAME=VALUE" in usage.stderr
    typed = _cli(str(proj), "-P", "code=1.5")
    assert typed.returncode == 1 and "code" in typed.stderr and "Traceback" not in typed.stderr
    statuses = sorted(r.info.status for r in TrackingClient(tracking).search_runs(
        [tureen.get_experiment_by_name("cli-exp").experiment_id, "0"]))
    assert statuses == ["FAILED", "FINISHED"]


def test_cli_dry_run_prints_the_resolved_command_and_runs_nothing(make_project, tracking):
    proj = make_project(ECHO, **{"echo.py": ECHO_PY})
    res = _cli(str(proj), "-P", "alpha=2", "-P", "word=a b", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "command:     python echo.py --alpha 2 --word 'a b'" in res.stdout
    assert "environment: local" in res.stdout
    assert not (proj / "out.json").exists()
    assert _runs(tracking) == []


def test_docker_backend_plan_for_a_project_without_docker_env(make_project, tracking):
    proj = make_project(ECHO, **{"echo.py": ECHO_PY})
    with pytest.raises(ProjectError, match="needs an image"):
        projects.plan(str(proj), backend="docker")
    plan = projects.plan(str(proj), backend="docker", backend_config={"image": "python:3.11-slim"},
                         docker_args={"network": "host", "e": ["A=1", "B=2"], "privileged": True})
    assert plan.docker_image.startswith("tureen-project-echo:")
    argv = plan.docker_argv
    assert argv[-4:] == [plan.docker_image, "sh", "-c", plan.command]
    assert "--network" in argv and "--privileged" in argv and argv.count("-e") >= 2 + 6
    with pytest.raises(ProjectError, match="docker option"):
        projects.plan(str(proj), backend="docker", backend_config={"image": "x:1"}, docker_args={"--rm; id": 1})
    with pytest.raises(ProjectError, match="Unknown docker backend_config"):
        projects.plan(str(proj), backend="docker", backend_config={"imag": "x:1"})
