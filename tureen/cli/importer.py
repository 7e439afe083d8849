"""``tureen import``: copy an MLflow file store (``mlruns/``) into a SQL store (``tureen db upgrade`` too)."""

from __future__ import annotations

import click


@click.command("import")
@click.argument("source")
@click.option("--to", "uri", default=None, help="Target database URI (default: the tracking URI in effect).")
@click.option("--batch", default=500, show_default=True, help="Runs per transaction (the unit of resuming).")
def import_command(source: str, uri: str | None, batch: int) -> None:
    """Import the MLflow file store SOURCE (a directory such as ./mlruns, or file:///…) into a SQL store.

    Idempotent (a second import adds nothing) and resumable (after a kill, run it again). Prints what was
    imported and whether a checksum of every param, tag and metric point matches the source.

    Example: tureen import ./mlruns --to sqlite:///mlflow.db
    """
    from tureen.store._import import import_file_store
    from tureen.tracking._config import get_tracking_uri

    target = uri or get_tracking_uri()
    bar = click.progressbar(length=1, label="importing runs", file=click.get_text_stream("stderr"))

    def progress(done: int, total: int) -> None:
        bar.length = max(total, 1)
        bar.update(done - bar.pos)

    with bar:
        summary = import_file_store(source, target, batch=batch, progress=progress)
    click.echo(f"experiments: {summary.experiments}  runs: {summary.runs_seen} seen, {summary.runs_added} added  "
               f"params: {summary.params}  tags: {summary.tags}  metric points: {summary.metric_points}  "
               f"model versions: {summary.model_versions}")
    moved = {k: v for k, v in summary.experiment_ids.items() if k != v}
    if moved:
        click.echo("experiment ids given new numbers: " + ", ".join(f"{k} -> {v}" for k, v in moved.items()))
    click.echo(f"checksum source {summary.source_checksum[:16]}  database {summary.database_checksum[:16]}  "
               f"{'verified' if summary.verified else 'MISMATCH'}")
    click.echo("not imported: dataset inputs and logged models of the file store")
    if not summary.verified:
        raise click.ClickException("the database does not match the source after the import")
