"""``SubmittedRun``: a project run in progress (its run id, ``wait()``, ``get_status()``, ``cancel()``)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Any, Callable

__all__ = ["SubmittedRun", "ProcessSubmittedRun"]


class SubmittedRun:
    """A launched project run. ``wait()`` blocks until it ends and says whether it succeeded;
    ``get_status()`` is one of MLflow's run statuses (``RUNNING``, ``FINISHED``, ``FAILED``, ``KILLED``)."""

    run_id: str

    def wait(self) -> bool:
        raise NotImplementedError

    def get_status(self) -> str:
        raise NotImplementedError

    def cancel(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} run_id={self.run_id} status={self.get_status()}>"


class ProcessSubmittedRun(SubmittedRun):
    """A run whose entry point is a local process (the command itself, or ``docker run``), in its own
    process group so that ``cancel()`` stops everything it started. The tracked run's status follows the
    process: FINISHED on exit 0, FAILED otherwise, KILLED when cancelled."""

    def __init__(self, run_id: str, popen: subprocess.Popen[Any], *, client: Any,
                 on_cancel: Callable[[], None] | None = None, on_end: Callable[[], None] | None = None) -> None:
        self.run_id = run_id
        self._popen = popen
        self._client = client
        self._on_cancel = on_cancel
        self._on_end = on_end
        self._lock = threading.Lock()
        self._status: str | None = None
        self._cancelled = False
        self._watcher = threading.Thread(target=self._watch, name=f"tureen-project-{run_id[:8]}", daemon=True)
        self._watcher.start()

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    @property
    def pid(self) -> int:
        return self._popen.pid

    def _watch(self) -> None:
        code = self._popen.wait()
        self._finish("KILLED" if self._cancelled else ("FINISHED" if code == 0 else "FAILED"))

    def _finish(self, status: str) -> None:
        with self._lock:
            if self._status is not None:
                return
            try:
                self._client.set_terminated(self.run_id, status)
            finally:
                self._status = status
                if self._on_end is not None:
                    try:
                        self._on_end()
                    except Exception:  # noqa: BLE001 - cleanup of a temp clone must not hide the status
                        pass

    def wait(self) -> bool:
        """Block until the entry point exits (and its status is recorded); True when it succeeded."""
        self._popen.wait()
        self._watcher.join()
        return self._status == "FINISHED"

    def get_status(self) -> str:
        if self._status is not None:
            return self._status
        return "RUNNING" if self._popen.poll() is None else self._wait_status()

    def _wait_status(self) -> str:
        self._watcher.join()
        return self._status or "FAILED"

    def cancel(self) -> None:
        """Stop the entry point and everything it started (SIGTERM, then SIGKILL after 5 s); status KILLED."""
        if self._popen.poll() is None:
            self._cancelled = True
            if self._on_cancel is not None:
                try:
                    self._on_cancel()
                except Exception:  # noqa: BLE001 - the process group is signalled below anyway
                    pass
            for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self._popen.pid, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline and self._popen.poll() is None:
                    time.sleep(0.05)
                if self._popen.poll() is not None:
                    break
        self.wait()
