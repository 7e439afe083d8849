"""alembic environment: always run on a connection handed over by the store (never from a URL here)."""

from __future__ import annotations

from alembic import context

from tureen.tracking.stores._schema import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable when someone runs the alembic CLI by hand
    raise RuntimeError("tureen migrations run through tureen.tracking.stores.sql.upgrade_database(uri)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
