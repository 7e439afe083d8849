"""The environment an entry point runs in: ``local``, ``virtualenv`` (or ``uv``), ``conda``.

``virtualenv`` reads the project's ``python_env.yaml`` (``python``, ``build_dependencies``,
``dependencies``) and builds a virtual environment with ``uv`` when it is on PATH, else with ``venv`` + pip.
Environments are cached under ``$TUREEN_HOME/envs`` (``TUREEN_PROJECT_ENV_ROOT`` overrides) by the content
hash of the spec, including the text of any ``-r requirements.txt`` it names, so the second run of the same
spec reuses the first one's environment. A build goes into its final directory under a lock and is marked
complete last; a failed build is removed and its installer's own output is the error.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tureen.exceptions import ProjectEnvironmentError, ProjectError
from tureen.projects._spec import Project, confined, read_yaml_file

__all__ = ["ENV_MANAGERS", "Environment", "prepare_environment", "resolve_env_manager", "env_cache_root"]

ENV_MANAGERS = ("local", "virtualenv", "uv", "conda")
#: set in every entry point's environment, so a nested ``projects.run`` uses the same manager (mlflow#6611)
INHERIT_VAR = "TUREEN_PROJECT_ENV_MANAGER"
_COMPLETE = ".tureen-env-complete"


@dataclass
class Environment:
    """How to run a command in the environment: directories put first on PATH and variables to set."""

    manager: str
    path: Path | None = None
    bin_dir: Path | None = None
    reused: bool = False
    setup_seconds: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def apply(self, env: dict[str, str]) -> dict[str, str]:
        out = dict(env)
        if self.bin_dir is not None:
            out["PATH"] = str(self.bin_dir) + os.pathsep + out.get("PATH", "")
        out.update(self.variables)
        out[INHERIT_VAR] = self.manager
        return out


def env_cache_root() -> Path:
    from tureen.tracking._config import tureen_home

    root = os.environ.get("TUREEN_PROJECT_ENV_ROOT")
    return Path(root).expanduser().absolute() if root else tureen_home() / "envs"


def resolve_env_manager(project: Project, env_manager: str | None, use_conda: bool | None) -> str:
    """The manager to use: the argument, else the one inherited from an enclosing project run, else what
    the project declares (python_env -> virtualenv, conda_env -> conda, none -> local).

    Raises:
        ProjectError: an unknown manager name.
    """
    if env_manager is None and use_conda is not None:
        env_manager = "conda" if use_conda else "local"
    if env_manager is None:
        env_manager = os.environ.get(INHERIT_VAR) or None
    if env_manager is None:
        env_manager = {"python": "virtualenv", "conda": "conda"}.get(project.env_type, "local")
    if env_manager not in ENV_MANAGERS:
        raise ProjectError(f"Unknown env manager {env_manager!r:.60}: use one of {', '.join(ENV_MANAGERS)}")
    return env_manager


# -- python_env.yaml ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PythonEnvSpec:
    python: str
    build_dependencies: tuple[str, ...]
    dependencies: tuple[str, ...]
    files: tuple[tuple[str, str], ...]  # (relative path, text) of -r / -c files, part of the hash


def _str_list(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ProjectError(f"python_env.yaml: {what} must be a list of requirement strings")
    return tuple(str(v).strip() for v in value if str(v).strip())


def read_python_env(project: Project) -> PythonEnvSpec:
    """The project's python_env spec; a project without one gets this interpreter's version and no deps."""
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if project.python_env is None:
        return PythonEnvSpec(current, (), (), ())
    data = read_yaml_file(project.python_env, "python_env.yaml") or {}
    if not isinstance(data, dict):
        raise ProjectError("python_env.yaml must be a mapping with python, build_dependencies, dependencies")
    python = str(data.get("python") or current).strip()
    if not all(part.isdigit() for part in python.split(".")) or python.count(".") > 2:
        raise ProjectError(f"python_env.yaml: python {python!r:.40} is not a version like 3.11 or 3.11.4")
    build = _str_list(data.get("build_dependencies"), "build_dependencies")
    deps = _str_list(data.get("dependencies"), "dependencies")
    files = []
    for req in (*build, *deps):
        if req.startswith("-"):
            flag, _, rest = req.partition(" ")
            if flag not in ("-r", "-c", "--requirement", "--constraint") or not rest.strip():
                raise ProjectError(f"python_env.yaml: {req!r:.60} is not a requirement; only '-r FILE' and "
                                   "'-c FILE' options are accepted")
            base = project.python_env.parent
            path = confined(base, rest.strip(), f"python_env.yaml's {flag} file")
            if not path.is_file():
                raise ProjectError(f"python_env.yaml names {rest.strip()!r}, which does not exist")
            files.append((rest.strip(), path.read_text(errors="replace")))
    return PythonEnvSpec(python, build, deps, tuple(files))


def _spec_hash(kind: str, payload: Any) -> str:
    text = json.dumps({"kind": kind, "payload": payload, "platform": sys.platform}, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _installer_error(what: str, proc: subprocess.CompletedProcess[str]) -> ProjectEnvironmentError:
    out = (proc.stderr or "") + (proc.stdout or "")
    lines = [ln for ln in out.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    shown = "\n".join((errors or lines)[-25:])
    return ProjectEnvironmentError(f"{what} failed (exit {proc.returncode}):\n{shown}")


def _interpreter_for(version: str) -> str:
    wanted = tuple(int(p) for p in version.split(".")[:2])
    if tuple(sys.version_info[:2]) == wanted:
        return sys.executable
    exe = shutil.which(f"python{wanted[0]}.{wanted[1]}")
    if exe is None:
        raise ProjectEnvironmentError(f"python_env.yaml asks for Python {version}, but no python{wanted[0]}."
                                      f"{wanted[1]} is installed here (this is Python {sys.version.split()[0]}); "
                                      "install it, install uv (which can provide it), or edit python_env.yaml")
    return exe


def _build_virtualenv(target: Path, spec: PythonEnvSpec, project: Project, use_uv: bool,
                      log: Callable[[str], None]) -> None:
    cwd = project.python_env.parent if project.python_env is not None else project.directory

    def run(cmd: list[str], what: str) -> None:
        log(f"tureen: {what}")
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=3600)
        except OSError as exc:
            raise ProjectEnvironmentError(f"{what} could not start: {exc}") from None
        if proc.returncode != 0:
            raise _installer_error(what, proc)

    def args(reqs: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for req in reqs:
            if req.startswith("-"):
                flag, _, rest = req.partition(" ")
                out += [flag, rest.strip()]
            else:
                out.append(req)
        return out

    if use_uv:
        uv = shutil.which("uv")
        assert uv is not None
        run([uv, "venv", "--quiet", "--python", spec.python, str(target)], f"uv venv (Python {spec.python})")
        python = str(target / "bin" / "python")
        for reqs, what in ((spec.build_dependencies, "build dependencies"), (spec.dependencies, "dependencies")):
            if reqs:
                run([uv, "pip", "install", "--quiet", "--python", python, *args(reqs)], f"uv pip install {what}")
        return
    run([_interpreter_for(spec.python), "-m", "venv", str(target)], f"python -m venv (Python {spec.python})")
    python = str(target / "bin" / "python")
    for reqs, what in ((spec.build_dependencies, "build dependencies"), (spec.dependencies, "dependencies")):
        if reqs:
            run([python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *args(reqs)],
                f"pip install {what}: {' '.join(reqs)[:200]}")


def _cached(kind: str, key: str, build: Callable[[Path], None], log: Callable[[str], None]) -> tuple[Path, bool]:
    """``(environment directory, reused)``: built once per key, under a lock, marked complete last."""
    root = env_cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{kind}-{key}"
    if (target / _COMPLETE).is_file():
        return target, True
    with open(root / f"{kind}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / _COMPLETE).is_file():  # built by another process while we waited
            return target, True
        if target.exists():  # a build that died half-way
            shutil.rmtree(target, ignore_errors=True)
        try:
            build(target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / _COMPLETE).write_text("ok\n")
    log(f"tureen: environment ready at {target}")
    return target, False


def conda_executable() -> str | None:
    """``TUREEN_CONDA_EXE`` / ``MLFLOW_CONDA_HOME``'s conda, else conda, mamba or micromamba on PATH."""
    explicit = os.environ.get("TUREEN_CONDA_EXE")
    if explicit:
        return explicit if shutil.which(explicit) else None
    home = os.environ.get("MLFLOW_CONDA_HOME")
    if home and Path(home, "bin", "conda").is_file():
        return str(Path(home, "bin", "conda"))
    for name in ("conda", "mamba", "micromamba"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def prepare_environment(project: Project, manager: str, *, dry_run: bool = False,
                        log: Callable[[str], None] = lambda _m: None) -> Environment:
    """Find or build the environment; with ``dry_run`` only describe what would be used.

    Raises:
        ProjectEnvironmentError: no conda executable for ``conda``; the interpreter or an installer failed
            (the message quotes the installer's output).
    """
    import time

    started = time.perf_counter()
    if manager == "local":
        bin_dir = Path(sys.executable).parent
        return Environment("local", bin_dir=bin_dir, description=f"local (python = {sys.executable})")
    if manager in ("virtualenv", "uv"):
        spec = read_python_env(project)
        use_uv = shutil.which("uv") is not None
        if manager == "uv" and not use_uv:
            raise ProjectEnvironmentError("--env-manager uv needs the 'uv' command, which is not on PATH "
                                          "(pip install uv), or use --env-manager virtualenv")
        key = _spec_hash("virtualenv", [spec.python, spec.build_dependencies, spec.dependencies, spec.files])
        target = env_cache_root() / f"virtualenv-{key}"
        tool = "uv" if use_uv else "venv + pip"
        desc = (f"virtualenv {target} (Python {spec.python}; dependencies: {', '.join(spec.dependencies) or 'none'}"
                f"; {'cached' if (target / _COMPLETE).is_file() else 'built with ' + tool})")
        if dry_run:
            return Environment(manager, target, target / "bin", description=desc)
        path, reused = _cached("virtualenv", key,
                               lambda t: _build_virtualenv(t, spec, project, use_uv, log), log)
        return Environment(manager, path, path / "bin", reused, time.perf_counter() - started,
                           {"VIRTUAL_ENV": str(path)}, desc)
    # conda
    exe = conda_executable()
    if project.conda_env is None:
        raise ProjectEnvironmentError("--env-manager conda needs a conda_env (conda.yaml) in the project")
    if exe is None:
        raise ProjectEnvironmentError("The project asks for a conda environment, but no conda executable is "
                                      "installed (looked for TUREEN_CONDA_EXE, MLFLOW_CONDA_HOME, conda, mamba, "
                                      "micromamba on PATH). Install one, or run with --env-manager virtualenv "
                                      "or --env-manager local")
    text = project.conda_env.read_text(errors="replace")
    key = _spec_hash("conda", [text])
    target = env_cache_root() / f"conda-{key}"
    desc = f"conda {target} (from {project.conda_env.name} with {exe})"
    if dry_run:
        return Environment("conda", target, target / "bin", description=desc)

    def build(t: Path) -> None:
        log(f"tureen: {exe} env create")
        proc = subprocess.run([exe, "env", "create", "--yes", "--prefix", str(t), "--file", str(project.conda_env)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise _installer_error("conda env create", proc)

    path, reused = _cached("conda", key, build, log)
    return Environment("conda", path, path / "bin", reused, time.perf_counter() - started,
                       {"CONDA_PREFIX": str(path)}, desc)
