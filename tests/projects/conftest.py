"""Fixtures of the project tests: a clean tracking store per test, project directories written on the fly,
a git repository with commits, a branch, a tag and a subdirectory, and (for the docker tests) the private
Docker engine and local base image of tests/docker, shared through its own fixture functions."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, Iterator

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tracking_state import fresh_tracking_state  # noqa: E402

# tests/docker's session fixtures (engine, base image), loaded under a private name (both dirs have a conftest)
_spec = importlib.util.spec_from_file_location("_tureen_docker_conftest", HERE.parent / "docker" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_docker_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_docker_conftest)
docker_engine = _docker_conftest.docker_engine
base_image = _docker_conftest.base_image


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite tracking store for this test (its URI), artifacts beside it."""
    uri = f"sqlite:///{tmp_path / 'track.db'}"
    with fresh_tracking_state(monkeypatch, tmp_path / "artifacts", tracking_uri=uri):
        monkeypatch.delenv("TUREEN_PROJECT_ENV_MANAGER", raising=False)
        monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
        monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        yield uri


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The virtualenv cache of this session (a temp dir, never ~/.tureen)."""
    return tmp_path_factory.mktemp("project-envs")


@pytest.fixture(autouse=True)
def _env_cache_in_tmp(env_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUREEN_PROJECT_ENV_ROOT", str(env_cache))


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """``make_project(mlproject_text_or_None, **files) -> dir``: a project directory with those files."""
    counter = iter(range(1000))

    def make(mlproject: str | None = None, name: str | None = None, **files: str) -> Path:
        root = tmp_path / (name or f"project{next(counter)}")
        root.mkdir(parents=True)
        if mlproject is not None:
            (root / "MLproject").write_text(textwrap.dedent(mlproject))
        for rel, text in files.items():
            path = root / rel.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return root

    return make


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@x")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


#: an entry point that writes what it was given (argv, the run id and tracking URI it sees) to out.json
ECHO_PY = """
import json, os, sys
out = os.environ.get("ECHO_OUT") or "out.json"
with open(out, "w") as f:
    json.dump({"argv": sys.argv[1:], "run_id": os.environ.get("TUREEN_RUN_ID"),
               "mlflow_run_id": os.environ.get("MLFLOW_RUN_ID"),
               "tracking_uri": os.environ.get("MLFLOW_TRACKING_URI"),
               "experiment_id": os.environ.get("MLFLOW_EXPERIMENT_ID"),
               "env_manager": os.environ.get("TUREEN_PROJECT_ENV_MANAGER"),
               "python": sys.executable, "cwd": os.getcwd()}, f)
"""


@pytest.fixture(scope="session")
def git_repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A git repository: commit 1 (v1 tag, greeting 'one'), commit 2 on main ('two'), a branch 'feature'
    ('three'), each with the project in ``sub/proj``. Returns the path and the commit ids."""
    root = tmp_path_factory.mktemp("gitrepo") / "repo"
    proj = root / "sub" / "proj"
    proj.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (proj / "MLproject").write_text(textwrap.dedent("""
        name: gitproj
        entry_points:
          main:
            parameters:
              out: {type: string, default: out.txt}
            command: "python greet.py {out}"
        """))

    def greet(word: str) -> None:
        (proj / "greet.py").write_text(f"import sys\nopen(sys.argv[1], 'w').write({word!r})\n")

    greet("one")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "one")
    git(root, "tag", "v1")
    first = git(root, "rev-parse", "HEAD")
    greet("two")
    git(root, "commit", "-q", "-am", "two")
    second = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "-b", "feature")
    greet("three")
    git(root, "commit", "-q", "-am", "three")
    third = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "main")
    return {"path": str(root), "first": first, "second": second, "third": third}
