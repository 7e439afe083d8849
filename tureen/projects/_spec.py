"""The MLproject file: entry points with typed parameters, and the project's environment.

A project directory may hold an ``MLproject`` file (YAML) in MLflow's format::

    name: churn
    python_env: python_env.yaml        # or conda_env: conda.yaml, or docker_env: {image: ...}
    entry_points:
      main:
        parameters:
          alpha: {type: float, default: 0.5}
          data: path
        command: "python train.py --alpha {alpha} --data {data}"

Without an entry point of that name, any ``.py`` or ``.sh`` file of the project is one. A project is
untrusted input: the file is size-capped and parsed with the bounded loader of
``tureen.models._yaml`` (no YAML bombs), every file it names
must stay inside the project directory, and every parameter value enters the command shell-quoted.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from tureen.exceptions import ProjectError, ProjectParameterError

__all__ = ["Parameter", "EntryPoint", "DockerEnv", "Project", "load_project", "MLPROJECT_NAMES"]

MLPROJECT_NAMES = ("MLproject", "mlproject")
MAX_MLPROJECT_BYTES = 256 * 1024
PARAM_TYPES = ("string", "float", "int", "path", "uri")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_REQUIRED = object()


def _load_yaml_capped(text: str, where: str) -> Any:
    """YAML through the one bounded loader for artifacts (size, depth, alias expansion), as a ProjectError."""
    from tureen.exceptions import ModelFormatError
    from tureen.models._yaml import load_untrusted_yaml

    try:
        return load_untrusted_yaml(text, what=where)
    except ModelFormatError as exc:
        raise ProjectError(exc.message) from None


def read_yaml_file(path: Path, where: str) -> Any:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ProjectError(f"Cannot read {where}: {exc.strerror}") from None
    if size > MAX_MLPROJECT_BYTES:
        raise ProjectError(f"{where} is {size} bytes, more than the {MAX_MLPROJECT_BYTES} accepted")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"Cannot read {where}: {exc}") from None
    return _load_yaml_capped(text, where)


def confined(root: Path, relative: str, what: str) -> Path:
    """``root / relative`` resolved (symlinks followed), refused when it leaves ``root``."""
    if not isinstance(relative, str) or not relative.strip() or "\x00" in relative:
        raise ProjectError(f"{what} must be a non-empty relative path, got {relative!r}")
    if os.path.isabs(relative):
        raise ProjectError(f"{what} {relative!r} must be relative to the project directory")
    root = root.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ProjectError(f"{what} {relative!r} leaves the project directory")
    return target


def is_uri(value: str) -> bool:
    """True for ``scheme:...`` values (``s3://b/k``, ``file:///x``), false for local paths (incl. ``C:\\``)."""
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*):", value)
    return bool(m) and len(m.group(1)) > 1


@dataclass(frozen=True)
class Parameter:
    """One declared parameter of an entry point: a name, a type and an optional default."""

    name: str
    type: str = "string"
    default: Any = _REQUIRED

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def cast(self, value: Any, *, project_dir: Path, storage_dir: Path | None, from_project: bool) -> str:
        """The value as it enters the command (before quoting), checked against the type.

        Raises:
            ProjectParameterError: the value does not fit the type; the message names the parameter.
        """
        if value is None or isinstance(value, (dict, list, tuple, set, bytes)):
            raise ProjectParameterError(f"Parameter {self.name!r} ({self.type}) got {type(value).__name__} "
                                        f"{value!r:.60}; give a {self.type} value",
                                        details={"parameter": self.name})
        text = str(value)
        if "\x00" in text:
            raise ProjectParameterError(f"Parameter {self.name!r} contains a NUL byte",
                                        details={"parameter": self.name})
        if self.type == "string":
            return text
        if self.type == "float":
            try:
                number = float(text)
            except ValueError:
                raise ProjectParameterError(f"Parameter {self.name!r} must be a float, got {text!r:.60}",
                                            details={"parameter": self.name}) from None
            if math.isnan(number):
                raise ProjectParameterError(f"Parameter {self.name!r} must be a float, got NaN",
                                            details={"parameter": self.name})
            return text.strip()
        if self.type == "int":
            if isinstance(value, bool) or not re.fullmatch(r"\s*[+-]?\d{1,30}\s*", text):
                raise ProjectParameterError(f"Parameter {self.name!r} must be an integer, got {text!r:.60}",
                                            details={"parameter": self.name})
            return str(int(text))
        if self.type == "uri":
            if not is_uri(text) and not os.path.isabs(text):
                raise ProjectParameterError(f"Parameter {self.name!r} expects a URI (scheme://...) or an "
                                            f"absolute path, got {text!r:.60}", details={"parameter": self.name})
            return text
        # path: local paths become absolute; URIs are downloaded into storage_dir
        if not text.strip():
            raise ProjectParameterError(f"Parameter {self.name!r} (path) is empty", details={"parameter": self.name})
        if is_uri(text) and not text.startswith("file:"):
            from tureen.projects._storage import download_to_storage

            return str(download_to_storage(text, storage_dir, self.name))
        if text.startswith("file:"):
            from urllib.parse import unquote, urlparse

            parsed = urlparse(text)
            if parsed.netloc not in ("", "localhost"):
                raise ProjectParameterError(f"Parameter {self.name!r}: file URI {text!r:.60} names a remote host",
                                            details={"parameter": self.name})
            text = unquote(parsed.path)
        if from_project:
            # a default written in the MLproject file may not point outside the project
            try:
                local = confined(project_dir, text, f"The default of parameter {self.name!r}")
            except ProjectError as exc:
                raise ProjectParameterError(exc.message, details={"parameter": self.name}) from None
        else:
            local = Path(os.path.abspath(os.path.expanduser(text)))
        if not os.path.exists(local):  # as MLflow: a local path parameter must exist before anything runs
            raise ProjectParameterError(f"Parameter {self.name!r} (path): {str(local)[:200]!r} does not exist",
                                        details={"parameter": self.name})
        return str(local)


@dataclass(frozen=True)
class EntryPoint:
    """A named command template and its parameters."""

    name: str
    command: str
    parameters: Mapping[str, Parameter] = field(default_factory=dict)

    def resolve(self, user_parameters: Mapping[str, Any], *, project_dir: Path,
                storage_dir: Path | None) -> tuple[dict[str, str], dict[str, str]]:
        """``(declared values, extra values)``, every value checked, before anything runs.

        Raises:
            ProjectParameterError: a required parameter is missing, a value does not fit its type, or an
                extra parameter's name cannot be an option name.
        """
        missing = [p.name for p in self.parameters.values()
                   if p.required and p.name not in user_parameters]
        if missing:
            raise ProjectParameterError(f"Entry point {self.name!r}: no value given for required parameter(s) "
                                        + ", ".join(repr(m) for m in missing), details={"parameter": missing[0]})
        values: dict[str, str] = {}
        for name, param in self.parameters.items():
            if name in user_parameters:
                values[name] = param.cast(user_parameters[name], project_dir=project_dir,
                                          storage_dir=storage_dir, from_project=False)
            else:
                values[name] = param.cast(param.default, project_dir=project_dir, storage_dir=storage_dir,
                                          from_project=True)
        extra: dict[str, str] = {}
        for name, value in user_parameters.items():
            if name in self.parameters:
                continue
            if not isinstance(name, str) or not _NAME.match(name):
                raise ProjectParameterError(f"Parameter name {name!r:.60} is not a valid option name (letters, "
                                            "digits, '_', '.', '-')", details={"parameter": str(name)[:60]})
            extra[name] = Parameter(name).cast(value, project_dir=project_dir, storage_dir=storage_dir,
                                               from_project=False)
        return values, extra

    def command_line(self, values: Mapping[str, str], extra: Mapping[str, str]) -> str:
        """The shell command: the template with every value shell-quoted, then ``--name value`` per extra."""
        parts = [_format(self.command, {k: shlex.quote(v) for k, v in values.items()}, self.name)]
        parts += [f"--{name} {shlex.quote(value)}" for name, value in extra.items()]
        return " ".join(p for p in parts if p)


def _format(template: str, values: Mapping[str, str], entry: str) -> str:
    """``str.format`` restricted to plain ``{name}`` fields (no attribute, index or format spec tricks)."""
    out = []
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ProjectError(f"The command of entry point {entry!r} is not a valid template: {exc}") from None
    for literal, field_name, spec, conversion in pieces:
        out.append(literal)
        if field_name is None:
            continue
        if spec or conversion or not _NAME.match(field_name) or "." in field_name:
            raise ProjectError(f"The command of entry point {entry!r} uses the field {{{field_name}}}: only "
                               "plain {name} fields of declared parameters are allowed")
        if field_name not in values:
            raise ProjectError(f"The command of entry point {entry!r} uses {{{field_name}}}, which is not one "
                               "of its declared parameters")
        out.append(values[field_name])
    return "".join(out)


@dataclass(frozen=True)
class DockerEnv:
    """``docker_env``: the image, volumes (``host:container[:mode]``) and environment of the container."""

    image: str
    volumes: tuple[str, ...] = ()
    environment: tuple[tuple[str, str | None], ...] = ()  # (name, value); None: copied from the host


@dataclass(frozen=True)
class Project:
    """A loaded project: its directory, name, entry points and environment."""

    directory: Path
    name: str | None = None
    entry_points: Mapping[str, EntryPoint] = field(default_factory=dict)
    python_env: Path | None = None
    conda_env: Path | None = None
    docker_env: DockerEnv | None = None
    has_mlproject: bool = False

    @property
    def env_type(self) -> str:
        if self.docker_env is not None:
            return "docker"
        if self.conda_env is not None:
            return "conda"
        if self.python_env is not None:
            return "python"
        return "none"

    def entry_point(self, name: str) -> EntryPoint:
        """The declared entry point, or an implicit one for a ``.py`` / ``.sh`` file of the project.

        Raises:
            ProjectError: no such entry point, or the file is outside the project.
        """
        if not isinstance(name, str) or not name.strip():
            raise ProjectError(f"An entry point must be a non-empty name, got {name!r}")
        if name in self.entry_points:
            return self.entry_points[name]
        if name.endswith((".py", ".sh")):
            path = confined(self.directory, name, "Entry point")
            if not path.is_file():
                raise ProjectError(f"Entry point file {name!r} does not exist in the project {self.directory}")
            relative = path.relative_to(self.directory.resolve()).as_posix()
            if name.endswith(".py"):
                return EntryPoint(name, f"python {shlex.quote(relative)}")
            return EntryPoint(name, f"{shlex.quote(os.environ.get('SHELL') or 'bash')} {shlex.quote(relative)}")
        known = ", ".join(sorted(self.entry_points)) or "none declared"
        raise ProjectError(f"The project has no entry point {name!r} (declared: {known}; any .py or .sh file of "
                           "the project is an entry point too)")


def _parameter(entry: str, name: Any, spec: Any) -> Parameter:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProjectError(f"Entry point {entry!r}: parameter name {name!r:.60} is not valid (letters, digits, "
                           "'_', '.', '-')")
    if spec is None:
        return Parameter(name)
    if isinstance(spec, str):
        kind, default = spec, _REQUIRED
    elif isinstance(spec, dict):
        unknown = set(spec) - {"type", "default"}
        if unknown:
            raise ProjectError(f"Entry point {entry!r}, parameter {name!r}: unknown keys {sorted(map(str, unknown))}")
        kind = spec.get("type", "string")
        default = spec["default"] if "default" in spec else _REQUIRED
        if default is None:
            default = _REQUIRED
        elif isinstance(default, (dict, list)):
            raise ProjectError(f"Entry point {entry!r}, parameter {name!r}: a default must be a scalar")
    else:
        raise ProjectError(f"Entry point {entry!r}, parameter {name!r}: expected a type name or "
                           f"{{type, default}}, got {type(spec).__name__}")
    if kind not in PARAM_TYPES:
        raise ProjectError(f"Entry point {entry!r}, parameter {name!r}: unknown type {kind!r} (one of "
                           f"{', '.join(PARAM_TYPES)})")
    if default is not _REQUIRED and not isinstance(default, str):
        default = str(default).lower() if isinstance(default, bool) else str(default)
    return Parameter(name, kind, default)


def _docker_env(spec: Any) -> DockerEnv:
    if not isinstance(spec, dict) or not isinstance(spec.get("image"), str) or not spec["image"].strip():
        raise ProjectError("docker_env must be a mapping with an 'image' name")
    volumes = spec.get("volumes") or []
    if not isinstance(volumes, list) or not all(isinstance(v, str) and v.strip() for v in volumes):
        raise ProjectError("docker_env.volumes must be a list of 'host:container' strings")
    env: list[tuple[str, str | None]] = []
    raw = spec.get("environment") or []
    if not isinstance(raw, list):
        raise ProjectError("docker_env.environment must be a list of [NAME, value] pairs or NAMEs")
    for item in raw:
        if isinstance(item, str):
            name, value = item, None
        elif isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
            name, value = item[0], str(item[1])
        else:
            raise ProjectError(f"docker_env.environment entry {item!r:.60} is neither NAME nor [NAME, value]")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ProjectError(f"docker_env.environment: {name!r:.60} is not a variable name")
        env.append((name, value))
    return DockerEnv(image=spec["image"].strip(), volumes=tuple(volumes), environment=tuple(env))


def load_project(directory: str | os.PathLike[str]) -> Project:
    """Read the project in ``directory`` (its MLproject file, or the defaults when there is none).

    Raises:
        ProjectError: the directory does not exist, or the MLproject file is invalid (says what is wrong).

    Example:
        >>> load_project("examples/projects/wine").entry_point("main").command  # doctest: +SKIP
        'python train.py --alpha {alpha} --l1-ratio {l1_ratio}'
    """
    root = Path(directory)
    if not root.is_dir():
        raise ProjectError(f"Project directory {os.fspath(directory)!r:.200} does not exist")
    root = root.resolve()
    file = next((root / n for n in MLPROJECT_NAMES if (root / n).is_file()), None)
    if file is None:
        if (root / "python_env.yaml").is_file():
            return Project(root, python_env=root / "python_env.yaml")
        if (root / "conda.yaml").is_file():
            return Project(root, conda_env=root / "conda.yaml")
        return Project(root)
    data = read_yaml_file(file, "The MLproject file")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProjectError("The MLproject file must be a YAML mapping (name, entry_points, ...)")
    envs = [k for k in ("python_env", "conda_env", "docker_env") if data.get(k) is not None]
    if len(envs) > 1:
        raise ProjectError(f"The MLproject file declares {' and '.join(envs)}; a project has one environment")
    name = data.get("name")
    if name is not None and not isinstance(name, (str, int, float)):
        raise ProjectError("The MLproject 'name' must be a string")
    entries: dict[str, EntryPoint] = {}
    raw_entries = data.get("entry_points") or {}
    if not isinstance(raw_entries, dict):
        raise ProjectError("The MLproject 'entry_points' must be a mapping of name -> {command, parameters}")
    for entry, spec in raw_entries.items():
        entry = str(entry)
        if not isinstance(spec, dict) or not isinstance(spec.get("command"), str) or not spec["command"].strip():
            raise ProjectError(f"Entry point {entry!r} needs a 'command' string")
        params_raw = spec.get("parameters") or {}
        if not isinstance(params_raw, dict):
            raise ProjectError(f"Entry point {entry!r}: 'parameters' must be a mapping")
        params = {str(k): _parameter(entry, k, v) for k, v in params_raw.items()}
        entries[entry] = EntryPoint(entry, spec["command"].strip(), params)
    python_env = conda_env = None
    if data.get("python_env") is not None:
        python_env = confined(root, data["python_env"], "python_env")
        if not python_env.is_file():
            raise ProjectError(f"python_env file {data['python_env']!r} does not exist in the project")
    if data.get("conda_env") is not None:
        conda_env = confined(root, data["conda_env"], "conda_env")
        if not conda_env.is_file():
            raise ProjectError(f"conda_env file {data['conda_env']!r} does not exist in the project")
    docker_env = _docker_env(data["docker_env"]) if data.get("docker_env") is not None else None
    return Project(root, name=None if name is None else str(name), entry_points=entries, python_env=python_env,
                   conda_env=conda_env, docker_env=docker_env, has_mlproject=True)
