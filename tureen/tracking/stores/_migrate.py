"""Bringing a database to the schema this tureen expects (alembic, run by the store itself).

On open the store reads the schema revision with one query. At head: nothing to do. Empty database or an
older revision: migrate under a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL) so
that many processes opening a fresh database at once migrate it exactly once. ``TUREEN_AUTO_MIGRATE=0``
turns automatic migration off; the error then says how to migrate by hand. A database written by a newer
tureen, or one that is not a tureen database (e.g. MLflow's), is refused with a message saying so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidStateError
from tureen.tracking.stores._schema import HEAD_REVISION, VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
KNOWN_REVISIONS = ("0001", "0002", "0003")
_PG_LOCK_ID = 7_402_113_931  # any constant: the advisory lock that serializes tureen migrations


def current_revision(conn: Any) -> str | None:
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _foreign_schema(conn: Any) -> bool:
    from sqlalchemy import inspect

    names = set(inspect(conn).get_table_names())
    return bool(names & {"alembic_version", "experiments", "runs"})


def run_alembic(conn: Any, target: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    command.upgrade(config, target)


def ensure_schema(engine: Any, uri_for_messages: str, *, default_artifact_location: Any) -> None:
    """Check the schema revision and migrate when needed (see the module docstring)."""
    with engine.connect() as conn:
        revision = current_revision(conn)
        foreign = revision is None and _foreign_schema(conn)
    if revision == HEAD_REVISION:
        return
    if foreign:
        raise InvalidStateError(
            f"The database {uri_for_messages} holds tables that tureen did not create (it looks like an MLflow "
            "database). tureen keeps its own schema: point tureen at a new database (e.g. "
            "sqlite:///path/to/tureen.db) instead.")
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise InvalidStateError(
            f"The database {uri_for_messages} has schema revision {revision!r}, which is newer than this tureen "
            f"understands (latest known: {HEAD_REVISION}). Upgrade tureen to use it.")
    from tureen._flags import env_bool

    if revision is not None and not env_bool("TUREEN_AUTO_MIGRATE", True):
        raise InvalidStateError(
            f"The database {uri_for_messages} has schema revision {revision}, older than {HEAD_REVISION}, and "
            "automatic migration is off (TUREEN_AUTO_MIGRATE=0). Back it up, then run: "
            f"python -c \"from tureen.tracking.stores.sql import upgrade_database; "
            f"upgrade_database('<uri>')\"")
    migrate(engine, default_artifact_location=default_artifact_location)


def migrate(engine: Any, *, default_artifact_location: Any, target: str = "head") -> None:
    """Run the migrations to ``target`` under the migration lock, then create the Default experiment."""
    from sqlalchemy import text

    from tureen.tracking.stores import _schema as s

    with engine.connect().execution_options(tureen_write=True) as conn:
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
            before = current_revision(conn)  # again: another process may have migrated while we waited
            if before == HEAD_REVISION and target == "head":
                return
            run_alembic(conn, target)
            if before is None:
                exists = conn.execute(s.experiments.select().where(s.experiments.c.experiment_id == 0)).first()
                if exists is None:
                    now = int(time.time() * 1000)
                    conn.execute(s.experiments.insert().values(
                        experiment_id=0, name="Default", artifact_location=default_artifact_location(0),
                        lifecycle_stage="active", creation_time=now, last_update_time=now))
