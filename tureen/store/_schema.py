"""The tables the SQL store reads and writes: MLflow's own schema, plus tureen's ``tureen_`` side tables.

MLflow's tables (every one of them, generated in :mod:`tureen.store._mlflow_tables`) are the store's
tables: a database is one database for both tools. What only tureen keeps lives in side tables whose names
start with ``tureen_``; MLflow never looks at them (its checks only ask that *its* tables exist), and they
carry their own version table, ``tureen_alembic_version``, so tureen's side of the layout can evolve without
touching MLflow's ``alembic_version``.

Revisions of tureen's side:

* ``0001``–``0003``: the layout before tureen used MLflow's schema (tureen-owned tables named like
  MLflow's); migrated in place to ``0004`` by :mod:`tureen.store._convert`.
* ``0004``: MLflow 3.17's schema + ``tureen_alias_history``.

Example:
    >>> from tureen.store import _schema as s  # doctest: +SKIP
    >>> s.runs.c.run_uuid.name  # doctest: +SKIP
    'run_uuid'
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    text,
)

from tureen.store._mlflow_tables import MLFLOW_HEAD_REVISION, TRIGGERS, metadata

__all__ = ["MLFLOW_HEAD_REVISION", "TUREEN_REVISION", "VERSION_TABLE", "MLFLOW_VERSION_TABLE", "metadata",
           "side_metadata"]

#: tureen's side-table revision this code expects (see the module docstring)
TUREEN_REVISION = "0004"
HEAD_REVISION = TUREEN_REVISION  # the name older code and tests use
VERSION_TABLE = "tureen_alembic_version"
MLFLOW_VERSION_TABLE = "alembic_version"
DEFAULT_WORKSPACE = "default"
#: the stage MLflow gives a deleted model version (the row stays so its number is never given out again)
STAGE_DELETED = "Deleted_Internal"

_t = metadata.tables
experiments = _t["experiments"]
experiment_tags = _t["experiment_tags"]
runs = _t["runs"]
params = _t["params"]
tags = _t["tags"]
metrics = _t["metrics"]
latest_metrics = _t["latest_metrics"]
datasets = _t["datasets"]
inputs = _t["inputs"]
input_tags = _t["input_tags"]
logged_models = _t["logged_models"]
logged_model_tags = _t["logged_model_tags"]
logged_model_params = _t["logged_model_params"]
logged_model_metrics = _t["logged_model_metrics"]
registered_models = _t["registered_models"]
registered_model_tags = _t["registered_model_tags"]
model_versions = _t["model_versions"]
model_version_tags = _t["model_version_tags"]
registered_model_aliases = _t["registered_model_aliases"]

# -- tureen's side tables ---------------------------------------------------------------------------------
side_metadata = MetaData()

tureen_version = Table(
    VERSION_TABLE, side_metadata,
    Column("version_num", String(32), primary_key=True),
)

# Which version an alias pointed to, and when (version NULL = the alias was deleted). It follows its
# registered model: renamed with it (ON UPDATE CASCADE) and gone with it (ON DELETE CASCADE), also when
# MLflow is the one renaming or deleting.
alias_history = Table(
    "tureen_alias_history", side_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace", String(63), nullable=False, server_default=text(f"'{DEFAULT_WORKSPACE}'")),
    Column("name", String(256), nullable=False),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("user_id", String(256), nullable=True),
    ForeignKeyConstraint(["workspace", "name"], ["registered_models.workspace", "registered_models.name"],
                         name="fk_tureen_alias_history_registered_models", ondelete="CASCADE",
                         onupdate="CASCADE"),
    Index("idx_tureen_alias_history_name_alias", "workspace", "name", "alias", "id"),
)
# the side tables refer to MLflow's: make the referred tables known to the side metadata
for _name in ("registered_models",):
    _t[_name].to_metadata(side_metadata)

SIDE_TABLES = (VERSION_TABLE, "tureen_alias_history")

# -- triggers ---------------------------------------------------------------------------------------------
# MLflow guards the two columns of ``secrets`` that its encryption binds to (its AAD) with a trigger; a
# database tureen creates has the same trigger, written here per dialect.
_SECRETS_MESSAGE = "secrets.secret_id and secrets.secret_name cannot be changed"
TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        f"CREATE TRIGGER {TRIGGERS[0]} BEFORE UPDATE ON secrets FOR EACH ROW "
        "WHEN OLD.secret_id != NEW.secret_id OR OLD.secret_name != NEW.secret_name "
        f"BEGIN SELECT RAISE(ABORT, '{_SECRETS_MESSAGE}'); END",
    ],
    "postgresql": [
        f"CREATE OR REPLACE FUNCTION {TRIGGERS[0]}() RETURNS TRIGGER AS $$ BEGIN "
        "IF OLD.secret_id != NEW.secret_id OR OLD.secret_name != NEW.secret_name THEN "
        f"RAISE EXCEPTION '{_SECRETS_MESSAGE}'; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql",
        f"CREATE TRIGGER {TRIGGERS[0]} BEFORE UPDATE ON secrets FOR EACH ROW EXECUTE FUNCTION {TRIGGERS[0]}()",
    ],
    "mysql": [
        f"CREATE TRIGGER {TRIGGERS[0]} BEFORE UPDATE ON secrets FOR EACH ROW BEGIN "
        "IF OLD.secret_id != NEW.secret_id OR OLD.secret_name != NEW.secret_name THEN "
        f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{_SECRETS_MESSAGE}'; END IF; END",
    ],
}
TRIGGER_DDL["mariadb"] = TRIGGER_DDL["mysql"]

# What MLflow's migrations leave on MySQL/MariaDB that its ORM (and so the generated tables) does not say:
# wider text types, one column its migration left nullable there, and the indexes MySQL made for foreign keys
# MLflow later replaced. Applied after the tables are created, so a tureen database matches MLflow's there too.
MYSQL_FIXUPS = [
    "ALTER TABLE datasets MODIFY dataset_schema MEDIUMTEXT NULL, MODIFY dataset_profile MEDIUMTEXT NULL",
    "ALTER TABLE spans MODIFY content LONGTEXT NOT NULL",
    "ALTER TABLE jobs MODIFY job_name VARCHAR(500) NULL",
    "CREATE INDEX name ON model_version_tags (name, version)",
    "CREATE INDEX name ON registered_model_tags (name)",
]

# -- value codes MLflow stores ----------------------------------------------------------------------------
#: logged model status as stored in ``logged_models.status`` (MLflow's enum numbers)
LOGGED_MODEL_STATUS_TO_INT = {"LOGGED_MODEL_STATUS_UNSPECIFIED": 0, "LOGGED_MODEL_PENDING": 1,
                              "LOGGED_MODEL_READY": 2, "LOGGED_MODEL_UPLOAD_FAILED": 3}
LOGGED_MODEL_STATUS_FROM_INT = {v: k for k, v in LOGGED_MODEL_STATUS_TO_INT.items()}
