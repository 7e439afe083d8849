"""The SQLite side of the store's engine: settings that never persist into a database tureen only opens, the
writer gate's private lock directory (a shared temp directory is hostile ground), and the late-filtered
search page, whose order is explicit."""

from __future__ import annotations

import os
import random
import sqlite3
import stat
import tempfile

import pytest

from tureen.tracking._filter import encode_page_token


def _plain_settings(path: str) -> dict[str, object]:
    conn = sqlite3.connect(path)
    try:
        return {p: conn.execute(f"PRAGMA {p}").fetchone()[0]
                for p in ("journal_mode", "synchronous", "wal_autocheckpoint", "cache_size", "mmap_size", "foreign_keys",
                          "page_size", "auto_vacuum", "user_version")}
    finally:
        conn.close()


def test_opening_and_writing_a_wal_database_made_elsewhere_leaves_its_settings_as_they_were(tmp_path):
    from tureen.store.sql import SqlStore

    # a WAL database tureen did not create: its owner's tables and settings (MLflow's schema is not
    # needed to see what the engine's connection settings do; the engine alone opens it)
    path = str(tmp_path / "theirs.db")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x INTEGER)")
    fresh = str(tmp_path / "fresh.db")
    with sqlite3.connect(fresh) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x INTEGER)")
    expected = _plain_settings(fresh)  # what any plain connection sees in a WAL file nobody tuned
    assert _plain_settings(path) == expected

    from tureen.store._engine import make_engine

    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # tureen's own connection is tuned...
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == 256 * 1024 * 1024
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    engine.dispose()
    # ...and nothing of it is left in the file: a new plain connection sees the defaults again
    assert _plain_settings(path) == expected

    # the same for a whole store on a database it creates and then reopens: WAL (set once, at creation) is
    # the only setting that persists
    ours = str(tmp_path / "ours.db")
    SqlStore(f"sqlite:///{ours}").close()
    got = _plain_settings(ours)
    assert got["journal_mode"] == "wal"
    assert {k: v for k, v in got.items() if k not in ("journal_mode", "user_version")} == \
        {k: v for k, v in expected.items() if k not in ("journal_mode", "user_version")}


def test_memory_mapped_reads_follow_the_environment(tmp_path, monkeypatch):
    """Reads are memory-mapped (256 MiB) unless TUREEN_SQLITE_MMAP_SIZE says otherwise; 0 turns them off; a
    value that is no number is a typed error naming the variable; an in-memory database maps nothing."""
    from tureen.exceptions import InvalidSettingError
    from tureen.store._engine import make_engine

    def mapped(uri: str) -> int:
        engine = make_engine(uri)
        try:
            with engine.connect() as conn:
                return conn.exec_driver_sql("PRAGMA mmap_size").scalar()
        finally:
            engine.dispose()

    path = tmp_path / "m.db"
    monkeypatch.setenv("TUREEN_SQLITE_MMAP_SIZE", "1048576")
    assert mapped(f"sqlite:///{path}") == 1048576
    monkeypatch.setenv("TUREEN_SQLITE_MMAP_SIZE", "0")
    assert mapped(f"sqlite:///{path}") == 0
    for wrong in ("lots", "-5", "1e6"):  # a negative size is no setting either: not silently "off"
        monkeypatch.setenv("TUREEN_SQLITE_MMAP_SIZE", wrong)
        with pytest.raises(InvalidSettingError, match="TUREEN_SQLITE_MMAP_SIZE"):
            make_engine(f"sqlite:///{path}")


def test_opening_a_rollback_journal_database_keeps_its_journal(tmp_path):
    from tureen.store._engine import make_engine

    path = str(tmp_path / "theirs.db")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    before = _plain_settings(path)
    assert before["journal_mode"] == "delete"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == before["synchronous"]  # no WAL: untouched
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    engine.dispose()
    assert _plain_settings(path) == before


# -- the writer gate's lock directory -----------------------------------------------------------------------
@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A temp directory of the test's own, as ``tempfile.gettempdir()`` (where the lock directory goes)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def _gate(db):
    from tureen.store._engine import WriterGate

    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    return WriterGate(str(db), timeout=5)


def test_the_lock_directory_is_private_to_the_user(private_tmp, tmp_path):
    from tureen.store._engine import lock_directory

    gate = _gate(tmp_path / "a.db")
    with gate:
        pass
    folder = lock_directory()
    assert folder.parent == private_tmp and folder.name == f"tureen-sqlite-locks-{os.getuid()}"
    st = os.lstat(folder)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()
    (lock,) = folder.iterdir()
    assert stat.S_IMODE(lock.stat().st_mode) & 0o077 == 0


def test_a_planted_symlink_or_shared_lock_directory_is_not_used(private_tmp, tmp_path):
    """Someone who can write to the temp directory plants the lock directory first: as a symlink to a
    directory of theirs, or as a directory everyone may write to. The gate uses neither (it goes on without
    its file lock: SQLite's own lock still orders writers) and creates nothing in them."""
    from tureen.store._engine import lock_directory
    from tureen.store.sql import SqlStore

    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    folder = lock_directory()
    folder.symlink_to(elsewhere, target_is_directory=True)
    gate = _gate(tmp_path / "a.db")
    with gate:
        assert gate._fd is None
    assert list(elsewhere.iterdir()) == []
    store = SqlStore(f"sqlite:///{tmp_path / 'b.db'}")  # the store works without the gate's file
    eid = store.create_experiment("e")
    assert store.create_run(eid).info.experiment_id == eid
    store.close()
    assert list(elsewhere.iterdir()) == []

    folder.unlink()
    folder.mkdir(mode=0o777)
    os.chmod(folder, 0o777)  # a directory others could write to (and swap files in)
    gate = _gate(tmp_path / "c.db")
    with gate:
        assert gate._fd is None
    assert list(folder.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to make another user's dir")
def test_a_lock_directory_of_another_user_is_not_used(private_tmp, tmp_path):
    from tureen.store._engine import lock_directory

    folder = lock_directory()
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    gate = _gate(tmp_path / "a.db")
    with gate:
        assert gate._fd is None
    assert list(folder.iterdir()) == []


def test_a_symlink_planted_as_the_lock_file_is_not_followed(private_tmp, tmp_path):
    from tureen.store._engine import lock_directory

    db = tmp_path / "a.db"
    gate = _gate(db)
    folder = lock_directory()
    folder.mkdir(mode=0o700)
    target = tmp_path / "victim"
    target.write_text("keep")
    st = os.stat(db)
    (folder / f"{st.st_dev}-{st.st_ino}.lock").symlink_to(target)
    with gate:
        assert gate._fd is None
    assert target.read_text() == "keep"


# -- the late-filtered page of search_runs ----------------------------------------------------------------
@pytest.fixture(scope="module")
def many_runs(tmp_path_factory):
    """300 runs with tied start times and a metric; the expected order computed here, in Python."""
    from tureen.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path_factory.mktemp('late') / 't.db'}")
    eid = store.create_experiment("late")
    rnd = random.Random(7)
    runs = []
    for _ in range(300):
        run = store.create_run(eid, start_time=1000 + rnd.randint(0, 20))  # many ties: run_uuid decides
        auc = rnd.random()
        store.log_batch(run.info.run_id, metrics=[("auc", auc, 1, 0)])
        runs.append((run.info.start_time, run.info.run_id, auc))
    runs.sort(key=lambda x: (-x[0], x[1]))
    yield store, eid, runs
    store.close()


@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.97, 2.0])
def test_late_filtered_pages_are_the_ordered_matches_page_after_page(many_runs, threshold):
    store, eid, runs = many_runs
    expected = [rid for _t, rid, auc in runs if auc > threshold]
    got, token = [], None
    while True:
        page = store.search_runs([eid], f"metrics.auc > {threshold}", max_results=17, page_token=token)
        got += [r.info.run_id for r in page]
        token = page.token
        assert (token is None) == (len(got) == len(expected))
        if token is None:
            break
    assert got == expected


def test_an_offset_only_token_counts_matching_runs_not_all_runs(many_runs):
    """An offset token (an older tureen's) on a filtered search skips that many *matching* runs."""
    store, eid, runs = many_runs
    expected = [rid for _t, rid, auc in runs if auc > 0.5]
    page = store.search_runs([eid], "metrics.auc > 0.5", max_results=10, page_token=encode_page_token(30))
    assert [r.info.run_id for r in page] == expected[30:40]


# -- background WAL checkpoints (a server worker's) ---------------------------------------------------------
def _wal_restarts(db) -> int:
    """The WAL header's salt-1: SQLite adds one to it each time a writer starts the WAL over from its
    beginning, which it does only after a checkpoint copied every frame back (SQLite's file format, "the WAL
    header", bytes 16-19, big-endian). Compare values modulo 2**32 (its first value is random). The header's
    checkpoint sequence number (bytes 12-15) would not do: each connection writes its own count there."""
    import struct

    with open(f"{db}-wal", "rb") as f:
        return struct.unpack(">I", f.read(20)[16:20])[0]


def _checkpoint_threads() -> list[str]:
    import threading

    from tureen.store._engine import _CHECKPOINT_THREAD_NAME

    return [t.name for t in threading.enumerate() if t.name == _CHECKPOINT_THREAD_NAME]


def _batch(store, run_id, i, n=200):
    store.log_batch(run_id, metrics=[(f"m{k}", float(i), 1000 + i, i) for k in range(n)])


@pytest.fixture
def background(monkeypatch):
    """Background checkpoints on for stores opened in this test (as in a server worker), off again after."""
    from tureen.store import _engine

    monkeypatch.setattr(_engine, "_background", True)
    return _engine


@pytest.mark.parametrize("thread", [True, False])
def test_with_the_thread_the_wal_is_checkpointed_and_started_over_after_writes(tmp_path, monkeypatch, thread):
    """A client writing batches with pauses between them (as one MLflow client does): with the checkpoint
    thread the WAL is copied back after the writes and the next writer starts it over, so the file stops
    growing; without it (an embedded store: the inline autocheckpoint at 10,000 pages, far from reached here)
    the WAL only grows."""
    import time

    from tureen.store import _engine
    from tureen.store.sql import SqlStore

    monkeypatch.setattr(_engine, "_background", thread)
    db = tmp_path / "t.db"
    store = SqlStore(f"sqlite:///{db}")
    try:
        assert (store._checkpointer is not None) is thread
        run_id = store.create_run(store.create_experiment("e")).info.run_id
        _batch(store, run_id, 0)
        restarts, sizes = _wal_restarts(db), []
        for i in range(1, 9):
            time.sleep(0.3)  # longer than the thread's pause: a checkpoint runs (and ends) before the next write
            _batch(store, run_id, i)
            sizes.append(os.path.getsize(f"{db}-wal"))
        if thread:
            assert _checkpoint_threads() == [_engine._CHECKPOINT_THREAD_NAME]
            assert store._checkpointer.checkpoints >= 4
            assert (_wal_restarts(db) - restarts) % 2**32 >= 4
            assert max(sizes) <= 2 * sizes[0]
        else:
            assert _checkpoint_threads() == []
            assert _wal_restarts(db) == restarts
            assert sizes == sorted(sizes) and sizes[-1] > 3 * sizes[0]
        # nothing written is lost to the checkpoints: every point of every batch reads back
        history = store.get_metric_history(run_id, "m7")
        assert [(m.step, m.value) for m in history] == [(i, float(i)) for i in range(9)]
    finally:
        store.close()
    assert _checkpoint_threads() == []  # closing the store ends its thread


def test_no_checkpoint_thread_for_memory_or_rollback_journal_databases(background, tmp_path):
    from tureen.store.sql import SqlStore

    path = tmp_path / "rollback.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    from tureen.store._engine import background_checkpointer, make_engine

    engine = make_engine(f"sqlite:///{path}")
    assert background_checkpointer(engine) is None
    engine.dispose()
    store = SqlStore("sqlite://")
    try:
        assert store._checkpointer is None
        _batch(store, store.create_run(store.create_experiment("e")).info.run_id, 0)
        assert _checkpoint_threads() == []
    finally:
        store.close()


@pytest.mark.postgres
def test_no_checkpoint_thread_for_postgresql(background, postgres_uri):
    from tureen.store.sql import SqlStore

    store = SqlStore(postgres_uri)
    try:
        assert store._checkpointer is None
        _batch(store, store.create_run(store.create_experiment("e")).info.run_id, 0)
        assert _checkpoint_threads() == []
    finally:
        store.close()


def _in_child(fn) -> dict:
    """Run ``fn()`` in a forked child; its JSON-able result (or the error) comes back through a pipe."""
    import json
    import traceback

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        import signal

        os.close(read)
        signal.alarm(30)  # a child that hangs (say, on a lock inherited locked) dies, and the test fails
        try:
            out = {"ok": fn()}
        except BaseException:  # noqa: BLE001 - reported to the parent
            out = {"error": traceback.format_exc()}
        try:
            os.write(write, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    with os.fdopen(read, "rb") as f:
        while chunk := f.read(65536):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    out = json.loads(b"".join(chunks) or b'{"error": "the child died"}')
    assert "error" not in out, out["error"]
    return out["ok"]


def test_the_server_worker_starts_its_own_thread_after_the_fork_and_the_master_none(tmp_path, monkeypatch):
    """gunicorn's master opens the store before forking (no thread: background checkpoints are never enabled
    there); each worker's post_fork hook enables them, and the worker's first write starts its thread."""
    import time

    from tureen.server.wsgi import post_fork
    from tureen.store import _engine
    from tureen.tracking.stores import get_store, reset_stores

    monkeypatch.setattr(_engine, "_background", False)
    uri = f"sqlite:///{tmp_path / 't.db'}"
    master = get_store(uri)
    assert master._checkpointer is None
    master.create_experiment("e")
    assert _checkpoint_threads() == []

    def worker():
        post_fork(None, None)
        store = get_store(uri)
        before = _checkpoint_threads()
        run_id = store.create_run("1").info.run_id
        after_one = _checkpoint_threads()
        for i in range(4):
            _batch(store, run_id, i)
            time.sleep(0.3)
        return {"before": before, "after": after_one, "checkpoints": store._checkpointer.checkpoints,
                "master_store_reused": store is master}

    try:
        for _ in range(2):  # two workers, one after the other, each with its own thread
            got = _in_child(worker)
            assert got["before"] == [] and got["after"] == [_engine._CHECKPOINT_THREAD_NAME]
            assert got["checkpoints"] >= 3 and not got["master_store_reused"]
        assert _checkpoint_threads() == [] and not _engine.background_checkpoints_enabled()
    finally:
        reset_stores()


def test_a_fork_while_the_parent_thread_holds_its_lock_leaves_the_child_a_working_checkpointer(background,
                                                                                            tmp_path):
    """The parent's checkpoint thread may hold its lock at the instant of a fork (the thread itself does not
    survive it); the child's checkpointer is made afresh: its writes neither hang nor lose checkpoints."""
    import time

    from tureen.store.sql import SqlStore

    db = tmp_path / "t.db"
    store = SqlStore(f"sqlite:///{db}")
    try:
        run_id = store.create_run(store.create_experiment("e")).info.run_id
        checkpointer = store._checkpointer
        _batch(store, run_id, 0)
        assert checkpointer.running

        def child():
            start, done = _wal_restarts(db), checkpointer.checkpoints
            for i in range(1, 5):
                _batch(store, run_id, i)
                time.sleep(0.3)
            _batch(store, run_id, 5)
            return {"threads": _checkpoint_threads(), "checkpoints": checkpointer.checkpoints - done,
                    "restarts": (_wal_restarts(db) - start) % 2**32}

        with checkpointer._cond:  # held across the fork, as the parent's thread might hold it
            got = _in_child(child)
        assert got["threads"] == [_engine_name()] and got["checkpoints"] >= 3 and got["restarts"] >= 3
        assert [m.step for m in store.get_metric_history(run_id, "m3")] == [0, 1, 2, 3, 4, 5]
        assert checkpointer.running  # the parent's own thread goes on
    finally:
        store.close()


def _engine_name() -> str:
    from tureen.store._engine import _CHECKPOINT_THREAD_NAME

    return _CHECKPOINT_THREAD_NAME


def test_writers_in_several_processes_with_their_threads_lose_nothing(background, tmp_path):
    """Four forked writers (each with its own checkpoint thread, as four server workers) log batches into one
    database at once: every point of every batch is there afterwards and the file is sound."""
    import time

    from tureen.store.sql import SqlStore

    db = tmp_path / "t.db"
    uri = f"sqlite:///{db}"
    parent = SqlStore(uri)
    eid = parent.create_experiment("e")
    run_ids = [parent.create_run(eid).info.run_id for _ in range(4)]
    parent.close()
    shared = run_ids[0]

    pids = []
    for n, run_id in enumerate(run_ids):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                store = SqlStore(uri)
                for i in range(40):
                    _batch(store, run_id, i, n=100)
                    store.log_batch(shared, metrics=[(f"w{n}", float(i), 1000 + i, i)])
                    if i % 10 == 0:
                        time.sleep(0.05)
                code = 0 if store._checkpointer.checkpoints >= 1 else 2
                store.close()
            finally:
                os._exit(code)
        pids.append(pid)
    assert [os.waitpid(pid, 0)[1] for pid in pids] == [0, 0, 0, 0]

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_run = dict(conn.execute("SELECT run_uuid, COUNT(*) FROM metrics GROUP BY run_uuid").fetchall())
    assert per_run == {rid: 40 * 100 + (4 * 40 if rid == shared else 0) for rid in run_ids}
    store = SqlStore(uri)
    try:
        for n in range(4):
            assert [m.step for m in store.get_metric_history(shared, f"w{n}")] == list(range(40))
    finally:
        store.close()


def test_a_real_server_checkpoints_in_its_workers_and_not_in_its_master(tmp_path):
    """``tureen server`` with two gunicorn workers: batches logged through its REST API with pauses between
    them are checkpointed and the WAL started over (the workers' threads at work: the inline autocheckpoint
    is far from reached), while the master stays a single thread."""
    import json
    import time
    import urllib.request

    from tureen.server.testing import server_in_background

    db = tmp_path / "t.db"

    def call(url, path, body):
        req = urllib.request.Request(f"{url}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    with server_in_background(f"sqlite:///{db}", workers=2) as server:
        run_id = call(server.url, "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
        metrics = lambda i: [{"key": f"m{k}", "value": i, "timestamp": 1000 + i, "step": i} for k in range(200)]  # noqa: E731
        call(server.url, "runs/log-batch", {"run_id": run_id, "metrics": metrics(0)})
        start = _wal_restarts(db)
        for i in range(1, 9):
            time.sleep(0.8)  # ample for the thread's 0.2 s pause and its checkpoint, even on a loaded machine
            call(server.url, "runs/log-batch", {"run_id": run_id, "metrics": metrics(i)})
        assert (_wal_restarts(db) - start) % 2**32 >= 3, server.stderr_path.read_text()[-2000:]
        assert os.listdir(f"/proc/{server.pid}/task") == [str(server.pid)]
        assert len(server.worker_pids()) == 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM metrics WHERE run_uuid = ?", (run_id,)).fetchone()[0] == 9 * 200
