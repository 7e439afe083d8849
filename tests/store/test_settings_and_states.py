"""Which database the store opens (MLflow's environment names and their precedence), and how it treats
databases it cannot use as they are: MLflow's older revisions, a newer MLflow, a newer tureen."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from tureen.exceptions import InvalidStateError


def test_mlflow_environment_names_are_honoured_when_tureen_ones_are_unset(monkeypatch, tmp_path):
    from tureen.tracking import _config

    mlflow_db, tureen_db, reg_db = (f"sqlite:///{tmp_path / n}" for n in ("m.db", "t.db", "r.db"))
    monkeypatch.delenv("TUREEN_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_db)
    assert _config.tracking_uri_source() == (mlflow_db, "MLFLOW_TRACKING_URI")
    assert _config.registry_uri_source() == (mlflow_db, "the tracking URI (MLFLOW_TRACKING_URI)")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", reg_db)
    assert _config.get_registry_uri() == reg_db
    monkeypatch.setenv("TUREEN_TRACKING_URI", tureen_db)  # tureen's own name wins over MLflow's
    assert _config.tracking_uri_source() == (tureen_db, "TUREEN_TRACKING_URI")
    _config.set_tracking_uri(mlflow_db)  # and the in-process setting over both
    try:
        assert _config.tracking_uri_source() == (mlflow_db, "set_tracking_uri()")
    finally:
        _config.set_tracking_uri(None)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path), "MLFLOW_TRACKING_URI": mlflow_db,
           "TUREEN_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-m", "tureen.cli", "--version"], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert f"tracking URI: {mlflow_db}  (from MLFLOW_TRACKING_URI)" in out


def test_an_unchanged_script_with_mlflow_tracking_uri_writes_there(monkeypatch, tmp_path):
    import tureen
    from tureen.tracking import TrackingClient

    uri = f"sqlite:///{tmp_path / 'mlflow-env.db'}"
    monkeypatch.delenv("TUREEN_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with tureen.start_run() as run:
        tureen.log_metric("x", 1.0)
    assert TrackingClient(uri).get_run(run.info.run_id).data.metrics == {"x": 1.0}


def _mlflow_like(tmp_path, revision: str) -> str:
    """A database tureen created, then stamped as MLflow revision ``revision`` without tureen's side tables."""
    from tureen.store.sql import SqlStore

    path = tmp_path / f"{revision}.db"
    SqlStore(f"sqlite:///{path}").close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP TABLE tureen_alias_history")
        conn.execute("DROP TABLE tureen_alembic_version")
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.execute("PRAGMA journal_mode=DELETE")  # as MLflow leaves its SQLite files
    conn.close()
    return f"sqlite:///{path}"


def test_an_older_mlflow_revision_is_refused_naming_it_and_the_upgrade_command(tmp_path):
    from tureen.store._mlflow_tables import MLFLOW_REVISIONS
    from tureen.store.sql import SqlStore

    old = MLFLOW_REVISIONS[-5]
    uri = _mlflow_like(tmp_path, old)
    with pytest.raises(InvalidStateError, match=rf"revision '{old}'.*tureen db upgrade"):
        SqlStore(uri)


def test_a_newer_mlflow_revision_opens_when_additive_and_is_refused_otherwise(tmp_path):
    from tureen.store.sql import SqlStore

    uri = _mlflow_like(tmp_path, "ffff00000001")
    path = uri[len("sqlite:///"):]
    with sqlite3.connect(path) as conn:  # what a future MLflow might add: a table and a nullable column
        conn.execute("CREATE TABLE future_things (id INTEGER PRIMARY KEY)")
        conn.execute("ALTER TABLE runs ADD COLUMN future_note VARCHAR(20)")
    store = SqlStore(uri)
    eid = store.create_experiment("ok")
    assert store.create_run(eid).info.experiment_id == eid
    store.close()
    with sqlite3.connect(path) as conn:  # a required column tureen would not fill in
        conn.execute("ALTER TABLE params ADD COLUMN must_have VARCHAR(20) NOT NULL DEFAULT 'x'")
        conn.execute("ALTER TABLE runs DROP COLUMN source_version")
    with pytest.raises(InvalidStateError, match=r"'ffff00000001'.*runs.source_version is gone"):
        SqlStore(uri)


def test_opening_an_mlflow_database_adds_nothing_and_adopting_adds_the_side_tables(tmp_path):
    from tureen.store._schema import MLFLOW_HEAD_REVISION
    from tureen.store.sql import SqlStore, upgrade_database

    uri = _mlflow_like(tmp_path, MLFLOW_HEAD_REVISION)
    path = uri[len("sqlite:///"):]
    conn = sqlite3.connect(path)
    before = conn.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    store = SqlStore(uri)
    store.create_registered_model("m")
    store.create_model_version("m", "file:///tmp/m")
    store.set_registered_model_alias("m", "a", "1")
    assert store.get_registered_model_alias_history("m") == []  # no side table: no history kept
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall() == before
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    upgrade_database(uri)  # adopt: tureen's side tables, explicitly
    store = SqlStore(uri)
    store.set_registered_model_alias("m", "a", "1")
    store.delete_registered_model_alias("m", "a")
    assert [h.version for h in store.get_registered_model_alias_history("m")] == [None]
    store.close()


def test_a_deleted_version_number_is_never_reused_and_mlflow_sees_it_deleted(tmp_path):
    from tureen.exceptions import ResourceNotFoundError
    from tureen.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'v.db'}")
    store.create_registered_model("m")
    for _ in range(2):
        store.create_model_version("m", "file:///tmp/m")
    store.delete_model_version("m", "2")
    with pytest.raises(ResourceNotFoundError):
        store.get_model_version("m", "2")
    assert store.create_model_version("m", "file:///tmp/m").version == 3
    assert [v.version for v in store.search_model_versions("name = 'm'")] == [3, 1]
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT current_stage FROM model_versions WHERE version = 2").scalar() \
            == "Deleted_Internal"
    store.close()


def test_a_database_tureen_creates_is_written_without_an_fsync_per_commit(tmp_path):
    """The connections the store writes with after creating a WAL database use synchronous=NORMAL, including
    the ones pooled before the journal switch (a bug once: they kept FULL, one fsync per create_run)."""
    from tureen.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'new.db'}")
    store.create_run(store.create_experiment("e"))
    with store._write() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    store.close()
