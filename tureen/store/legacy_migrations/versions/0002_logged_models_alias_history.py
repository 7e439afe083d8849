"""Logged models (MLflow 3.x), run model outputs, and the registered-model alias history.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_C = {"ondelete": "CASCADE", "onupdate": "CASCADE"}


def upgrade() -> None:
    op.create_table(
        "registered_model_alias_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256), sa.ForeignKey("registered_models.name", **_C), nullable=False),
        sa.Column("alias", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(256), nullable=True),
    )
    op.create_index("alias_history_name_alias_idx", "registered_model_alias_history", ["name", "alias", "id"])
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(36), primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id", **_C), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_location", sa.String(2000), nullable=False),
        sa.Column("creation_timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False, server_default="active"),
        sa.Column("model_type", sa.String(500), nullable=True),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("status_message", sa.String(1000), nullable=True),
    )
    op.create_index("logged_models_run_name_idx", "logged_models", ["source_run_id", "name"])
    op.create_table(
        "logged_model_tags",
        sa.Column("model_id", sa.String(36), sa.ForeignKey("logged_models.model_id", **_C), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("model_id", "key", name="logged_model_tags_pk"),
    )
    op.create_table(
        "logged_model_params",
        sa.Column("model_id", sa.String(36), sa.ForeignKey("logged_models.model_id", **_C), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "key", name="logged_model_params_pk"),
    )
    op.create_table(
        "run_model_outputs",
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid", **_C), nullable=False),
        sa.Column("model_id", sa.String(36), sa.ForeignKey("logged_models.model_id", **_C), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("run_uuid", "model_id", name="run_model_outputs_pk"),
    )


def downgrade() -> None:
    for table in ("run_model_outputs", "logged_model_params", "logged_model_tags", "logged_models",
                  "registered_model_alias_history"):
        op.drop_table(table)
