"""Migrating a database of tureen's old layout (side revision ``0003``) in place to MLflow's schema (``0004``).

Runs inside the caller's transaction, under the schema lock (:func:`tureen.store._migrate.migrate`): either
everything is converted or nothing changed. The old tables are moved aside (a ``tureen_legacy`` schema on
PostgreSQL; renamed ``tureen_legacy_<name>`` elsewhere), MLflow's tables are created, every row is copied
across, and the old tables are dropped. What changes in the copy, and why nothing is lost:

* metric points: MLflow's key is the whole point, so a point logged twice with the same key, value,
  timestamp and step is kept once (the history is otherwise the same); points of a logged model are also
  recorded in ``logged_model_metrics``, where MLflow keeps that link;
* a deleted experiment's deletion time becomes its ``last_update_time`` (MLflow has no ``deleted_time``
  there; restoring still brings back exactly the runs deleted with it);
* run outputs become MLflow's ``RUN_OUTPUT -> MODEL_OUTPUT`` edges in ``inputs``; logged model status
  strings become MLflow's enum numbers;
* a deleted model version (the old layout removed the row and kept a ``next_version`` counter) becomes a
  row in MLflow's ``Deleted_Internal`` stage, so its number is still never given out again;
* the model id of a version is its ``models:/m-…`` source (MLflow's table has no column for it);
* alias history moves to ``tureen_alias_history``.
"""

from __future__ import annotations

import uuid
from typing import Any

from tureen.store import _schema as s

LEGACY_TABLES = (  # children before parents (the order to drop them in)
    "registered_model_alias_history", "registered_model_aliases", "model_version_tags", "model_versions",
    "registered_model_tags", "registered_models", "input_tags", "inputs", "datasets", "run_model_outputs",
    "logged_model_params", "logged_model_tags", "logged_models", "latest_metrics", "metrics", "tags", "params",
    "runs", "experiment_tags", "experiments",
)


def _move_aside(conn: Any) -> dict[str, str]:
    """Move the old tables out of the way of MLflow's; return old name -> where it is now."""
    from sqlalchemy import inspect

    present = set(inspect(conn).get_table_names())
    tables = [t for t in LEGACY_TABLES if t in present]
    if conn.dialect.name == "postgresql":
        # a schema of its own: index and constraint names there cannot clash with MLflow's
        conn.exec_driver_sql("CREATE SCHEMA tureen_legacy")
        for t in tables:
            conn.exec_driver_sql(f'ALTER TABLE "{t}" SET SCHEMA tureen_legacy')
        return {t: f'tureen_legacy."{t}"' for t in tables}
    where = {}
    for t in tables:
        conn.exec_driver_sql(f'ALTER TABLE "{t}" RENAME TO "tureen_legacy_{t}"')
        where[t] = f'"tureen_legacy_{t}"'
    if conn.dialect.name == "sqlite":
        # index names are global in SQLite: drop the old ones (the tables are only read from now on)
        for (name,) in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name LIKE 'tureen_legacy_%'").all():
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return where


def _drop(conn: Any, where: dict[str, str]) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP SCHEMA tureen_legacy CASCADE")
        return
    for t in LEGACY_TABLES:
        if t in where:
            conn.exec_driver_sql(f"DROP TABLE {where[t]}")


def convert_legacy(conn: Any) -> None:
    """Convert the old layout on ``conn`` (already at ``0003``) to MLflow's schema + side tables."""
    from sqlalchemy import text

    from tureen.store._migrate import add_side_tables, create_mlflow_tables

    L = _move_aside(conn)

    def run(sql: str, **params: Any) -> None:
        conn.execute(text(sql.format(**L)), params)

    create_mlflow_tables(conn)
    conn.exec_driver_sql(f"CREATE TABLE {s.MLFLOW_VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
                         "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
    conn.execute(text(f"INSERT INTO {s.MLFLOW_VERSION_TABLE} (version_num) VALUES (:v)"),
                 {"v": s.MLFLOW_HEAD_REVISION})
    add_side_tables(conn)

    # -- tracking (set-based copies: these tables can be large) --------------------------------------------
    run("INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
        "last_update_time) SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
        "CASE WHEN lifecycle_stage = 'deleted' AND deleted_time IS NOT NULL THEN deleted_time "
        "ELSE last_update_time END FROM {experiments}")
    run("INSERT INTO experiment_tags (key, value, experiment_id) SELECT key, value, experiment_id "
        "FROM {experiment_tags}")
    run("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
        "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
        "SELECT run_uuid, name, 'UNKNOWN', '', '', user_id, status, start_time, end_time, '', lifecycle_stage, "
        "artifact_uri, experiment_id, deleted_time FROM {runs}")
    run("INSERT INTO params (key, value, run_uuid) SELECT key, value, run_uuid FROM {params}")
    run("INSERT INTO tags (key, value, run_uuid) SELECT key, value, run_uuid FROM {tags}")
    run("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
        "SELECT DISTINCT key, value, timestamp, run_uuid, step, is_nan FROM {metrics}")
    run("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
        "SELECT key, value, timestamp, step, is_nan, run_uuid FROM {latest_metrics}")
    if "datasets" in L:
        run("INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, "
            "dataset_schema, dataset_profile) SELECT dataset_uuid, experiment_id, name, digest, dataset_source_type, "
            "dataset_source, dataset_schema, dataset_profile FROM {datasets}")
        run("INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) "
            "SELECT input_uuid, source_type, source_id, destination_type, destination_id, step FROM {inputs}")
        run("INSERT INTO input_tags (input_uuid, name, value) SELECT input_uuid, name, value FROM {input_tags}")
    if "logged_models" in L:
        run("INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
            "last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) "
            "SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
            "last_updated_timestamp_ms, CASE status " + " ".join(
                f"WHEN '{k}' THEN {n}" for k, n in s.LOGGED_MODEL_STATUS_TO_INT.items()) +
            " ELSE 0 END, lifecycle_stage, model_type, source_run_id, status_message FROM {logged_models}")
        run("INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) "
            "SELECT t.model_id, m.experiment_id, t.key, COALESCE(t.value, '') FROM {logged_model_tags} t "
            "JOIN {logged_models} m ON m.model_id = t.model_id")
        run("INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) "
            "SELECT p.model_id, m.experiment_id, p.key, p.value FROM {logged_model_params} p "
            "JOIN {logged_models} m ON m.model_id = p.model_id")
        run("INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, "
            "metric_value, experiment_id, run_id) "
            "SELECT x.model_id, x.key, x.timestamp, x.step, MAX(CASE WHEN x.is_nan THEN NULL ELSE x.value END), "
            "MAX(r.experiment_id), x.run_uuid FROM {metrics} x JOIN {runs} r ON r.run_uuid = x.run_uuid "
            "JOIN {logged_models} m ON m.model_id = x.model_id "
            "GROUP BY x.model_id, x.key, x.timestamp, x.step, x.run_uuid")
        outputs = conn.execute(text("SELECT run_uuid, model_id, step FROM {run_model_outputs}".format(**L))).all()
        if outputs:
            conn.execute(s.inputs.insert(), [
                {"input_uuid": uuid.uuid4().hex, "source_type": "RUN_OUTPUT", "source_id": o.run_uuid,
                 "destination_type": "MODEL_OUTPUT", "destination_id": o.model_id, "step": o.step} for o in outputs])

    # -- registry -------------------------------------------------------------------------------------------
    run("INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
        "SELECT name, creation_time, last_updated_time, description FROM {registered_models}")
    run("INSERT INTO registered_model_tags (key, value, name) SELECT key, value, name FROM {registered_model_tags}")
    run("INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, "
        "current_stage, source, run_id, status, status_message, run_link, storage_location) "
        "SELECT name, version, creation_time, last_updated_time, description, user_id, current_stage, source, "
        "run_id, status, status_message, run_link, storage_location FROM {model_versions}")
    # numbers the old layout gave out and then deleted: MLflow's deleted-version rows keep them taken
    used: dict[str, set[int]] = {}
    for name, version in conn.execute(text("SELECT name, version FROM {model_versions}".format(**L))).all():
        used.setdefault(name, set()).add(int(version))
    gaps = []
    for name, next_version, updated in conn.execute(
            text("SELECT name, next_version, last_updated_time FROM {registered_models}".format(**L))).all():
        for n in range(1, int(next_version)):
            if n not in used.get(name, set()):
                gaps.append({"name": name, "version": n, "creation_time": updated, "last_updated_time": updated,
                             "current_stage": s.STAGE_DELETED, "source": "REDACTED-SOURCE-PATH",
                             "run_id": "REDACTED-RUN-ID", "run_link": "REDACTED-RUN-LINK", "status": "READY"})
    if gaps:
        conn.execute(s.model_versions.insert(), gaps)
    run("INSERT INTO model_version_tags (key, value, name, version) SELECT key, value, name, version "
        "FROM {model_version_tags}")
    run("INSERT INTO registered_model_aliases (alias, version, name) SELECT alias, version, name "
        "FROM {registered_model_aliases}")
    if "registered_model_alias_history" in L:
        run("INSERT INTO tureen_alias_history (id, name, alias, version, timestamp, user_id) "
            "SELECT id, name, alias, version, timestamp, user_id FROM {registered_model_alias_history}")

    if conn.dialect.name == "postgresql":
        # rows were copied with their ids: move the id sequences past them
        for table, column in (("experiments", "experiment_id"), ("tureen_alias_history", "id")):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)")
    _drop(conn, L)
