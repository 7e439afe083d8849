"""Test helpers: run a real ``tureen server`` (gunicorn) in a subprocess on a free loopback port.

Example:
    >>> with server_in_background("sqlite:////tmp/t.db", workers=2) as url:  # doctest: +SKIP
    ...     requests.get(f"{url}/health")
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from tureen.serving.testing import RunningServer

__all__ = ["server_in_background", "RunningTrackingServer"]


class RunningTrackingServer(RunningServer):
    """The base URL, with the process and its logs attached (the same handle as the scoring server's)."""


@contextlib.contextmanager
def server_in_background(backend_store_uri: str, *, artifacts_destination: str | None = None,
                         workers: int = 1, extra_args: list[str] | None = None, env: dict[str, str] | None = None,
                         startup_timeout: float = 60.0, graceful: bool = False) -> Iterator[RunningTrackingServer]:
    """Start ``tureen server`` on 127.0.0.1 with a free port; yield its URL once ``/health`` answers.

    On exit the server gets SIGINT (gunicorn's quick shutdown), or SIGTERM with ``graceful`` (in-flight
    requests finish); SIGKILL after 30 s.

    Raises:
        RuntimeError: the server exited or did not answer in time (its stderr is in the message).
    """
    import urllib.request

    from tureen.server.wsgi import READY_LINE

    tmp = Path(tempfile.mkdtemp(prefix="tureen-server-"))
    args = [sys.executable, "-m", "tureen.cli", "server", "--backend-store-uri", backend_store_uri,
            "--host", "127.0.0.1", "--port", "0", "--workers", str(workers),
            "--artifacts-destination", artifacts_destination or str(tmp / "artifacts"), *(extra_args or [])]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    child_env["PYTHONUNBUFFERED"] = "1"
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in [str(Path(__file__).resolve().parents[2]),
                                                          child_env.get("PYTHONPATH", "")] if p)
    child_env.update(env or {})
    out_path, err_path = tmp / "stdout.log", tmp / "stderr.log"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child_env,
                                start_new_session=True, cwd=tmp)
    try:
        prefix = READY_LINE.split("{url}")[0]
        deadline = time.monotonic() + startup_timeout
        url = None
        while url is None:
            for line in out_path.read_text(errors="replace").splitlines():
                if line.startswith(prefix):
                    url = line[len(prefix):].strip()
            if url is None:
                if proc.poll() is not None:
                    raise RuntimeError(f"tureen server exited with {proc.returncode}:\n{err_path.read_text()[-4000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"tureen server did not listen in time:\n{err_path.read_text()[-4000:]}")
                time.sleep(0.05)
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"tureen server not healthy:\n{err_path.read_text()[-4000:]}") from None
                time.sleep(0.05)
        server = _attach(url, proc, out_path, err_path)
        while len(server.worker_pids()) < workers and time.monotonic() < deadline:  # every worker forked
            time.sleep(0.05)
        yield server
    finally:
        _stop(proc, signal.SIGTERM if graceful else signal.SIGINT)


def _attach(url: str, proc: subprocess.Popen, out_path: Path, err_path: Path) -> RunningTrackingServer:
    server = RunningTrackingServer(url)
    server.process, server.stdout_path, server.stderr_path = proc, out_path, err_path
    return server


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        # SIGTERM waits for in-flight requests (up to gunicorn's graceful timeout); SIGINT should be quick, and
        # a worker still holding a client's keep-alive connection after 10 s is not worth waiting for in tests
        proc.wait(timeout=30 if sig == signal.SIGTERM else 10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass

