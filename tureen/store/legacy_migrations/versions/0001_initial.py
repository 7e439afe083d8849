"""Initial schema: experiments, runs, params, metrics, tags; registered models, versions, aliases.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_C = {"ondelete": "CASCADE", "onupdate": "CASCADE"}


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(500), nullable=False, unique=True),
        sa.Column("artifact_location", sa.String(2000), nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False, server_default="active"),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id", **_C), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("experiment_id", "key", name="experiment_tags_pk"),
    )
    op.create_table(
        "runs",
        sa.Column("run_uuid", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(250), nullable=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id", **_C), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
        sa.Column("artifact_uri", sa.String(2000), nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False, server_default="active"),
    )
    op.create_index("runs_experiment_start_idx", "runs", ["experiment_id", "start_time"])
    op.create_table(
        "params",
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid", **_C), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("run_uuid", "key", name="params_pk"),
    )
    op.create_index("params_key_value_idx", "params", ["key", "run_uuid"])
    op.create_table(
        "tags",
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid", **_C), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("run_uuid", "key", name="tags_pk"),
    )
    op.create_index("tags_key_idx", "tags", ["key", "run_uuid"])
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid", **_C), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("is_nan", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("model_id", sa.String(36), nullable=True),
    )
    op.create_index("metrics_run_key_step_idx", "metrics", ["run_uuid", "key", "step"])
    op.create_table(
        "latest_metrics",
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid", **_C), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("run_uuid", "key", name="latest_metrics_pk"),
    )
    op.create_index("latest_metrics_key_value_idx", "latest_metrics", ["key", "value"])
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("next_version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_table(
        "registered_model_tags",
        sa.Column("name", sa.String(256), sa.ForeignKey("registered_models.name", **_C), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("name", "key", name="registered_model_tags_pk"),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(256), sa.ForeignKey("registered_models.name", **_C), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("current_stage", sa.String(20), nullable=False),
        sa.Column("source", sa.String(2000), nullable=True),
        sa.Column("storage_location", sa.String(2000), nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("run_link", sa.String(2000), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_message", sa.String(500), nullable=True),
        sa.Column("model_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("name", "version", name="model_versions_pk"),
    )
    op.create_index("model_versions_stage_idx", "model_versions", ["name", "current_stage", "version"])
    op.create_table(
        "model_version_tags",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("name", "version", "key", name="model_version_tags_pk"),
        sa.ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"],
                                name="model_version_tags_fk", **_C),
    )
    op.create_table(
        "registered_model_aliases",
        sa.Column("name", sa.String(256), sa.ForeignKey("registered_models.name", **_C), nullable=False),
        sa.Column("alias", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", "alias", name="registered_model_aliases_pk"),
    )


def downgrade() -> None:
    for table in ("registered_model_aliases", "model_version_tags", "model_versions", "registered_model_tags",
                  "registered_models", "latest_metrics", "metrics", "tags", "params", "runs",
                  "experiment_tags", "experiments"):
        op.drop_table(table)
