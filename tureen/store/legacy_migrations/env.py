"""alembic environment of tureen's old layout (revisions 0001-0003), run only on a connection handed over by
the store while it migrates such a database (see :mod:`tureen.store._migrate`)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable when someone runs the alembic CLI by hand
    raise RuntimeError("tureen migrations run through tureen.store.sql.upgrade_database(uri)")

context.configure(
    connection=connection,
    target_metadata=None,
    version_table="tureen_alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
