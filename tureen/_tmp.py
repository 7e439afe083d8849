"""Temp directories that a crash cannot leave behind for ever.

Every atomic write (a model saved, a model logged, an artifact download) builds its result in a temp
directory beside the target and renames it into place. A process killed with SIGKILL cannot clean up, so
the temp directory's name records who made it: ``.<hint>.tureen-tmp-<host>-<pid>-<random>``. The next
:func:`make_temp_dir` in the same parent removes the leftovers of processes that are gone: only names of
that form, only directories owned by the current user, only from this host, only when that process no
longer runs (a live process's work in progress is never touched).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import tempfile
import zlib
from pathlib import Path

__all__ = ["make_temp_dir", "sweep_stale_temp_dirs"]

_MARK = ".tureen-tmp-"
_NAME = re.compile(r"^\..*\.tureen-tmp-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[A-Za-z0-9_]+$")


def _host_id() -> str:
    # a short stable id of this machine, so a directory on a shared file system made by a process on
    # another host (whose pid means nothing here) is never taken for stale
    return f"{zlib.crc32(socket.gethostname().encode('utf-8')):08x}"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a pid we could have written: leave it alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def sweep_stale_temp_dirs(parent: str | os.PathLike[str]) -> list[str]:
    """Remove the temp directories of dead processes from ``parent``; return the names removed.

    Example:
        >>> sweep_stale_temp_dirs("/nonexistent")
        []
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    host, uid = _host_id(), os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        m = _NAME.match(entry.name)
        if m is None or m["host"] != host:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or (uid is not None and st.st_uid != uid):
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.name)
    return removed


def make_temp_dir(parent: str | os.PathLike[str], hint: str) -> Path:
    """A new temp directory in ``parent`` (created if needed), after sweeping dead processes' leftovers.

    Example:
        >>> make_temp_dir("/tmp", "model")  # doctest: +SKIP
        PosixPath('/tmp/.model.tureen-tmp-1a2b3c4d-4242-k3j4h5')
    """
    Path(parent).mkdir(parents=True, exist_ok=True)
    sweep_stale_temp_dirs(parent)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", hint)[:80] or "tmp"
    return Path(tempfile.mkdtemp(prefix=f".{safe}{_MARK}{_host_id()}-{os.getpid()}-", dir=parent))
