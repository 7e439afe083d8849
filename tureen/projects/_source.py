"""Where a project comes from: a local directory, or a git repository at a version, with ``#subdir``.

Git URIs are ``https://``, ``http://``, ``ssh://``, ``git://``, ``file://`` and scp-like ``user@host:path``
ones; every other transport (``ext::``, ``fd::``...) is refused before git is asked, and git itself runs with
``protocol.ext.allow=never``, no credential prompt and no submodules.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tureen.exceptions import ProjectError

__all__ = ["FetchedProject", "fetch_project", "split_subdirectory"]

_GIT_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://", "git+https://", "git+ssh://",
                "git+file://", "git+http://")
_SCP = re.compile(r"^[A-Za-z0-9_.\-]+@[A-Za-z0-9_.\-]+:[^:]")
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./\-]{0,199}$")


@dataclass
class FetchedProject:
    """A project on local disk and what tracking records about where it came from."""

    directory: Path
    source_name: str
    git_commit: str | None = None
    git_repo_url: str | None = None
    git_branch: str | None = None
    cleanup_dir: Path | None = None  # a clone to remove when the run is over

    def cleanup(self) -> None:
        if self.cleanup_dir is not None:
            shutil.rmtree(self.cleanup_dir, ignore_errors=True)
            self.cleanup_dir = None


def split_subdirectory(uri: str) -> tuple[str, str]:
    """``("repo-uri", "sub/dir")`` from ``repo-uri#sub/dir``; the subdirectory may not climb out."""
    base, sep, sub = uri.partition("#")
    if sep and sub:
        parts = sub.strip("/").split("/")
        if os.path.isabs(sub) or ".." in parts or "\x00" in sub:
            raise ProjectError(f"The project subdirectory {sub!r:.100} must be a relative path inside the repository")
        return base, "/".join(p for p in parts if p not in ("", "."))
    return base, ""


def _is_git_uri(uri: str) -> bool:
    return uri.startswith(_GIT_SCHEMES) or bool(_SCP.match(uri))


def _isdir(path: str) -> bool:
    try:
        return os.path.isdir(path)
    except (ValueError, OSError):
        return False


def _git(args: list[str], *, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git")
    if git is None:
        raise ProjectError("Running a project from a git URI needs the 'git' command, which is not on PATH")
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="/bin/true")
    cmd = [git, "-c", "protocol.ext.allow=never", "-c", "protocol.fd.allow=never", "-c", "core.hooksPath=/dev/null",
           *args]
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ProjectError(f"'git {args[0]}' did not finish within {timeout:.0f} s") from None


def _git_info(directory: Path) -> tuple[str | None, str | None]:
    """(commit, remote URL) of a local checkout, or (None, None) when it is not one."""
    if shutil.which("git") is None:
        return None, None
    top = _git(["rev-parse", "--show-toplevel"], cwd=directory, timeout=30)
    if top.returncode != 0:
        return None, None
    commit = _git(["rev-parse", "HEAD"], cwd=directory, timeout=30).stdout.strip() or None
    remote = _git(["remote", "get-url", "origin"], cwd=directory, timeout=30)
    return commit, (remote.stdout.strip() or None) if remote.returncode == 0 else None


def _subdir(root: Path, sub: str, uri: str) -> Path:
    if not sub:
        return root
    target = (root / sub).resolve()
    if root.resolve() not in target.parents or not target.is_dir():
        raise ProjectError(f"The subdirectory {sub!r} does not exist in the project {uri!r:.200}")
    return target


def fetch_project(uri: str, version: str | None = None) -> FetchedProject:
    """Make the project at ``uri`` available locally (cloning git URIs at ``version``).

    Raises:
        ProjectError: the directory does not exist, the URI is not a supported git transport, the clone
            failed (git's message), or ``version`` is not a commit, branch or tag of the repository.
    """
    if not isinstance(uri, str) or not uri.strip() or "\x00" in uri:
        raise ProjectError(f"A project URI must be a non-empty path or git URL, got {uri!r:.100}")
    if version is not None and (not isinstance(version, str) or not _VERSION.match(version)):
        raise ProjectError(f"Version {version!r:.100} is not a git commit, branch or tag name")
    base, sub = split_subdirectory(uri.strip())
    if not _is_git_uri(base):
        if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+:", base) and not _isdir(base):
            raise ProjectError(f"Unsupported project URI {base!r:.200}: give a local directory or a git URL "
                               "(https://, ssh://, git://, file://, user@host:path)")
        if not _isdir(base):
            raise ProjectError(f"Project directory {base!r:.200} does not exist")
        local = Path(base).resolve()
        if version is None:
            directory = _subdir(local, sub, uri)
            commit, remote = _git_info(directory)
            return FetchedProject(directory, str(local) + (f"#{sub}" if sub else ""), commit, remote)
        commit, _ = _git_info(local)
        if commit is None:
            raise ProjectError(f"A version was given but {base!r:.200} is not a git repository")
        repo_url = str(local)
    else:
        repo_url = base[4:] if base.startswith("git+") else base
    if repo_url.startswith("-"):
        raise ProjectError(f"Invalid git URL {repo_url!r:.200}")
    work = Path(tempfile.mkdtemp(prefix="tureen-project-"))
    clone = work / "repo"
    proc = _git(["clone", "--quiet", "--no-recurse-submodules", "--", repo_url, str(clone)])
    if proc.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise ProjectError(f"git clone of {repo_url!r:.200} failed: {proc.stderr.strip()[-1500:]}")
    branch = None
    if version is not None:
        proc = _git(["checkout", "--quiet", version, "--"], cwd=clone)
        if proc.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise ProjectError(f"Version {version!r} is not a commit, branch or tag of {repo_url!r:.200}: "
                               f"{proc.stderr.strip()[-500:]}")
        if _git(["show-ref", "--verify", "--quiet", f"refs/remotes/origin/{version}"], cwd=clone).returncode == 0:
            branch = version
    commit = _git(["rev-parse", "HEAD"], cwd=clone).stdout.strip() or None
    directory = _subdir(clone, sub, uri)
    return FetchedProject(directory, uri.strip(), commit, repo_url, branch, cleanup_dir=work)
