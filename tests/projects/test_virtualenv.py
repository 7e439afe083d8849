"""The virtualenv environment: built from python_env.yaml (one small package from the local index), cached
by the spec's content hash so the second run's setup takes under a second; installer errors shown; conda."""

from __future__ import annotations

import json
import shutil
import time

import pytest

import tureen
from tureen import projects
from tureen.exceptions import ProjectEnvironmentError, ProjectError

PROJECT = """
name: venv-proj
python_env: python_env.yaml
entry_points:
  main:
    command: "python check.py"
"""
CHECK = """
import json, sys
import six
json.dump({"prefix": sys.prefix, "six": six.__version__}, open("venv.json", "w"))
"""


def test_first_build_then_cached_reuse_under_a_second(make_project, tracking, env_cache):
    proj = make_project(PROJECT, **{"python_env.yaml": "python: '3.11'\nbuild_dependencies: [pip]\n"
                                                      "dependencies: [-r requirements.txt]\n",
                                    "requirements.txt": "six\n", "check.py": CHECK})
    messages: list[str] = []
    first = projects.run(str(proj), log=messages.append)
    seen = json.loads((proj / "venv.json").read_text())
    assert str(env_cache) in seen["prefix"]
    assert tureen.get_run(first.run_id).data.tags["mlflow.project.env"] == "virtualenv"
    assert any("venv" in m for m in messages)
    messages.clear()
    plan = projects.plan(str(proj))
    assert "cached" in plan.environment.description
    from tureen.projects._env import prepare_environment

    started = time.perf_counter()
    env = prepare_environment(projects.load_project(proj), "virtualenv")
    assert env.reused and time.perf_counter() - started <= 1.0
    second = projects.run(str(proj), log=messages.append)
    assert json.loads((proj / "venv.json").read_text())["prefix"] == seen["prefix"]
    assert any("reusing environment" in m for m in messages)
    assert second.get_status() == "FINISHED"
    # a changed requirements file is another environment
    (proj / "requirements.txt").write_text("six\niniconfig\n")
    assert "built with" in projects.plan(str(proj)).environment.description


def test_the_installers_error_is_shown_and_nothing_is_left(make_project, tracking, env_cache):
    proj = make_project(PROJECT, **{"python_env.yaml": "python: '3.11'\n"
                                                      "dependencies: [tureen-no-such-package-0f0f==9.9]\n",
                                    "check.py": CHECK})
    with pytest.raises(ProjectEnvironmentError) as info:
        projects.run(str(proj))
    assert "tureen-no-such-package-0f0f" in info.value.message
    assert "No matching distribution" in info.value.message or "ERROR" in info.value.message
    (run,) = tureen.search_runs(output_format="list")
    assert run.info.status == "FAILED"
    assert not [p for p in env_cache.iterdir() if p.is_dir() and not (p / ".tureen-env-complete").exists()]


@pytest.mark.parametrize("spec, fragment", [
    ("python: '2.7'\n", "Python 2.7"),
    ("python: 'three'\n", "not a version"),
    ("dependencies: ['--index-url http://evil.example/simple']\n", "only '-r FILE'"),
    ("dependencies: ['-r ../../etc/passwd']\n", "leaves the project"),
])
def test_bad_python_env_specs(make_project, tracking, spec, fragment):
    proj = make_project(PROJECT, **{"python_env.yaml": spec, "check.py": CHECK})
    with pytest.raises((ProjectError, ProjectEnvironmentError), match=fragment):
        projects.run(str(proj))


@pytest.mark.skipif(shutil.which("conda") or shutil.which("mamba") or shutil.which("micromamba"),
                    reason="a conda executable is installed")
def test_conda_without_a_conda_executable_is_a_clear_error(make_project, tracking, monkeypatch):
    monkeypatch.delenv("MLFLOW_CONDA_HOME", raising=False)
    proj = make_project("conda_env: conda.yaml\nentry_points: {main: {command: 'true'}}\n",
                        **{"conda.yaml": "name: x\ndependencies: [python=3.11]\n"})
    for kwargs in ({}, {"use_conda": True}, {"env_manager": "conda"}):
        with pytest.raises(ProjectEnvironmentError, match="no conda executable"):
            projects.run(str(proj), **kwargs)
    assert projects.run(str(proj), env_manager="local").get_status() == "FINISHED"
    assert projects.run(str(proj), use_conda=False).get_status() == "FINISHED"
