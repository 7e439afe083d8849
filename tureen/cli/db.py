"""``tureen db``: the revision of a tracking database, and upgrading one in place.

Attach: the click group ``db`` as ``tureen db`` (listed in ``tureen.cli.COMMANDS``).
"""

from __future__ import annotations

import click


def _describe(state: object) -> str:
    from tureen.store._schema import MLFLOW_HEAD_REVISION, TUREEN_REVISION

    kind = getattr(state, "kind")
    mlflow_rev = getattr(state, "mlflow_revision") or "none"
    tureen_rev = getattr(state, "tureen_revision") or "none"
    meaning = {
        "empty": "empty (tureen creates MLflow 3.17's schema on first use)",
        "tureen": "tureen's, at MLflow 3.17's head: up to date",
        "mlflow": "MLflow's, at MLflow 3.17's head: up to date (no tureen side tables; `tureen db upgrade` adds them)",
        "mlflow-old": "MLflow's, an older revision: run `tureen db upgrade`",
        "mlflow-newer": "MLflow's, a newer revision than MLflow 3.17's",
        "legacy": "tureen's layout before MLflow's schema: run `tureen db upgrade`",
        "tureen-newer": "tureen's, from a newer tureen: upgrade tureen",
        "foreign": "not a tracking database (tables neither tureen nor MLflow created)",
    }.get(kind, kind)
    return (f"MLflow revision: {mlflow_rev}  (MLflow 3.17's head: {MLFLOW_HEAD_REVISION})\n"
            f"tureen side revision: {tureen_rev}  (this tureen's: {TUREEN_REVISION})\n"
            f"state: {meaning}")


@click.group("db")
def db() -> None:
    """Show and upgrade the schema revision of a tracking database (SQLite, PostgreSQL, MySQL)."""


@db.command("current")
@click.argument("uri")
def current(uri: str) -> None:
    """Show the schema revision of the database at URI, changing nothing.

    Example: tureen db current sqlite:///mlflow.db
    """
    from tureen.store.sql import database_revision

    click.echo(_describe(database_revision(uri)))


@db.command("upgrade")
@click.argument("uri")
@click.option("--side-tables/--no-side-tables", default=True, show_default=True,
              help="Add tureen's side tables (alias history) to an MLflow database; MLflow ignores them.")
def upgrade(uri: str, side_tables: bool) -> None:
    """Upgrade the database at URI in place to the schema this tureen reads and writes (MLflow 3.17's).

    An MLflow database of an older revision gets the tables, columns and indexes it lacks (when that is
    all that differs; otherwise nothing changes and the error says so); tureen's old layout (revisions
    0001-0003) is migrated. Back the database up first. A SQLite file that does not exist is refused.

    Example: tureen db upgrade sqlite:///mlflow.db
    """
    from tureen.store.sql import database_revision, upgrade_database

    before = database_revision(uri)
    after = upgrade_database(uri, adopt=side_tables, create=False)
    if (before.mlflow_revision, before.tureen_revision) == (after.mlflow_revision, after.tureen_revision):
        click.echo("already up to date")
    else:
        click.echo(f"upgraded: MLflow revision {before.mlflow_revision or 'none'} -> {after.mlflow_revision}, "
                   f"tureen side revision {before.tureen_revision or 'none'} -> {after.tureen_revision or 'none'}")
    click.echo(_describe(after))
