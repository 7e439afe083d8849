"""MLflow 3.17's own ``mlflow run`` accepts the same MLproject, and both tools hand the entry point the same
command line; the run MLflow records carries the system tags tureen records."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from conftest import ECHO_PY

import tureen
from tureen import projects
from tureen.tracking.client import TrackingClient

PROJECT = """
name: compat
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      epochs: {type: int, default: 3}
      data: {type: path, default: data.csv}
      note: {type: string, default: "two words"}
    command: "python echo.py --alpha {alpha} --epochs {epochs} --data {data} --note {note}"
"""


def test_mlflow_run_accepts_the_same_project_and_builds_the_same_command(make_project, tracking, tmp_path,
                                                                          mlflow_python, monkeypatch):
    proj = make_project(PROJECT, **{"echo.py": ECHO_PY, "data.csv": "a\n1\n"})
    monkeypatch.chdir(tmp_path)
    # (a relative path default: MLflow resolves it from the caller's directory, tureen inside the project)
    params = {"alpha": "0.3", "note": "it's $(id)", "extra": "x y", "data": str(proj / "data.csv")}
    submitted = projects.run(str(proj), parameters=params)
    ours = json.loads((proj / "out.json").read_text())
    (proj / "out.json").unlink()

    mlflow_db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_", "MLFLOW_", "PYTHONPATH"))}
    env.update(PATH=f"{mlflow_python.parent}{os.pathsep}{env['PATH']}", MLFLOW_TRACKING_URI=mlflow_db,
               PYTHONWARNINGS="ignore")
    args = [str(mlflow_python), "-m", "mlflow", "run", str(proj), "--env-manager", "local"]
    for k, v in params.items():
        args += ["-P", f"{k}={v}"]
    res = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    theirs = json.loads((proj / "out.json").read_text())
    assert theirs["argv"] == ours["argv"]
    assert theirs["mlflow_run_id"] and theirs["tracking_uri"] == mlflow_db

    # MLflow's run, read by tureen from MLflow's own database: the same system tags and params
    mlflow_run = TrackingClient(mlflow_db).get_run(theirs["mlflow_run_id"])
    our_run = tureen.get_run(submitted.run_id)
    mlflow_system = {k for k in mlflow_run.data.tags if k.startswith("mlflow.") and k != "mlflow.runName"}
    assert {"mlflow.source.type", "mlflow.project.entryPoint", "mlflow.project.backend", "mlflow.source.name",
            "mlflow.user"} <= mlflow_system
    for key in mlflow_system:  # every system tag MLflow sets, tureen sets alike (and also mlflow.project.env)
        assert mlflow_run.data.tags[key] == our_run.data.tags[key], key
    assert our_run.data.tags["mlflow.project.env"] == "local"
    # MLflow logs each value as it put it in the command, shell-quoted ('x y'); tureen logs the value itself
    assert mlflow_run.data.params == {k: shlex.quote(v) for k, v in our_run.data.params.items()}
    assert our_run.data.params["extra"] == "x y"
