"""Engines for the SQL store: SQLite tuned for several processes at once, PostgreSQL/MySQL with a connect timeout.

SQLite: a database tureen creates gets the WAL journal (readers never block the writer; set once at creation
by :mod:`tureen.store._migrate`, never on a database someone else made), ``synchronous=NORMAL`` and rarer
checkpoints where the journal is WAL (safe there; settings of the connection, never stored in the file), a
larger page cache, a busy timeout so a writer waits for the lock instead of failing, and ``BEGIN IMMEDIATE``
for write transactions: a deferred transaction that reads first and writes later can fail with "database is locked" *without*
waiting when another process committed in between, so writers take the lock up front. ``LIKE`` is made
case-sensitive to match MLflow on every backend.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError

_ENGINES: "weakref.WeakSet[Any]" = weakref.WeakSet()
#: SQLite connection settings (per connection, never stored in the file): pages between checkpoints of a
#: WAL database (SQLite's default is 1000) and the page cache (negative: KiB; SQLite's default is 2 MiB)
_WAL_AUTOCHECKPOINT = 10_000
_CACHE_SIZE = -16_384


def _after_fork_in_child() -> None:
    # pooled connections must not be shared with a forked child; drop them without closing the parent's
    for engine in list(_ENGINES):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def masked(uri: str) -> str:
    """The URI with any password hidden, for error messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(uri).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URI has nothing to hide we can find
        return uri


def make_engine(uri: str) -> Any:
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    from sqlalchemy.pool import StaticPool

    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise InvalidParameterError(f"Invalid database URI {uri!r}: {exc}") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        memory = database in ("", ":memory:")
        if not memory:
            path = Path(database).expanduser()
            if path.is_dir():
                raise InvalidParameterError(f"Invalid SQLite URI {uri!r}: {str(path)!r} is a directory; name a "
                                            "database file, e.g. sqlite:///path/to/tureen.db")
            path.parent.mkdir(parents=True, exist_ok=True)
        timeout = float(os.environ.get("TUREEN_SQLITE_BUSY_TIMEOUT", "60"))
        kwargs: dict[str, Any] = {"connect_args": {"timeout": timeout, "check_same_thread": False}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
            cur = dbapi_conn.cursor()
            try:
                # per-connection settings only: none of these is stored in the database file, so opening
                # someone else's database changes nothing about it (journal_mode=WAL, page_size, auto_vacuum,
                # user_version would persist: they are never set here; see tests/store/test_sqlite_engine.py)
                cur.execute("PRAGMA journal_mode")
                row = cur.fetchone()
                if row and str(row[0]).lower() == "wal":
                    cur.execute("PRAGMA synchronous=NORMAL")
                    # checkpoint every ~40 MB of WAL instead of 4 MB: a 500-point batch dirties hundreds of
                    # index pages, mostly the same ones batch after batch, which a rarer checkpoint copies once
                    cur.execute(f"PRAGMA wal_autocheckpoint={_WAL_AUTOCHECKPOINT}")
                cur.execute(f"PRAGMA cache_size={_CACHE_SIZE}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA case_sensitive_like=ON")
            finally:
                cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            write = conn.get_execution_options().get("tureen_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    elif backend == "postgresql":
        from tureen._optional import import_optional

        if url.drivername == "postgresql" or url.drivername == "postgres":
            import_optional("psycopg", "PostgreSQL tracking stores")
            url = url.set(drivername="postgresql+psycopg")
        timeout = int(float(os.environ.get("TUREEN_DB_CONNECT_TIMEOUT", "10")))
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": timeout})
    else:
        timeout = int(float(os.environ.get("TUREEN_DB_CONNECT_TIMEOUT", "10")))
        try:
            engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": timeout})
        except (NoSuchModuleError, ImportError) as exc:
            raise InvalidParameterError(f"Database URI {masked(uri)!r} needs a driver that is not installed: "
                                        f"{exc}") from None
    _ENGINES.add(engine)
    return engine


class WriterGate:
    """One queue for the writers of one SQLite file: the threads of a process take a lock, the processes an
    ``flock`` on a small lock file (in a private directory of the user in the temp directory, see
    :func:`lock_directory`, named by the database file's device and inode, so nothing is added beside the
    database). A writer that finds SQLite's lock taken otherwise sleeps in
    SQLite's busy handler, whose naps grow to 100 ms whatever the holder does: under a few dozen concurrent
    writers some wait seconds while the lock sits idle. In the queue each writer goes on the moment the one
    before it commits. Processes that do not use the gate (MLflow, the sqlite3 shell) still meet SQLite's own
    lock as before; the gate changes who waits where, never what is written.

    Entering is reentrant per thread. A process waits for the file lock in naps of at most 1 ms (a blocking
    ``flock`` hands over more slowly: every release wakes a sleeper through the scheduler), and never longer
    than the busy timeout: past it the writer goes on to SQLite's lock, which then times out, or not, as before.
    """

    def __init__(self, database: str, timeout: float) -> None:
        st = os.stat(database)
        self._path = lock_directory() / f"{st.st_dev}-{st.st_ino}.lock"
        self._timeout = timeout
        self._thread_lock = threading.Lock()
        self._local = threading.local()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int | None:
        if self._fd is not None and self._pid == os.getpid():
            return self._fd
        try:  # after a fork the inherited descriptor shares the parent's lock: open our own
            self._fd = _open_lock_file(self._path)
        except OSError:
            self._fd = None  # no safe lock file (see lock_directory): SQLite's own lock alone, as before
        self._pid = os.getpid()
        return self._fd

    def __enter__(self) -> "WriterGate":
        import fcntl

        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        if depth:
            return self
        self._local.flocked = False
        self._local.locked = self._thread_lock.acquire(timeout=self._timeout)
        if not self._local.locked:
            return self
        fd = self._file()
        if fd is None:
            return self
        deadline = time.monotonic() + self._timeout
        nap = 0.00005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._local.flocked = True
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return self
                time.sleep(nap)
                nap = min(nap * 2, 0.001)

    def __exit__(self, *exc: Any) -> None:
        import fcntl

        self._local.depth -= 1
        if self._local.depth:
            return
        if self._local.flocked and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        if self._local.locked:
            self._thread_lock.release()


def lock_directory() -> Path:
    """Where the writer gates' lock files live: ``tureen-sqlite-locks-<uid>`` in the temp directory, private to
    the user (mode 0700). The temp directory is shared by every user, so the directory is trusted only when it
    is a real directory (not a symlink) owned by this user and open to nobody else; otherwise the gate is not
    used (SQLite's own lock still orders the writers). Writers of one database running as different users
    therefore queue on SQLite's lock between them, never on a file another user could replace."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"tureen-sqlite-locks-{uid}"


def _open_lock_file(path: Path) -> int:
    import stat

    folder = path.parent
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(folder)
    uid = os.getuid() if hasattr(os, "getuid") else st.st_uid
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or stat.S_IMODE(st.st_mode) & 0o077:
        raise PermissionError(f"{folder} is not a private directory of this user")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    fst = os.fstat(fd)
    if not stat.S_ISREG(fst.st_mode) or fst.st_uid != uid:
        os.close(fd)
        raise PermissionError(f"{path} is not a regular file of this user")
    return fd


def writer_gate(engine: Any) -> WriterGate | None:
    """The gate of a SQLite file's writers (``None`` for other databases and in-memory SQLite)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    try:
        return WriterGate(str(Path(database).expanduser()), float(os.environ.get("TUREEN_SQLITE_BUSY_TIMEOUT", "60")))
    except OSError:
        return None
