"""Runs left RUNNING by a process that was killed (SIGKILL, OOM, a lost machine) are found, not kept for ever.

A run started through the fluent API records which process runs it in the tag ``tureen.process``
(``<host id>:<pid>:<process start time>``). A RUNNING run whose process, on this host, no longer exists is
*orphaned*: ``tureen runs list`` flags it and ``tureen runs mark-failed --orphaned`` ends it as FAILED.
The start time guards against a recycled pid; runs started on another host are never judged from here.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["PROCESS_TAG", "process_tag", "is_orphaned"]

PROCESS_TAG = "tureen.process"


def _start_time(pid: int) -> str:
    try:  # Linux: field 22 of /proc/<pid>/stat, clock ticks since boot; fine as an identity check
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def process_tag() -> str:
    """The value of ``tureen.process`` for the current process.

    Example:
        >>> process_tag().count(":")
        2
    """
    from tureen._tmp import _host_id

    return f"{_host_id()}:{os.getpid()}:{_start_time(os.getpid())}"


def is_orphaned(run: Any) -> bool:
    """True when ``run`` is RUNNING but the process recorded in its tags is gone (on this host)."""
    if getattr(run.info, "status", None) != "RUNNING":
        return False
    value = (run.data.tags or {}).get(PROCESS_TAG)
    if not value:
        return False
    from tureen._tmp import _alive, _host_id

    host, _, rest = str(value).partition(":")
    pid_text, _, started = rest.partition(":")
    if host != _host_id() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if not _alive(pid):
        return True
    return bool(started) and _start_time(pid) not in ("", started)  # the pid now belongs to another process
