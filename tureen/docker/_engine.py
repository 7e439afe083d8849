"""Talking to the Docker engine through the ``docker`` command line (no SDK dependency).

The CLI honours everything a user has configured (``DOCKER_HOST``, contexts, TLS), so tureen reaches the
same engine ``docker`` does. Builds use the classic builder (``DOCKER_BUILDKIT=0``): its step-by-step log is
stable to read, which is how a failed ``pip install`` is reported with the failing step and pip's message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from tureen.exceptions import ContainerEngineError, ImageBuildError, InvalidParameterError

# A Docker image reference: [host[:port]/]path[:tag][@digest], path components lower case.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
_REFERENCE = re.compile(rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?"
                        r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$")

_START_HINT = ("Start one (Linux: 'sudo systemctl start docker', or 'sudo dockerd &'; macOS/Windows: start "
               "Docker Desktop) or point DOCKER_HOST at a running engine (e.g. "
               "DOCKER_HOST=unix:///run/user/1000/docker.sock for rootless Docker).")


def check_image_name(name: str, what: str = "image name") -> str:
    """Validate a Docker image reference such as ``churn:3`` or ``registry:5000/team/churn:v1``.

    Raises:
        InvalidParameterError: the name is not a valid reference (says why).

    Example:
        >>> check_image_name("churn:3")
        'churn:3'
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"The {what} must be a non-empty string")
    name = name.strip()
    if len(name) > 255:
        raise InvalidParameterError(f"The {what} {name!r} is longer than 255 characters")
    if not _REFERENCE.match(name):
        path = name.split("@")[0]
        hint = ""
        if any(c.isupper() for c in path.rsplit(":", 1)[0].split("/")[-1]):
            hint = " (repository names must be lower case)"
        elif " " in name:
            hint = " (no spaces allowed)"
        raise InvalidParameterError(f"Invalid {what} {name!r}{hint}: use lower-case letters, digits and "
                                    "separators '.', '_', '-', an optional ':tag' (e.g. 'churn:3' or "
                                    "'registry.example.com/team/churn:v1')")
    return name


def docker_executable() -> str:
    """The ``docker`` CLI on PATH (``TUREEN_DOCKER`` overrides), or a clear error."""
    exe = os.environ.get("TUREEN_DOCKER") or shutil.which("docker")
    if not exe:
        raise ContainerEngineError("The 'docker' command line is not installed or not on PATH; tureen builds "
                                   "images through it. Install Docker (https://docs.docker.com/engine/install/) "
                                   "and retry. " + _START_HINT)
    return exe


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["DOCKER_BUILDKIT"] = "0"  # classic builder: its log names each step, see the module docstring
    env.setdefault("DOCKER_CLI_HINTS", "false")
    if extra:
        env.update(extra)
    return env


def run_docker(args: Sequence[str], *, timeout: float | None = None, check: bool = True,
               input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run one ``docker`` command and capture its output.

    Raises:
        ContainerEngineError: the command failed (with ``check``) or timed out.
    """
    cmd = [docker_executable(), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=timeout,
                              input=input_text, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ContainerEngineError(f"'docker {' '.join(args[:2])}' did not answer within {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        raise ContainerEngineError(f"'docker {' '.join(args)}' failed: {(proc.stderr or proc.stdout).strip()}")
    return proc


def check_engine(timeout: float = 30.0) -> str:
    """Return the engine's version, or raise :class:`ContainerEngineError` saying how to start one.

    Example:
        >>> check_engine()  # doctest: +SKIP
        '20.10.24+dfsg1'
    """
    proc = run_docker(["version", "--format", "{{.Server.Version}}"], timeout=timeout, check=False)
    version = proc.stdout.strip()
    if proc.returncode != 0 or not version:
        where = os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        reason = detail[-1].rstrip(".") if detail else "no answer"
        raise ContainerEngineError(f"No Docker engine is reachable at {where}: {reason}. {_START_HINT}")
    return version


@dataclass(frozen=True)
class BaseImageInfo:
    """What the base image offers: its Python version."""

    image: str
    python_version: str


_PROBE = ("import sys, platform\n"
          "try:\n"
          "    import venv, ensurepip\n"
          "    ok = 'venv'\n"
          "except ImportError:\n"
          "    ok = 'novenv'\n"
          "print('TUREEN-PROBE', platform.python_version(), ok)\n")


def check_base_image(image: str, *, platform: str | None = None, timeout: float = 600.0) -> BaseImageInfo:
    """Run ``python3`` in the base image (pulling it if needed) before any build step.

    Raises:
        InvalidParameterError: the image has no ``python3``, a Python older than 3.10, or no ``venv``.
        ContainerEngineError: the image cannot be pulled or run.
    """
    args = ["run", "--rm", "--network", "none", "--entrypoint", "python3"]
    if platform:
        args += ["--platform", platform]
    proc = run_docker([*args, image, "-c", _PROBE], timeout=timeout, check=False)
    out = proc.stdout + proc.stderr
    m = re.search(r"TUREEN-PROBE (\S+) (\S+)", proc.stdout)
    if proc.returncode != 0 or not m:
        low = out.lower()
        if "executable file not found" in low or "no such file or directory" in low and "python3" in low:
            raise InvalidParameterError(f"The base image {image!r} has no 'python3' on its PATH. tureen images "
                                        "need Python >= 3.10 with the venv module: use a python:3.X-slim image "
                                        "or install python3 and python3-venv in your base image first")
        if "unable to find image" in low or "pull access denied" in low or "manifest unknown" in low \
                or "not found" in low and "image" in low or "error response from daemon" in low:
            raise ContainerEngineError(f"Cannot use the base image {image!r}: it is not present locally and "
                                       f"could not be pulled: {out.strip().splitlines()[-1] if out.strip() else ''}")
        raise InvalidParameterError(f"Running python3 in the base image {image!r} failed (exit "
                                    f"{proc.returncode}): {out.strip()[-1000:]}")
    version, venv = m.group(1), m.group(2)
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    if parts < (3, 10):
        raise InvalidParameterError(f"The base image {image!r} has Python {version}; tureen needs Python >= 3.10. "
                                    "Pick a newer base image (e.g. python:3.11-slim)")
    if venv != "venv":
        raise InvalidParameterError(f"The base image {image!r} has Python {version} but no working 'venv' module "
                                    "(Debian/Ubuntu: apt-get install python3-venv)")
    return BaseImageInfo(image=image, python_version=version)


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # the classic builder colours a step's stderr


def _summarize_failure(lines: list[str], returncode: int) -> str:
    """The failing step and the lines that explain it (pip's ``ERROR:`` lines first)."""
    step_idx = max((i for i, ln in enumerate(lines) if _STEP.match(ln)), default=None)
    if step_idx is None:
        tail = "\n".join(lines[-30:]).strip()
        return f"docker build failed (exit {returncode}) before any step ran:\n{tail}"
    m = _STEP.match(lines[step_idx])
    assert m is not None
    step, total, instruction = m.groups()
    body = [ln for ln in lines[step_idx + 1:] if not ln.startswith((" ---> ", "Removing intermediate"))]
    errors = [ln for ln in body if ln.lstrip().startswith("ERROR:") or "error:" in ln.lower()[:12]]
    shown = errors or body[-25:]
    text = "\n".join(shown[-40:]).strip()
    hint = ""
    joined = "\n".join(body)
    if "CERTIFICATE_VERIFY_FAILED" in joined or "SSLError" in joined or "certificate verify failed" in joined:
        hint = ("\nHint: TLS verification failed inside the build; behind a corporate or intercepting proxy pass "
                "its CA certificate with --extra-ca-cert PATH.")
    elif "pip install" in instruction and ("No matching distribution" in joined or "Could not find a version"
                                           in joined):
        hint = ("\nHint: a requirement cannot be installed from the package index; check the model's "
                "requirements.txt, or point pip at your index with --pip-index-url / --pip-extra-index-url.")
    if len(instruction) > 300:
        instruction = instruction[:300] + "..."
    return f"docker build failed at step {step}/{total} ({instruction}):\n{text}{hint}"


def build(context: str | os.PathLike[str], name: str, *, build_args: Mapping[str, str] | None = None,
          platform: str | None = None, no_cache: bool = False,
          log: Callable[[str], None] | None = None) -> str:
    """``docker build -t name context`` with the log streamed line by line to ``log``; returns the image id.

    The image is tagged only when every step succeeded (the classic builder tags last), and intermediate
    containers are removed even on failure (``--force-rm``), so a failed build leaves no tagged image.

    Raises:
        ImageBuildError: a step failed; the message names the step and quotes its errors (pip's own text).
    """
    args = ["build", "--force-rm", "--rm", "-t", name]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    if platform:
        args += ["--platform", platform]
    if no_cache:
        args.append("--no-cache")
    args.append(os.fspath(context))
    cmd = [docker_executable(), *args]
    lines: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
                          bufsize=1, errors="replace") as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(_ANSI.sub("", line))
            if log is not None:
                log(line)
        returncode = proc.wait()
    if returncode != 0:
        raise ImageBuildError(_summarize_failure(lines, returncode), details={"image": name})
    image_id = ""
    for line in reversed(lines):
        m = re.match(r"^Successfully built ([0-9a-f]+)", line)
        if m:
            image_id = m.group(1)
            break
    if not image_id:
        proc2 = run_docker(["image", "inspect", "--format", "{{.Id}}", name], check=False)
        image_id = proc2.stdout.strip()
    return image_id
