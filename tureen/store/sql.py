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

from tureen.store._base import SqlBase
from tureen.store._common import to_uri
from tureen.store._engine import make_engine
from tureen.store._migrate import migrate
from tureen.store._registry import RegistrySqlMixin
from tureen.store._tracking import LOGGED_MODELS_TAG, RUN_NAME_TAG, TrackingSqlMixin
from tureen.store._ui_reads import UiReadsMixin

__all__ = ["SqlStore", "upgrade_database", "RUN_NAME_TAG", "LOGGED_MODELS_TAG"]


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


def upgrade_database(uri: str, artifact_root: str | None = None) -> None:
    """Bring the database at ``uri`` to this tureen's layout: create it, migrate tureen's old layout to
    MLflow's schema, or adopt an MLflow database (add tureen's side tables so alias history is kept).

    Example:
        >>> upgrade_database("sqlite:////tmp/tureen-example.db")  # doctest: +SKIP
    """
    from tureen.tracking._config import default_artifact_root

    engine = make_engine(uri)
    root = to_uri(artifact_root or default_artifact_root(uri))
    try:
        migrate(engine, default_artifact_location=lambda eid: f"{root.rstrip('/')}/{eid}", adopt=True)
    finally:
        engine.dispose()
