"""What the store does when it opens a database: decide what the database is, and create or migrate it.

One look at the version tables (``alembic_version``: MLflow's; ``tureen_alembic_version``: tureen's side)
sorts every database into one case:

=============================================  ===========================================================
empty                                          created: MLflow 3.17's tables at its head revision, tureen's
                                               side tables, the Default experiment; WAL journal on SQLite
tureen's, at MLflow's head                     used as it is
tureen's old layout (``0001``–``0003``)        migrated in place to MLflow's schema (``TUREEN_AUTO_MIGRATE=0``
                                               turns that off; the error names ``upgrade_database``)
MLflow's, at its head                          used as it is, **never rewritten**: no side tables, no journal
                                               switch (alias history is kept only once the database is
                                               adopted with ``tureen db upgrade``)
MLflow's, an older revision                    refused, naming the revision and ``tureen db upgrade <uri>``
                                               (which adds what is missing when that is only additions)
MLflow's, a revision newer than 3.17's         used when every table and column tureen writes is still there
                                               and every new column can be left out; else refused
tureen's side newer than this tureen           refused ("upgrade tureen")
tables of something else                       refused
=============================================  ===========================================================

Creation and migration run under a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL,
``GET_LOCK`` on MySQL) so that many processes opening a fresh database at once create it exactly once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tureen.exceptions import InvalidStateError
from tureen.store import _schema as s
from tureen.store._mlflow_tables import MLFLOW_REVISIONS

LEGACY_MIGRATIONS_DIR = Path(__file__).resolve().parent / "legacy_migrations"
LEGACY_REVISIONS = ("0001", "0002", "0003")
KNOWN_REVISIONS = LEGACY_REVISIONS + (s.TUREEN_REVISION,)
_PG_LOCK_ID = 7_402_113_931  # any constant: the advisory lock that serializes tureen's schema changes
_MYSQL_LOCK = "tureen_schema"


@dataclass(frozen=True)
class DatabaseState:
    """What an opened database is (see the module docstring)."""

    kind: str  # empty | tureen | legacy | mlflow | mlflow-old | mlflow-newer | tureen-newer | foreign
    mlflow_revision: str | None
    tureen_revision: str | None
    problems: tuple[str, ...] = ()

    @property
    def adopted(self) -> bool:
        """True when tureen's side tables are there (tureen created or adopted the database)."""
        return self.tureen_revision == s.TUREEN_REVISION


def _scalar(conn: Any, table: str) -> str | None:
    from sqlalchemy import text

    return conn.execute(text(f"SELECT version_num FROM {table}")).scalar()


def current_revision(conn: Any) -> str | None:
    """tureen's side revision of the database (``None``: no tureen version table)."""
    from sqlalchemy import inspect

    if not inspect(conn).has_table(s.VERSION_TABLE):
        return None
    return _scalar(conn, s.VERSION_TABLE)


def _newer_problems(conn: Any) -> tuple[str, ...]:
    """Why a database of a newer MLflow cannot be used (empty: every change is additive)."""
    from sqlalchemy import inspect

    insp = inspect(conn)
    present = set(insp.get_table_names())
    problems = []
    for table in s.metadata.sorted_tables:
        if table.name not in present:
            problems.append(f"table {table.name!r} is gone")
            continue
        have = {c["name"]: c for c in insp.get_columns(table.name)}
        for col in table.columns:
            if col.name not in have:
                problems.append(f"column {table.name}.{col.name} is gone")
        for name, col in have.items():
            if name not in table.columns and not col.get("nullable", True) and col.get("default") is None \
                    and not col.get("autoincrement") is True:
                problems.append(f"new column {table.name}.{name} must be given a value")
    return tuple(problems)


def inspect_database(conn: Any) -> DatabaseState:
    """Classify the database on ``conn`` (one or two cheap queries when it is tureen's or MLflow's)."""
    from sqlalchemy import inspect

    names = set(inspect(conn).get_table_names())
    mlflow_rev = _scalar(conn, s.MLFLOW_VERSION_TABLE) if s.MLFLOW_VERSION_TABLE in names else None
    tureen_rev = _scalar(conn, s.VERSION_TABLE) if s.VERSION_TABLE in names else None
    if not names:
        return DatabaseState("empty", None, None)
    if tureen_rev is not None and tureen_rev not in KNOWN_REVISIONS:
        return DatabaseState("tureen-newer", mlflow_rev, tureen_rev)
    if tureen_rev in LEGACY_REVISIONS:
        return DatabaseState("legacy", mlflow_rev, tureen_rev)
    if mlflow_rev is None:
        return DatabaseState("foreign", None, tureen_rev)
    if mlflow_rev == s.MLFLOW_HEAD_REVISION:
        return DatabaseState("tureen" if tureen_rev else "mlflow", mlflow_rev, tureen_rev)
    if mlflow_rev in MLFLOW_REVISIONS:
        return DatabaseState("mlflow-old", mlflow_rev, tureen_rev)
    return DatabaseState("mlflow-newer", mlflow_rev, tureen_rev, _newer_problems(conn))


def _auto_migrate() -> bool:
    from tureen._flags import env_bool  # the one strict boolean parser: an unknown word is an error

    return env_bool("TUREEN_AUTO_MIGRATE", True)


def ensure_schema(engine: Any, uri_for_messages: str, *, default_artifact_location: Callable[[int], str]) \
        -> DatabaseState:
    """Check the database and create or migrate it when needed (see the module docstring)."""
    with engine.connect() as conn:
        state = inspect_database(conn)
    if state.kind in ("tureen", "mlflow"):
        return state
    if state.kind == "mlflow-newer":
        if state.problems:
            raise InvalidStateError(
                f"The database {uri_for_messages} has MLflow schema revision {state.mlflow_revision!r}, newer than "
                f"the MLflow {s.MLFLOW_HEAD_REVISION!r} this tureen knows, and its changes are not only additions: "
                f"{'; '.join(state.problems[:5])}. Upgrade tureen to use it.")
        return state
    if state.kind == "mlflow-old":
        raise InvalidStateError(
            f"The database {uri_for_messages} has MLflow schema revision {state.mlflow_revision!r}, older than the "
            f"revision {s.MLFLOW_HEAD_REVISION!r} of MLflow 3.17 that tureen reads and writes. Back it up, then "
            f"upgrade it in place: tureen db upgrade '{uri_for_messages}' (or MLflow 3.17's own: mlflow db upgrade "
            f"'{uri_for_messages}')",
            error_code="INVALID_STATE")
    if state.kind == "tureen-newer":
        raise InvalidStateError(
            f"The database {uri_for_messages} has tureen schema revision {state.tureen_revision!r}, which is newer "
            f"than this tureen understands (latest known: {s.TUREEN_REVISION}). Upgrade tureen to use it.")
    if state.kind == "foreign":
        raise InvalidStateError(
            f"The database {uri_for_messages} holds tables that neither tureen nor MLflow created (no "
            "'alembic_version' revision). Point tureen at a new database (e.g. sqlite:///path/to/tureen.db) or at "
            "an MLflow database.")
    if state.kind == "legacy" and not _auto_migrate():
        raise InvalidStateError(
            f"The database {uri_for_messages} has tureen schema revision {state.tureen_revision}, the layout before "
            f"tureen used MLflow's schema, and automatic migration is off (TUREEN_AUTO_MIGRATE=0). Back it up, "
            f"then run: tureen db upgrade '{uri_for_messages}'")
    migrate(engine, default_artifact_location=default_artifact_location)
    with engine.connect() as conn:
        return inspect_database(conn)


def _lock(conn: Any) -> None:
    from sqlalchemy import text

    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
    elif conn.dialect.name in ("mysql", "mariadb"):
        conn.execute(text("SELECT GET_LOCK(:n, 600)"), {"n": _MYSQL_LOCK})


def run_legacy_alembic(conn: Any, target: str) -> None:
    """Bring a database of tureen's old layout to ``target`` (``0001``–``0003``) with its old scripts."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(LEGACY_MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    command.upgrade(config, target)


def create_schema(conn: Any, *, default_artifact_location: Callable[[int], str]) -> None:
    """Create MLflow's tables at its head, tureen's side tables and the Default experiment on an empty DB."""
    from sqlalchemy import text

    create_mlflow_tables(conn)
    conn.exec_driver_sql(f"CREATE TABLE {s.MLFLOW_VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
                         "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
    conn.execute(text(f"INSERT INTO {s.MLFLOW_VERSION_TABLE} (version_num) VALUES (:v)"),
                 {"v": s.MLFLOW_HEAD_REVISION})
    add_side_tables(conn)
    if conn.execute(s.experiments.select().where(s.experiments.c.experiment_id == 0)).first() is None:
        now = int(time.time() * 1000)
        mysql = conn.dialect.name in ("mysql", "mariadb")
        if mysql:  # MySQL turns an explicit 0 in an AUTO_INCREMENT column into the next id unless told not to
            conn.exec_driver_sql("SET @tureen_sql_mode = @@SESSION.sql_mode")
            conn.exec_driver_sql("SET SESSION sql_mode = CONCAT_WS(',', @@SESSION.sql_mode, 'NO_AUTO_VALUE_ON_ZERO')")
        conn.execute(s.experiments.insert().values(
            experiment_id=0, name="Default", artifact_location=default_artifact_location(0),
            lifecycle_stage="active", creation_time=now, last_update_time=now))
        if mysql:
            conn.exec_driver_sql("SET SESSION sql_mode = @tureen_sql_mode")


def create_mlflow_tables(conn: Any) -> None:
    """MLflow's tables, triggers and per-dialect details, exactly as MLflow's migrations leave them."""
    s.metadata.create_all(conn)
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        for ddl in s.MYSQL_FIXUPS:
            conn.exec_driver_sql(ddl)
    for ddl in s.TRIGGER_DDL.get(dialect, []):
        conn.exec_driver_sql(ddl)


def add_side_tables(conn: Any) -> None:
    """Create tureen's side tables (and its version row) in a database that has MLflow's."""
    from sqlalchemy import text

    s.side_metadata.create_all(conn, tables=[s.side_metadata.tables[n] for n in s.SIDE_TABLES])
    conn.execute(text(f"DELETE FROM {s.VERSION_TABLE}"))
    conn.execute(text(f"INSERT INTO {s.VERSION_TABLE} (version_num) VALUES (:v)"), {"v": s.TUREEN_REVISION})


def migrate(engine: Any, *, default_artifact_location: Callable[[int], str], target: str = "head",
            adopt: bool = False) -> None:
    """Create, or migrate to ``target``, under the schema lock.

    ``target`` is ``"head"`` (MLflow's schema + side tables) or a legacy revision (``"0001"``–``"0003"``,
    only for tests of the migration itself). ``adopt=True`` adds the side tables to an MLflow database.
    """
    from tureen.store._convert import convert_legacy

    created = False
    with engine.connect().execution_options(tureen_write=True) as conn:
        with conn.begin():
            _lock(conn)
            state = inspect_database(conn)  # again: another process may have done it while we waited
            if target in LEGACY_REVISIONS:
                if state.kind not in ("empty", "legacy"):
                    raise InvalidStateError(f"Cannot migrate a {state.kind} database to legacy revision {target}")
                run_legacy_alembic(conn, target)
                if state.kind == "empty":
                    _legacy_default_experiment(conn, default_artifact_location)
                return
            if state.kind == "empty":
                create_schema(conn, default_artifact_location=default_artifact_location)
                created = True
            elif state.kind == "legacy":
                if state.tureen_revision != LEGACY_REVISIONS[-1]:
                    run_legacy_alembic(conn, LEGACY_REVISIONS[-1])
                convert_legacy(conn)
            elif state.kind in ("mlflow", "mlflow-newer") and adopt:
                add_side_tables(conn)
    if created and engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        # a database tureen creates gets the WAL journal (readers never block the writer); it is a property
        # of the file, so it is set once here and never on a database someone else created
        raw = engine.raw_connection()  # outside any transaction: SQLite refuses the switch inside one
        try:
            raw.cursor().execute("PRAGMA journal_mode=WAL")
        finally:
            raw.close()
        # the pooled connections were opened before the switch, so without the per-connection settings a WAL
        # journal gets (synchronous=NORMAL: no fsync per commit); drop them, the next ones are set up right
        engine.dispose()


def _legacy_default_experiment(conn: Any, default_artifact_location: Callable[[int], str]) -> None:
    from sqlalchemy import text

    now = int(time.time() * 1000)
    conn.execute(text("INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                      "creation_time, last_update_time) VALUES (0, 'Default', :a, 'active', :n, :n)"),
                 {"a": default_artifact_location(0), "n": now})


# -- an MLflow database of an older revision: brought to MLflow's head where the difference is only additions --
def additive_upgrade_plan(conn: Any) -> tuple[list[Any], list[str]]:
    """What bringing an older MLflow database to MLflow 3.17's head takes: ``(steps, problems)``.

    A step is one of ``("table", Table)``, ``("column", Table, Column)``, ``("index", Index)``. A problem is a
    difference that is not an addition tureen can make safely (a primary key that changed, a new column that
    must be given a value on existing rows): then nothing is changed and MLflow's own migration is needed.
    """
    from sqlalchemy import inspect

    insp = inspect(conn)
    present = set(insp.get_table_names())
    steps: list[Any] = []
    problems: list[str] = []
    for table in s.metadata.sorted_tables:
        if table.name not in present:
            steps.append(("table", table))
            continue
        reflected = {c["name"]: c for c in insp.get_columns(table.name)}
        have = set(reflected)
        for name in sorted(have - {c.name for c in table.columns}):
            problems.append(f"column {table.name}.{name} is not in MLflow 3.17's schema (a later migration "
                            "removed or moved it)")
        for col in table.columns:
            if col.name in have:
                change = _string_type_change(reflected[col.name]["type"], col.type, conn.dialect)
                if change:
                    problems.append(f"column {table.name}.{col.name} changes type ({change})")
                continue
            if not col.nullable and col.server_default is None:
                problems.append(f"new column {table.name}.{col.name} needs a value on the existing rows")
            elif col.primary_key:
                problems.append(f"new column {table.name}.{col.name} joins the primary key")
            else:
                steps.append(("column", table, col))
        pk = set(insp.get_pk_constraint(table.name).get("constrained_columns") or [])
        want = {c.name for c in table.primary_key.columns}
        if pk != want:
            problems.append(f"the primary key of {table.name} is ({', '.join(sorted(pk))}), MLflow 3.17's is "
                            f"({', '.join(sorted(want))})")
        indexes = {ix["name"] for ix in insp.get_indexes(table.name)}
        indexes |= {u["name"] for u in insp.get_unique_constraints(table.name)}
        for ix in table.indexes:
            if ix.name not in indexes:
                steps.append(("index", ix))
    return steps, problems


def _string_type_change(have: Any, want: Any, dialect: Any) -> str | None:
    """A change of a string column's capacity between the database and MLflow's head (``None``: none seen).

    Only string types are compared (the changes MLflow's migrations make to existing columns are wider
    limits); other type names differ between reflection and definition without meaning anything.
    """
    from sqlalchemy import String

    want = want.dialect_impl(dialect) if hasattr(want, "dialect_impl") else want
    if not isinstance(have, String) or not isinstance(want, String):
        return None
    have_len, want_len = getattr(have, "length", None), getattr(want, "length", None)
    if have_len == want_len:
        return None
    return f"{have_len or 'unlimited'} -> {want_len or 'unlimited'} characters"


def upgrade_mlflow_database(engine: Any, uri_for_messages: str) -> tuple[str, int]:
    """Bring an MLflow database of an older revision to MLflow 3.17's head in one transaction, adding the
    missing tables, columns and indexes, then setting MLflow's revision row. Returns ``(old revision, number
    of changes)``.

    Raises:
        InvalidStateError: a difference is not an addition (nothing is changed; MLflow's migration is needed).
    """
    from sqlalchemy import text
    from sqlalchemy.schema import CreateColumn, CreateIndex

    with engine.connect().execution_options(tureen_write=True) as conn:
        with conn.begin():
            _lock(conn)
            state = inspect_database(conn)
            if state.kind != "mlflow-old":
                return state.mlflow_revision or "", 0
            steps, problems = additive_upgrade_plan(conn)
            if problems:
                raise InvalidStateError(
                    f"The database {uri_for_messages} has MLflow schema revision {state.mlflow_revision!r}; bringing "
                    f"it to {s.MLFLOW_HEAD_REVISION!r} needs more than additions ({'; '.join(problems[:12])}), which "
                    f"only MLflow's own migration does. Back it up, then run: mlflow db upgrade '{uri_for_messages}' "
                    "(MLflow 3.17)")
            preparer = conn.dialect.identifier_preparer
            for step in steps:
                if step[0] == "table":
                    step[1].create(conn)
                    for ddl in s.TRIGGER_DDL.get(conn.dialect.name, []):
                        if f" ON {step[1].name} " in ddl:
                            conn.exec_driver_sql(ddl)
                elif step[0] == "column":
                    column_ddl = CreateColumn(step[2]).compile(dialect=conn.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {preparer.quote(step[1].name)} ADD COLUMN {column_ddl}")
                else:
                    conn.execute(CreateIndex(step[1]))
            conn.execute(text(f"UPDATE {s.MLFLOW_VERSION_TABLE} SET version_num = :v"),
                         {"v": s.MLFLOW_HEAD_REVISION})
            return state.mlflow_revision or "", len(steps)
