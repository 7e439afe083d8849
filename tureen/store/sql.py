"""The SQL store: tracking, logged models and the model registry in one database on MLflow's own schema.

SQLite, PostgreSQL and MySQL/MariaDB through SQLAlchemy. :class:`SqlStore` is the tracking half
(:class:`tureen.store._tracking.TrackingSqlMixin`) and the registry half
(:class:`tureen.store._registry.RegistrySqlMixin`) over one plumbing base (:class:`tureen.store._base.SqlBase`).
A database it creates is an MLflow 3.17 database (MLflow opens it without migrating), and it opens MLflow's
(see :mod:`tureen.store._migrate` for every case).

Example:
    >>> store = SqlStore("sqlite:///:memory:")  # doctest: +SKIP
    >>> store.create_experiment("churn")  # doctest: +SKIP
    '1'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tureen.store._base import SqlBase
from tureen.store._common import to_uri
from tureen.store._engine import make_engine, masked
from tureen.store._migrate import DatabaseState, ensure_schema, inspect_database, migrate, upgrade_mlflow_database
from tureen.store._registry import RegistrySqlMixin
from tureen.store._tracking import LOGGED_MODELS_TAG, RUN_NAME_TAG, TrackingSqlMixin
from tureen.store._ui_reads import UiReadsMixin

__all__ = ["SqlStore", "upgrade_database", "database_revision", "DatabaseState", "RUN_NAME_TAG", "LOGGED_MODELS_TAG"]


class SqlStore(TrackingSqlMixin, RegistrySqlMixin, UiReadsMixin, SqlBase):
    """Tracking + logged models + registry on one database.

    Args:
        uri: ``sqlite:///path.db``, ``sqlite:///:memory:``, ``postgresql://user:pw@host:port/db``,
            ``mysql+pymysql://user:pw@host:port/db`` …
        artifact_root: where new experiments put artifacts (default: see
            :func:`tureen.tracking._config.default_artifact_root`).

    Raises:
        StoreUnavailableError: the database cannot be reached (after the connect timeout).
        InvalidStateError: the database has a schema tureen cannot use (an older MLflow revision, a newer
            one with incompatible changes, a newer tureen, or tables of something else).
    """


def _existing_engine(uri: str) -> Any:
    """An engine on ``uri``, refusing a SQLite file that does not exist (a typo must not create a database)."""
    from sqlalchemy.engine import make_url

    from tureen.exceptions import InvalidParameterError

    engine = make_engine(uri)
    if engine.dialect.name == "sqlite":
        database = make_url(uri).database or ""
        if database not in ("", ":memory:") and not Path(database).expanduser().is_file():
            engine.dispose()
            raise InvalidParameterError(f"No SQLite database at {database!r} (tureen creates one on first use; "
                                        "check the path)")
    return engine


def database_revision(uri: str) -> DatabaseState:
    """What the database at ``uri`` is, without changing it: its kind (``tureen``, ``mlflow``, ``mlflow-old``,
    ``legacy``, ...), MLflow's alembic revision and tureen's side revision.

    Example:
        >>> database_revision("sqlite:///mlflow.db").mlflow_revision  # doctest: +SKIP
        'dc11669786a5'
    """
    from tureen.store._base import SqlBase

    engine = _existing_engine(uri)
    probe = SqlBase.__new__(SqlBase)  # only for its error translation: no schema work on open
    probe.uri = uri
    try:
        with probe._translate_errors(), engine.connect() as conn:
            return inspect_database(conn)
    finally:
        engine.dispose()


def upgrade_database(uri: str, artifact_root: str | None = None, *, adopt: bool = True,
                     create: bool = True) -> DatabaseState:
    """Bring the database at ``uri`` to this tureen's layout, in place, and return what it is afterwards:
    create it (when ``create``), migrate tureen's old layout (``0001``-``0003``) to MLflow's schema, bring an
    MLflow database of an older revision to MLflow 3.17's head (when the difference is only added tables,
    columns and indexes; else a typed error names MLflow's own migration), and with ``adopt`` add tureen's
    side tables to an MLflow database (so alias history is kept; MLflow ignores them).

    Example:
        >>> upgrade_database("sqlite:////tmp/tureen-example.db")  # doctest: +SKIP
    """
    from tureen.store._base import SqlBase
    from tureen.tracking._config import default_artifact_root

    engine = make_engine(uri) if create else _existing_engine(uri)
    root = to_uri(artifact_root or default_artifact_root(uri))
    probe = SqlBase.__new__(SqlBase)
    probe.uri = uri
    try:
        with probe._translate_errors():
            upgrade_mlflow_database(engine, masked(uri))
            location = lambda eid: f"{root.rstrip('/')}/{eid}"  # noqa: E731
            migrate(engine, default_artifact_location=location, adopt=adopt)
            # what is left is a database tureen uses as it is, or one it refuses with the same error as on open
            return ensure_schema(engine, masked(uri), default_artifact_location=location)
    finally:
        engine.dispose()
