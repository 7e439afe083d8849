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
                for p in ("journal_mode", "synchronous", "wal_autocheckpoint", "cache_size", "foreign_keys",
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
