"""The SQL schema of the tracking and registry store, as SQLAlchemy Core tables.

This module describes the *current* (head) schema. The alembic scripts in ``tureen/tracking/migrations``
build the same tables step by step; a test compares the two so they cannot drift apart.
Names follow MLflow's data model (``run_uuid``, ``lifecycle_stage``, ``current_stage`` …) so that the
entities map one to one, but the tables are tureen's own: an MLflow database is not read by this schema.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

#: the alembic revision this code expects; the store migrates older databases up to it
HEAD_REVISION = "0003"
VERSION_TABLE = "tureen_alembic_version"

metadata = MetaData()

_CASCADE = {"ondelete": "CASCADE", "onupdate": "CASCADE"}

experiments = Table(
    "experiments", metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", String(2000), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, server_default="active"),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
)

experiment_tags = Table(
    "experiment_tags", metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", **_CASCADE), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=True),
    PrimaryKeyConstraint("experiment_id", "key", name="experiment_tags_pk"),
)

runs = Table(
    "runs", metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("name", String(250), nullable=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", **_CASCADE), nullable=False),
    Column("user_id", String(256), nullable=True),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("deleted_time", BigInteger, nullable=True),
    Column("artifact_uri", String(2000), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, server_default="active"),
    Index("runs_experiment_start_idx", "experiment_id", "start_time"),
)

params = Table(
    "params", metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", **_CASCADE), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", name="params_pk"),
    Index("params_key_value_idx", "key", "run_uuid"),
)

tags = Table(
    "tags", metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", **_CASCADE), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=True),
    PrimaryKeyConstraint("run_uuid", "key", name="tags_pk"),
    Index("tags_key_idx", "key", "run_uuid"),
)

# Every logged point is kept (full history); a surrogate id means identical points logged twice are
# both kept, as a user who logs twice expects.
metrics = Table(
    "metrics", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", **_CASCADE), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False, server_default="0"),
    Column("is_nan", Boolean, nullable=False, server_default="0"),
    Column("model_id", String(36), nullable=True),
    Index("metrics_run_key_step_idx", "run_uuid", "key", "step"),
)

# The latest point per (run, key): greatest (step, timestamp, value), kept up to date on every write so
# that searching and ordering by a metric is one indexed lookup.
latest_metrics = Table(
    "latest_metrics", metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", **_CASCADE), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("is_nan", Boolean, nullable=False, server_default="0"),
    PrimaryKeyConstraint("run_uuid", "key", name="latest_metrics_pk"),
    Index("latest_metrics_key_value_idx", "key", "value"),
)

registered_models = Table(
    "registered_models", metadata,
    Column("name", String(256), primary_key=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("next_version", Integer, nullable=False, server_default="1"),
)

registered_model_tags = Table(
    "registered_model_tags", metadata,
    Column("name", String(256), ForeignKey("registered_models.name", **_CASCADE), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=True),
    PrimaryKeyConstraint("name", "key", name="registered_model_tags_pk"),
)

model_versions = Table(
    "model_versions", metadata,
    Column("name", String(256), ForeignKey("registered_models.name", **_CASCADE), nullable=False),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("current_stage", String(20), nullable=False),
    Column("source", String(2000), nullable=True),
    Column("storage_location", String(2000), nullable=True),
    Column("run_id", String(32), nullable=True),
    Column("run_link", String(2000), nullable=True),
    Column("status", String(20), nullable=False),
    Column("status_message", String(500), nullable=True),
    Column("model_id", String(36), nullable=True),
    PrimaryKeyConstraint("name", "version", name="model_versions_pk"),
    Index("model_versions_stage_idx", "name", "current_stage", "version"),
)

model_version_tags = Table(
    "model_version_tags", metadata,
    Column("name", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=True),
    PrimaryKeyConstraint("name", "version", "key", name="model_version_tags_pk"),
    ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"],
                         name="model_version_tags_fk", **_CASCADE),
)

registered_model_aliases = Table(
    "registered_model_aliases", metadata,
    Column("name", String(256), ForeignKey("registered_models.name", **_CASCADE), nullable=False),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("name", "alias", name="registered_model_aliases_pk"),
)

# -- revision 0002 ----------------------------------------------------------------------------------------

# Which version an alias pointed to, and when (version NULL = the alias was deleted). Kept when the
# registered model is deleted? No: it cascades with the model, like everything else of the model.
alias_history = Table(
    "registered_model_alias_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), ForeignKey("registered_models.name", **_CASCADE), nullable=False),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("user_id", String(256), nullable=True),
    Index("alias_history_name_alias_idx", "name", "alias", "id"),
)

logged_models = Table(
    "logged_models", metadata,
    Column("model_id", String(36), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", **_CASCADE), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(2000), nullable=False),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, server_default="active"),
    Column("model_type", String(500), nullable=True),
    Column("source_run_id", String(32), nullable=True),
    Column("status_message", String(1000), nullable=True),
    Index("logged_models_run_name_idx", "source_run_id", "name"),
)

logged_model_tags = Table(
    "logged_model_tags", metadata,
    Column("model_id", String(36), ForeignKey("logged_models.model_id", **_CASCADE), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=True),
    PrimaryKeyConstraint("model_id", "key", name="logged_model_tags_pk"),
)

logged_model_params = Table(
    "logged_model_params", metadata,
    Column("model_id", String(36), ForeignKey("logged_models.model_id", **_CASCADE), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key", name="logged_model_params_pk"),
)

run_model_outputs = Table(
    "run_model_outputs", metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", **_CASCADE), nullable=False),
    Column("model_id", String(36), ForeignKey("logged_models.model_id", **_CASCADE), nullable=False),
    Column("step", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("run_uuid", "model_id", name="run_model_outputs_pk"),
)

# -- revision 0003 ----------------------------------------------------------------------------------------
# Dataset inputs of runs, with MLflow's tables, columns and keys. A dataset is stored once per experiment
# (keyed by name and digest) and linked to runs through ``inputs`` (source DATASET -> destination RUN);
# ``input_tags`` carry the input's tags such as ``mlflow.data.context``. As in MLflow's migrated database,
# ``inputs`` and ``input_tags`` have no foreign keys: their ids name rows of several tables.

datasets = Table(
    "datasets", metadata,
    Column("dataset_uuid", String(36), nullable=False),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("dataset_source_type", String(36), nullable=False),
    Column("dataset_source", Text, nullable=False),
    Column("dataset_schema", Text, nullable=True),
    Column("dataset_profile", Text, nullable=True),
    PrimaryKeyConstraint("experiment_id", "name", "digest", name="dataset_pk"),
    Index("index_datasets_dataset_uuid", "dataset_uuid"),
    Index("index_datasets_experiment_id_dataset_source_type", "experiment_id", "dataset_source_type"),
)

inputs = Table(
    "inputs", metadata,
    Column("input_uuid", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source_id", String(36), nullable=False),
    Column("destination_type", String(36), nullable=False),
    Column("destination_id", String(36), nullable=False),
    Column("step", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("source_type", "source_id", "destination_type", "destination_id", name="inputs_pk"),
    Index("index_inputs_input_uuid", "input_uuid"),
    Index("index_inputs_destination_type_destination_id_source_type", "destination_type", "destination_id",
          "source_type"),
)

input_tags = Table(
    "input_tags", metadata,
    Column("input_uuid", String(36), nullable=False),
    Column("name", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("input_uuid", "name", name="input_tags_pk"),
)
