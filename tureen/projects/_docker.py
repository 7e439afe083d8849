"""The docker backend: the project copied into an image built ``FROM`` its ``docker_env.image``, run on the
engine with the tracking URI and run id passed in, ``docker_env`` volumes/environment and ``docker_args``.

A local tracking store (a SQLite file, a local artifact root) is mounted into the container at the same
absolute path, so the URIs recorded in the run mean the same thing inside and outside.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

from tureen.exceptions import ProjectBackendError, ProjectError
from tureen.projects._spec import DockerEnv

__all__ = ["docker_args_list", "project_image_tag", "build_project_image", "docker_run_argv"]

WORKDIR = "/tureen/project"
_ARG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]*$")


def docker_args_list(docker_args: Mapping[str, Any] | None) -> list[str]:
    """``{"e": "A=1", "network": "host", "rm": True}`` -> ``["-e", "A=1", "--network", "host", "--rm"]``.

    Raises:
        ProjectError: a key that is not an option name.
    """
    out: list[str] = []
    if not docker_args:
        return out
    if not isinstance(docker_args, Mapping):
        raise ProjectError("docker_args must be a mapping of option -> value")
    for key, value in docker_args.items():
        if not isinstance(key, str) or not _ARG.match(key):
            raise ProjectError(f"docker_args key {key!r:.60} is not a docker option name")
        flag = f"-{key}" if len(key) == 1 else f"--{key}"
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is True or (isinstance(v, str) and v.lower() == "true" and key not in ("e", "env")):
                out.append(flag)
            elif v is False or v is None:
                continue
            else:
                out += [flag, str(v)]
    return out


def _project_digest(directory: Path, base_image: str) -> str:
    h = hashlib.sha256(base_image.encode())
    for path in sorted(p for p in directory.rglob("*") if ".git" not in p.relative_to(directory).parts):
        rel = path.relative_to(directory).as_posix()
        h.update(rel.encode() + b"\0")
        if path.is_symlink():
            h.update(b"L" + os.readlink(path).encode())
        elif path.is_file():
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]


def project_image_tag(directory: Path, base_image: str, name: str | None, repository: str | None = None) -> str:
    """The project image's name: ``<repository or tureen-project-NAME>:<digest of base + files>``."""
    from tureen.docker._engine import check_image_name

    stem = repository or "tureen-project-" + re.sub(r"[^a-z0-9_.\-]+", "-", (name or directory.name).lower()).strip("-.")
    return check_image_name(f"{stem}:{_project_digest(directory, base_image)}", "project image name")


def build_project_image(directory: Path, base_image: str, tag: str, *, rebuild: bool, log: Any) -> str:
    """Build (or, unless ``rebuild``, reuse) ``tag``: the project files copied into ``base_image``."""
    from tureen.docker._engine import build, check_engine, check_image_name, run_docker

    check_image_name(base_image, "docker_env image")
    check_engine()
    if not rebuild:
        proc = run_docker(["image", "inspect", "--format", "{{.Id}}", tag], check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            log(f"tureen: reusing image {tag}")
            return proc.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="tureen-project-image-") as ctx:
        shutil.copytree(directory, Path(ctx) / "project", symlinks=True,
                        ignore=shutil.ignore_patterns(".git"))
        Path(ctx, "Dockerfile").write_text(f"FROM {base_image}\nCOPY project/ {WORKDIR}/\nWORKDIR {WORKDIR}\n")
        return build(ctx, tag, log=log)


def _local_dir_of(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        return Path(path).parent if path.startswith("/") else None
    if uri.startswith("file://"):
        return Path(uri[len("file://"):])
    if uri.startswith("/"):
        return Path(uri)
    return None


def docker_run_argv(image: str, command: str, *, container_name: str, env: Mapping[str, str],
                    docker_env: DockerEnv | None, docker_args: Mapping[str, Any] | None,
                    mounts: list[str]) -> list[str]:
    """The full ``docker run`` argument list (shown by ``--dry-run``)."""
    argv = ["run", "--rm", "--name", container_name]
    for mount in mounts:
        argv += ["-v", mount]
    for volume in (docker_env.volumes if docker_env else ()):
        argv += ["-v", volume]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    for key, value in (docker_env.environment if docker_env else ()):
        if value is None:
            if key in os.environ:
                argv += ["-e", key]  # docker copies the host's value
        else:
            argv += ["-e", f"{key}={value}"]
    argv += docker_args_list(docker_args)
    argv += [image, "sh", "-c", command]
    return argv


def tracking_mounts(tracking_uri: str, artifact_uri: str | None) -> list[str]:
    """Host directories of a local tracking store and artifact root, mounted at the same path."""
    out: list[str] = []
    for uri in (tracking_uri, artifact_uri or ""):
        local = _local_dir_of(uri)
        if local is not None:
            for candidate in (local, local.parent):
                if candidate.is_dir():
                    mount = f"{candidate}:{candidate}"
                    if mount not in out:
                        out.append(mount)
                    break
    return out


def check_backend_docker() -> None:
    from tureen.docker._engine import docker_executable

    try:
        docker_executable()
    except Exception as exc:  # noqa: BLE001 - re-raised typed
        raise ProjectBackendError(str(exc)) from None
