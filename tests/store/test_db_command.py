"""``tureen db current`` / ``tureen db upgrade``: an older MLflow revision and tureen's old layout upgraded in
place (MLflow's older revisions made by MLflow itself, from the peer venv)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tureen.exceptions import InvalidStateError

from _schema_diff import describe, diff

# MLflow's alembic driven from the peer venv: the database at an older revision, exactly as MLflow left it
_MLFLOW_AT = r"""
import json, sys
from alembic import command
from mlflow.store.tracking.dbmodels.initial_models import Base
from mlflow.store.db.utils import _get_alembic_config
import sqlalchemy
uri, rev = sys.argv[1], sys.argv[2]
engine = sqlalchemy.create_engine(uri)
Base.metadata.create_all(engine)  # MLflow's first tables, then its migrations up to rev
config = _get_alembic_config(uri)
with engine.begin() as conn:
    config.attributes["connection"] = conn
    command.upgrade(config, rev)
print(json.dumps({"ok": True}))
"""

_MLFLOW_READS = r"""
import json, sys
import mlflow
from mlflow import MlflowClient
c = MlflowClient(sys.argv[1])
runs = c.search_runs([sys.argv[2]])
print(json.dumps({"runs": [r.info.run_id for r in runs], "params": [r.data.params for r in runs]}))
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tureen.cli", *args], capture_output=True, text=True)


def test_an_older_mlflow_database_is_upgraded_in_place_to_mlflows_own_head(tmp_path, mlflow_run):
    from tureen.store._mlflow_tables import MLFLOW_REVISIONS
    from tureen.store.sql import SqlStore

    old = MLFLOW_REVISIONS[-2]  # the migration after it adds tables, columns and an index
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    mlflow_run(_MLFLOW_AT, uri, old)
    with sqlite3.connect(tmp_path / "old.db") as conn:  # a run MLflow wrote at the old revision
        conn.execute("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                     "start_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES "
                     "('a' || hex(randomblob(15)), 'old-run', 'LOCAL', '', '', 'u', 'FINISHED', 1, '', 'active', "
                     "'file:///x', 0)")
        run_id = conn.execute("SELECT run_uuid FROM runs").fetchone()[0]
        conn.execute("INSERT INTO params (key, value, run_uuid) VALUES ('C', '1', ?)", (run_id,))
    with pytest.raises(InvalidStateError, match=rf"'{old}'.*tureen db upgrade"):
        SqlStore(uri)
    shown = _cli("db", "current", uri)
    assert shown.returncode == 0 and old in shown.stdout and "older revision" in shown.stdout
    done = _cli("db", "upgrade", uri, "--no-side-tables")
    assert done.returncode == 0, done.stderr
    assert f"{old} -> " in done.stdout
    # the schema is now MLflow 3.17's head (a database tureen creates is that, see test_shared_database)
    head_uri = f"sqlite:///{tmp_path / 'head.db'}"
    SqlStore(head_uri).close()
    side = ("tureen_alembic_version", "tureen_alias_history")
    assert diff(describe(head_uri, skip=side), describe(uri)) == []
    store = SqlStore(uri)  # opens, data kept, writable
    assert store.get_run(run_id).data.params == {"C": "1"}
    store.log_param(run_id, "D", "2")
    store.close()
    seen = mlflow_run(_MLFLOW_READS, uri, "0")  # and MLflow opens it without migrating
    assert seen["runs"] == [run_id] and seen["params"] == [{"C": "1", "D": "2"}]
    again = _cli("db", "upgrade", uri, "--no-side-tables")
    assert again.returncode == 0 and "already up to date" in again.stdout


def test_a_difference_that_is_not_an_addition_changes_nothing(tmp_path, mlflow_run):
    from tureen.store._mlflow_tables import MLFLOW_REVISIONS

    # four migrations behind: a column widened, one dropped after a backfill (MLflow's own migration's work)
    old = MLFLOW_REVISIONS[-5]
    path = tmp_path / "odd.db"
    mlflow_run(_MLFLOW_AT, f"sqlite:///{path}", old)
    with sqlite3.connect(path) as conn:  # and a primary key MLflow 3.17 does not have
        conn.execute("DROP TABLE params")
        conn.execute("CREATE TABLE params (key VARCHAR(250) NOT NULL, value VARCHAR(8000) NOT NULL, "
                     "run_uuid VARCHAR(32) NOT NULL, PRIMARY KEY (run_uuid))")
        before = conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    done = _cli("db", "upgrade", f"sqlite:///{path}")
    assert done.returncode == 1
    assert "Error (INVALID_STATE)" in done.stderr and "primary key of params" in done.stderr
    assert "experiment_tags.value changes type" in done.stderr and "mlflow db upgrade" in done.stderr
    assert "Traceback" not in done.stderr
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall() == before


def test_db_upgrade_migrates_tureens_old_layout_and_refuses_a_missing_file(tmp_path, monkeypatch):
    from tureen.store._engine import make_engine
    from tureen.store._migrate import migrate

    uri = f"sqlite:///{tmp_path / 'legacy.db'}"
    engine = make_engine(uri)
    migrate(engine, default_artifact_location=lambda eid: "file:///x", target="0003")
    engine.dispose()
    assert "0003" in _cli("db", "current", uri).stdout
    done = _cli("db", "upgrade", uri)
    assert done.returncode == 0, done.stderr
    assert "tureen side revision 0003 -> 0004" in done.stdout
    missing = _cli("db", "upgrade", f"sqlite:///{tmp_path / 'nope.db'}")
    assert missing.returncode == 1 and "No SQLite database" in missing.stderr
    assert not (tmp_path / "nope.db").exists()
