"""The tracking and registry CLI: readable tables by default, JSON with --json, typed errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import tureen
from tureen.cli import cli
from tureen.models import Model
from tureen.tracking._log_model import log_model


def _save(path: str) -> None:
    Path(path).mkdir()
    m = Model()
    m.add_flavor("python_function", loader_module="tureen.pyfunc.model")
    m.save(path)


@pytest.fixture
def logged(client):
    tureen.set_experiment("churn")
    with tureen.start_run(run_name="first") as run:
        tureen.log_metric("auc", 0.9)
        tureen.log_param("C", "1")
        tureen.log_text("hello", "notes/a.txt")
        log_model("custom", _save, name="model", registered_model_name="churn")
    return run.info.run_id


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_experiments_commands(client):
    assert "Created experiment 'a'" in invoke("experiments", "create", "a")
    out = invoke("experiments", "list")
    assert "Default" in out and "a" in out and out.splitlines()[0].split()[:3] == ["id", "name", "stage"]
    data = json.loads(invoke("experiments", "describe", "a", "--json"))
    assert data["name"] == "a" and data["lifecycle_stage"] == "active"
    invoke("experiments", "rename", data["experiment_id"], "b")
    invoke("experiments", "delete", data["experiment_id"])
    assert [e["name"] for e in json.loads(invoke("experiments", "list", "--view", "deleted", "--json"))] == ["b"]
    invoke("experiments", "restore", data["experiment_id"])


def test_runs_commands(logged):
    out = invoke("runs", "list", "-n", "churn")
    assert logged in out and "auc=0.9" in out
    runs = json.loads(invoke("runs", "list", "-n", "churn", "--filter", "metrics.auc > 0.5", "--json"))
    assert [r["info"]["run_id"] for r in runs] == [logged]
    described = invoke("runs", "describe", logged)
    assert "C: 1" in described and "models:/m-" in described
    assert json.loads(invoke("runs", "describe", logged, "--json"))["data"]["params"] == {"C": "1"}
    invoke("runs", "delete", logged)
    assert json.loads(invoke("runs", "list", "-n", "churn", "--json")) == []
    invoke("runs", "restore", logged)


def test_artifacts_commands(logged, tmp_path):
    assert "notes/" in invoke("artifacts", "list", logged)
    files = json.loads(invoke("artifacts", "list", logged, "notes", "--json"))
    assert files == [{"path": "notes/a.txt", "is_dir": False, "file_size": 5}]
    where = invoke("artifacts", "download", logged, "notes", "-d", str(tmp_path / "dl")).strip()
    assert (Path(where) / "a.txt").read_text() == "hello"


def test_registry_commands(logged):
    assert "1 (None)" in invoke("models", "list")
    assert "version 2" in invoke("models", "register", f"runs:/{logged}/model", "churn")
    assert "Production" in invoke("models", "transition", "churn", "2", "production", "--archive-existing")
    invoke("models", "alias", "churn", "champion", "2")
    assert json.loads(invoke("models", "alias", "churn", "--json")) == {"champion": "2"}
    versions = json.loads(invoke("models", "versions", "churn", "--json"))
    assert [(v["version"], v["current_stage"], v["aliases"]) for v in versions] == [
        ("2", "Production", ["champion"]), ("1", "None", [])]
    invoke("models", "alias", "churn", "champion", "--delete")
    history = json.loads(invoke("models", "alias", "churn", "--history", "--json"))
    assert [(h["alias"], h["version"]) for h in history] == [("champion", "2"), ("champion", None)]
    invoke("models", "delete", "churn", "--version", "1")
    invoke("models", "delete", "churn")
    assert invoke("models", "list").strip() == "(none)"


def test_errors_are_one_clear_line(client, capsys):
    from tureen.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["models", "transition", "nope", "1", "Production"])
    assert exit_info.value.code == 1
    assert "Error (RESOURCE_DOES_NOT_EXIST): Registered Model with name=nope not found" in capsys.readouterr().err
