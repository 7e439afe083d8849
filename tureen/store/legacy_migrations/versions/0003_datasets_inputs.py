"""Dataset inputs of runs: MLflow's ``datasets``, ``inputs`` and ``input_tags`` tables.

Revision ID: 0003
Revises: 0002

Only new tables: a database at 0002 migrates in place, its data untouched (SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("dataset_uuid", sa.String(36), nullable=False),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("dataset_source_type", sa.String(36), nullable=False),
        sa.Column("dataset_source", sa.Text, nullable=False),
        sa.Column("dataset_schema", sa.Text, nullable=True),
        sa.Column("dataset_profile", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("experiment_id", "name", "digest", name="dataset_pk"),
    )
    op.create_index("index_datasets_dataset_uuid", "datasets", ["dataset_uuid"])
    op.create_index("index_datasets_experiment_id_dataset_source_type", "datasets",
                    ["experiment_id", "dataset_source_type"])
    op.create_table(
        "inputs",
        sa.Column("input_uuid", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("destination_type", sa.String(36), nullable=False),
        sa.Column("destination_id", sa.String(36), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("source_type", "source_id", "destination_type", "destination_id", name="inputs_pk"),
    )
    op.create_index("index_inputs_input_uuid", "inputs", ["input_uuid"])
    op.create_index("index_inputs_destination_type_destination_id_source_type", "inputs",
                    ["destination_type", "destination_id", "source_type"])
    op.create_table(
        "input_tags",
        sa.Column("input_uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("input_uuid", "name", name="input_tags_pk"),
    )


def downgrade() -> None:
    for table in ("input_tags", "inputs", "datasets"):
        op.drop_table(table)
