"""Engines for the SQL store: SQLite tuned for several processes at once, PostgreSQL/MySQL with a connect timeout.

SQLite: a database tureen creates gets the WAL journal (readers never block the writer; set once at creation
by :mod:`tureen.store._migrate`, never on a database someone else made), ``synchronous=NORMAL`` and rarer
checkpoints where the journal is WAL (safe there; settings of the connection, never stored in the file), a
larger page cache, a busy timeout so a writer waits for the lock instead of failing, and ``BEGIN IMMEDIATE``
for write transactions: a deferred transaction that reads first and writes later can fail with "database is locked" *without*
waiting when another process committed in between, so writers take the lock up front. ``LIKE`` is made
case-sensitive to match MLflow on every backend.

Checkpoints of a WAL database: by default SQLite copies the WAL back into the database inline, in the commit
that crosses ``wal_autocheckpoint`` pages, so one request in every few dozen pays for the copy and its fsyncs
(the tail of a 500-metric ``log_batch``). A ``tureen server`` worker instead calls
:func:`enable_background_checkpoints` after gunicorn forks it: each SQLite file store of that process then gets
a :class:`WalCheckpointer`, a daemon thread that runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of
its own, outside the writer gate, at most every :data:`_CHECKPOINT_INTERVAL` seconds and only after writes;
the inline autocheckpoint stays as a backstop at a high page count. An embedded store (a user's own process,
which may fork or exit at any moment) keeps the inline autocheckpoint alone: no thread is started behind a
library user's back.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, InvalidSettingError

_ENGINES: "weakref.WeakSet[Any]" = weakref.WeakSet()
#: SQLite connection settings (per connection, never stored in the file): pages between checkpoints of a
#: WAL database (SQLite's default is 1000) and the page cache (negative: KiB; SQLite's default is 2 MiB)
_WAL_AUTOCHECKPOINT = 10_000
_CACHE_SIZE = -16_384
#: memory-mapped reads of the database file, up to this many bytes (SQLite's default is none). A server's
#: workers each have a connection, and a connection drops its whole page cache whenever another one has
#: written since its last transaction, which under several workers is nearly every request: mapped, the
#: file's pages are read in place from the OS's cache instead of being copied in by one read call each
#: (pages still in the WAL are read from it as before)
_MMAP_SIZE_DEFAULT = 256 * 1024 * 1024


def _mmap_size() -> int:
    raw = os.environ.get("TUREEN_SQLITE_MMAP_SIZE", "").strip()
    if not raw:
        return _MMAP_SIZE_DEFAULT
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidSettingError(f"TUREEN_SQLITE_MMAP_SIZE={raw!r} is not a number of bytes (0 turns "
                                  "memory-mapped reads off)")
    return int(raw)
#: with background checkpoints the inline autocheckpoint is only a backstop (a checkpoint thread that cannot
#: keep up, or readers that keep it from finishing): ~80 MB of WAL at 4 KiB pages
_WAL_AUTOCHECKPOINT_BACKSTOP = 20_000
#: seconds between the end of one background checkpoint and the start of the next, at least
_CHECKPOINT_INTERVAL = 0.2
_CHECKPOINT_THREAD_NAME = "tureen-wal-checkpoint"

#: set by :func:`enable_background_checkpoints` (a server worker, after the fork); engines made later get a
#: checkpointer
_background = False
_CHECKPOINTERS: "weakref.WeakKeyDictionary[Any, WalCheckpointer]" = weakref.WeakKeyDictionary()
_LIVE: "weakref.WeakSet[WalCheckpointer]" = weakref.WeakSet()
#: SQLite connections a forked child inherited from its parent's checkpointers: kept referenced so they are
#: never closed (nor used) in the child, where closing them could disturb the parent's locks
_PARKED: list[Any] = []


def _after_fork_in_child() -> None:
    # pooled connections must not be shared with a forked child; drop them without closing the parent's
    for engine in list(_ENGINES):
        engine.dispose(close=False)
    # a checkpoint thread does not survive the fork, and its lock may have been held at that instant: every
    # checkpointer starts afresh (new lock, no thread; a later write starts this process's own thread)
    for checkpointer in list(_LIVE):
        checkpointer._after_fork()


def enable_background_checkpoints() -> None:
    """Give every SQLite file store opened from now on in this process a background WAL checkpoint thread
    (see :class:`WalCheckpointer`). Called by ``tureen server`` in each worker after the fork, never in the
    master; an embedded store does not call it and keeps SQLite's inline autocheckpoint.

    Example:
        >>> enable_background_checkpoints()  # doctest: +SKIP
    """
    global _background
    _background = True


def background_checkpoints_enabled() -> bool:
    """Whether :func:`enable_background_checkpoints` was called in this process (or a parent before a fork)."""
    return _background


class WalCheckpointer:
    """A daemon thread that checkpoints one SQLite WAL database in the background.

    :meth:`note_write` (called after each committed write) wakes it; it runs ``PRAGMA wal_checkpoint(PASSIVE)``
    on a connection of its own, never more often than every ``interval`` seconds and only when there was a
    write since the last one. A passive checkpoint takes no lock that writers or readers wait for: it copies
    the frames no reader still needs and leaves the rest for the next one, and once everything is copied the
    next writer starts the WAL over from its beginning. The thread is started by the first write of the
    process it runs in; after a fork the child's copy is reset (see ``_after_fork_in_child``), so a thread
    and its lock are always this process's own. :meth:`stop` ends the thread and closes its connection.
    """

    def __init__(self, database: str, interval: float = _CHECKPOINT_INTERVAL) -> None:
        self.database = database
        self.interval = interval
        self._stopped = False
        self.checkpoints = 0  # completed checkpoint calls (tests, diagnostics)
        self._fresh()
        _LIVE.add(self)

    def _fresh(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._pending = False
        self._idle = False
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._last = 0.0
        self._pid = os.getpid()

    def _after_fork(self) -> None:
        if self._conn is not None:
            _PARKED.append(self._conn)
        self._fresh()

    @property
    def running(self) -> bool:
        """Whether this process's checkpoint thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive() and self._pid == os.getpid()

    def note_write(self) -> None:
        """A write was committed: checkpoint soon (starts the thread on the first call in this process)."""
        if self._pid != os.getpid():  # a fork the at-fork hook did not see (it always runs on os.fork)
            self._after_fork()
        with self._cond:
            if self._stopped:
                return
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=_CHECKPOINT_THREAD_NAME, daemon=True)
                self._thread.start()
            elif self._idle:
                self._cond.notify()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread (after the checkpoint it may be running) and close its connection."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            thread = self._thread if self._pid == os.getpid() else None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        _LIVE.discard(self)

    def _run(self) -> None:
        import logging
        import sqlite3

        log = logging.getLogger(__name__)
        cond = self._cond
        try:
            while True:
                with cond:
                    while not self._pending and not self._stopped:  # no write since the last checkpoint
                        self._wait(None)
                    # the pause after the last checkpoint: writes meanwhile only set _pending (no wake-ups)
                    deadline = self._last + self.interval
                    while not self._stopped and time.monotonic() < deadline:
                        cond.wait(deadline - time.monotonic())
                    if self._stopped:
                        return
                    self._pending = False
                try:
                    if self._conn is None:
                        self._conn = sqlite3.connect(self.database, timeout=1.0, isolation_level=None,
                                                     check_same_thread=False)
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:  # e.g. the file went away: try afresh after the next write
                    log.debug("background checkpoint of %s failed: %s", self.database, exc)
                    self._close_connection()
                self._last = time.monotonic()
        finally:
            if cond is self._cond:  # not a thread orphaned by a fork (its process is gone anyway)
                self._close_connection()

    def _wait(self, timeout: float | None) -> None:
        # with the condition held: wait to be notified by note_write (or stop), or for ``timeout``
        self._idle = True
        try:
            self._cond.wait(timeout)
        finally:
            self._idle = False

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


def background_checkpointer(engine: Any) -> WalCheckpointer | None:
    """The background checkpointer of ``engine``: only for a SQLite file in WAL mode whose engine was made
    after :func:`enable_background_checkpoints`; ``None`` for every other database (PostgreSQL, MySQL,
    in-memory SQLite, a rollback-journal file) and in a process that did not enable them."""
    checkpointer = _CHECKPOINTERS.get(engine)
    if checkpointer is None:
        return None
    with engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    if str(mode).lower() != "wal":
        checkpointer.stop()
        del _CHECKPOINTERS[engine]
        return None
    return checkpointer


def _stop_all_checkpointers() -> None:
    for checkpointer in list(_LIVE):
        checkpointer.stop(timeout=1.0)


import atexit  # noqa: E402 - beside the hook it registers

atexit.register(_stop_all_checkpointers)


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
        mmap_size = 0 if memory else _mmap_size()
        kwargs: dict[str, Any] = {"connect_args": {"timeout": timeout, "check_same_thread": False}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        background = _background and not memory and not database.startswith("file:")
        autocheckpoint = _WAL_AUTOCHECKPOINT_BACKSTOP if background else _WAL_AUTOCHECKPOINT
        if background:
            _CHECKPOINTERS[engine] = WalCheckpointer(str(Path(database).expanduser().absolute()))

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
                    # (with a background checkpointer, see WalCheckpointer, this is only its backstop)
                    cur.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
                cur.execute(f"PRAGMA cache_size={_CACHE_SIZE}")
                if mmap_size:
                    cur.execute(f"PRAGMA mmap_size={mmap_size}")
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
