"""Test helpers: run a real gunicorn scoring server in a subprocess on a free loopback port.

Example:
    >>> with serve_in_background("churn_model", workers=2) as server:  # doctest: +SKIP
    ...     requests.post(f"{server.url}/invocations", json=body)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from tureen.serving.settings import ENV_PREFIX

__all__ = ["serve_in_background", "RunningServer"]


class RunningServer(str):
    """The base URL (``http://127.0.0.1:PORT``), with the process and its logs attached."""

    process: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    @property
    def url(self) -> str:
        return str(self)

    @property
    def pid(self) -> int:
        """PID of the gunicorn master."""
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """PIDs of the current worker processes (children of the master)."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
            return [int(p) for p in text.split()]
        except OSError:
            return []

    def logs(self) -> str:
        """Everything the server wrote to stderr so far (gunicorn's log and the access log)."""
        return self.stderr_path.read_text(errors="replace")


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@contextlib.contextmanager
def serve_in_background(model_uri: str | os.PathLike[str] | list[Any], *, python: str | None = None,
                        startup_timeout: float = 180.0, wait_ready: bool = True,
                        env: dict[str, str] | None = None, **settings: Any) -> Iterator[RunningServer]:
    """Start ``tureen serve`` on a free 127.0.0.1 port; yield its URL once ``/ready`` answers 200.

    Args:
        model_uri: any model URI or path; or, for several models in one server, a list of ``NAME=URI``
            arguments (and ``"--config", FILE``).
        python: the interpreter to run (default: this one, with this process's ``sys.path`` so that model
            classes defined in test modules can be unpickled by the server).
        startup_timeout: seconds to wait for the server to listen and be ready.
        wait_ready: wait for ``/ready`` 200 (False: return as soon as the server listens).
        env: extra environment variables for the server process.
        **settings: :class:`~tureen.serving.settings.ServingSettings` fields, e.g. ``workers=2``.

    Yields:
        A :class:`RunningServer`: a ``str`` holding the base URL, with ``.url``, ``.pid``, ``.worker_pids()``
        and ``.logs()``. On exit the server gets SIGTERM (then SIGKILL after 30 s).

    Raises:
        RuntimeError: the server exited or did not become ready in time (its stderr is in the message).
    """
    settings = {"host": "127.0.0.1", "port": 0, **settings}
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    child_env.update({ENV_PREFIX + k.upper(): _env_value(v) for k, v in settings.items() if v is not None})
    child_env["PYTHONUNBUFFERED"] = "1"
    if python is None:
        # the server unpickles models whose classes live in test modules: let it import what the tests import
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        if child_env.get("PYTHONPATH"):
            paths.append(child_env["PYTHONPATH"])
        child_env["PYTHONPATH"] = os.pathsep.join(paths)
    child_env.update(env or {})
    tmp = Path(tempfile.mkdtemp(prefix="tureen-serve-"))
    out_path, err_path = tmp / "stdout.log", tmp / "stderr.log"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        args = [os.fspath(a) for a in model_uri] if isinstance(model_uri, (list, tuple)) else [os.fspath(model_uri)]
        proc = subprocess.Popen([python or sys.executable, "-m", "tureen.serving.wsgi", *args],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child_env,
                                start_new_session=True)
    try:
        url = _wait_for_url(proc, out_path, err_path, startup_timeout)
        server = RunningServer(url)
        server.process = proc
        server.stdout_path = out_path
        server.stderr_path = err_path
        if wait_ready:
            _wait_ready(proc, url, err_path, startup_timeout)
            deadline = time.monotonic() + startup_timeout  # every worker forked, not only the first
            while len(server.worker_pids()) < int(settings.get("workers", 1)) and time.monotonic() < deadline:
                time.sleep(0.05)
        yield server
    finally:
        _stop(proc)


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _wait_for_url(proc: subprocess.Popen, out_path: Path, err_path: Path, timeout: float) -> str:
    from tureen.serving.wsgi import READY_LINE

    prefix = READY_LINE.split("{uri}")[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in out_path.read_text(errors="replace").splitlines():
            if line.startswith(prefix) and " at http" in line:
                return line.rsplit(" at ", 1)[1].strip()
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before listening:\n"
                               f"{_tail(err_path)}")
        time.sleep(0.05)
    raise RuntimeError(f"the server did not listen within {timeout:g} s:\n{_tail(err_path)}")


def _wait_ready(proc: subprocess.Popen, url: str, err_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=5) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = exc.read().decode(errors="replace")
            if '"failed"' in last:
                raise RuntimeError(f"the model failed to load: {last}\n{_tail(err_path)}") from None
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}:\n{_tail(err_path)}")
        time.sleep(0.05)
    raise RuntimeError(f"the server was not ready within {timeout:g} s ({last}):\n{_tail(err_path)}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the master and its workers, all started by us
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(timeout=10)
    else:
        try:  # workers orphaned by a master that died abruptly
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
