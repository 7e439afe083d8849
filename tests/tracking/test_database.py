"""Databases as bad input: older schemas are migrated, foreign or newer ones refused, unreachable ones fail fast."""

from __future__ import annotations

import sqlite3

import pytest

from tureen.exceptions import InvalidParameterError, InvalidStateError, StoreUnavailableError
from tureen.tracking.stores import get_store
from tureen.tracking.stores.sql import SqlStore


def _engine(uri):
    from tureen.store._engine import make_engine

    return make_engine(uri)


def test_older_schema_is_migrated_with_data_kept(tmp_path):
    from tureen.store._migrate import migrate

    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = _engine(uri)
    migrate(engine, default_artifact_location=lambda eid: (tmp_path / str(eid)).as_uri(), target="0001")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, "
                             "artifact_uri, lifecycle_stage) VALUES ('a' || hex(randomblob(15)), 'old', 0, 'u', "
                             "'FINISHED', 1, 'file:///x', 'active')")
        assert conn.exec_driver_sql("SELECT version_num FROM tureen_alembic_version").scalar() == "0001"
    engine.dispose()
    store = SqlStore(uri)  # migrates to head on open
    runs = store.search_runs(["0"])
    assert [r.info.run_name for r in runs] == ["old"]
    lm = store.create_logged_model("0", name="m")  # a table of revision 0002
    assert lm.model_id.startswith("m-")
    store.close()


def test_auto_migration_can_be_turned_off(tmp_path, monkeypatch):
    from tureen.store._migrate import migrate

    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = _engine(uri)
    migrate(engine, default_artifact_location=lambda eid: "file:///x", target="0001")
    engine.dispose()
    monkeypatch.setenv("TUREEN_AUTO_MIGRATE", "0")
    with pytest.raises(InvalidStateError, match="tureen db upgrade"):
        SqlStore(uri)
    from tureen.tracking.stores.sql import upgrade_database

    upgrade_database(uri)
    SqlStore(uri).close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    SqlStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE tureen_alembic_version SET version_num = '9999'")
    with pytest.raises(InvalidStateError, match="newer than this tureen"):
        SqlStore(f"sqlite:///{path}")


def test_mlflow_database_is_refused(tmp_path):
    path = tmp_path / "mlflow.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        conn.execute("CREATE TABLE experiments (experiment_id INTEGER)")
    with pytest.raises(InvalidStateError, match="MLflow"):
        SqlStore(f"sqlite:///{path}")


def test_garbage_and_wrong_uris(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InvalidParameterError, match="not a SQLite database"):
        SqlStore(f"sqlite:///{junk}")
    with pytest.raises(InvalidParameterError, match="directory"):
        SqlStore(f"sqlite:///{tmp_path}")
    with pytest.raises(InvalidParameterError, match="not supported"):
        get_store(str(tmp_path / "mlruns"))
    with pytest.raises(InvalidParameterError, match="Unsupported tracking URI"):
        get_store("nosuch://x")
    with pytest.raises(InvalidParameterError, match="Invalid database URI"):
        SqlStore("sqlite:")
    with pytest.raises(InvalidParameterError):
        SqlStore("mysql+nosuchdriver://u@127.0.0.1/db")


@pytest.mark.timeout(60)
def test_unreachable_postgresql_fails_fast_with_a_clear_error(monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreUnavailableError, match=r"postgresql://u:\*\*\*@127.0.0.1"):
        SqlStore(f"postgresql://u:secret@127.0.0.1:{port}/db")
    monkeypatch.setenv("TUREEN_DB_CONNECT_TIMEOUT", "1")
    with pytest.raises(StoreUnavailableError, match="unavailable"):  # a host that never answers
        SqlStore("postgresql://u@10.255.255.1:5432/db")


@pytest.mark.postgres
def test_wrong_postgresql_database_name(postgres_server):
    with pytest.raises(StoreUnavailableError, match="does not exist"):
        SqlStore(f"postgresql://postgres@127.0.0.1:{postgres_server['port']}/no_such_db")


def test_migrations_match_the_schema_module(tmp_path):
    """A database the store creates has exactly the tables of tureen.store._schema (MLflow's + side tables)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import MetaData

    from tureen.store._schema import SIDE_TABLES, metadata, side_metadata

    both = MetaData()
    for table in list(metadata.tables.values()) + [side_metadata.tables[n] for n in SIDE_TABLES[1:]]:
        table.to_metadata(both)
    store = SqlStore(f"sqlite:///{tmp_path / 'x.db'}")
    with store._engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": "tureen_alembic_version"})
        diffs = [d for d in compare_metadata(context, both)
                 if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    store.close()
    assert diffs == []


def test_import_tureen_tracking_is_light():
    import subprocess
    import sys

    code = ("import sys, tureen, tureen.tracking, tureen.registry, tureen.artifacts; "
            "tureen.get_tracking_uri; "
            "bad = [m for m in ('sqlalchemy', 'alembic', 'pandas', 'numpy') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
