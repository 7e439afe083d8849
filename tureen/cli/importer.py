"""``tureen import``: copy an MLflow file store (``mlruns/``) or a live MLflow tracking server into a SQL store."""

from __future__ import annotations

import click


@click.command("import")
@click.argument("source")
@click.option("--to", "uri", default=None, help="Target database URI (default: the tracking URI in effect).")
@click.option("--batch", default=500, show_default=True, help="Runs per transaction (the unit of resuming).")
@click.option("--copy-artifacts", is_flag=True, default=False,
              help="Copy every run's and logged model's artifacts into the target's artifact root (streamed, "
                   "checked by SHA-256) and point the imported runs at the copies, including runs an "
                   "earlier import without it left at their source locations. Without it, artifact "
                   "locations are kept as they are.")
def import_command(source: str, uri: str | None, batch: int, copy_artifacts: bool) -> None:
    """Import SOURCE into a SQL store: an MLflow file store (a directory such as ./mlruns, or file:///…) or a
    live MLflow tracking server (http://host:port).

    Idempotent (a second import adds nothing) and resumable (after a kill, run it again). Prints what was
    imported and whether a checksum of every param, tag, metric point, dataset input and logged model (and,
    with --copy-artifacts, of every artifact file) matches the source.

    Examples: tureen import ./mlruns --to sqlite:///mlflow.db ;
    tureen import http://127.0.0.1:5000 --to postgresql://u@db/tracking
    """
    from tureen.store._import import import_file_store
    from tureen.store._import_server import import_server
    from tureen.tracking._config import get_tracking_uri

    target = uri or get_tracking_uri()
    bar = click.progressbar(length=1, label="importing runs", file=click.get_text_stream("stderr"))

    def progress(done: int, total: int) -> None:
        bar.length = max(total, 1)
        bar.update(done - bar.pos)

    with bar:
        if source.startswith(("http://", "https://")):
            summary = import_server(source, target, batch=batch, progress=progress, copy_artifacts=copy_artifacts)
        else:
            summary = import_file_store(source, target, batch=batch, progress=progress,
                                        copy_artifacts=copy_artifacts)
    click.echo(f"experiments: {summary.experiments}  runs: {summary.runs_seen} seen, {summary.runs_added} added  "
               f"params: {summary.params}  tags: {summary.tags}  metric points: {summary.metric_points}  "
               f"dataset inputs: {summary.dataset_inputs}  logged models: {summary.logged_models} seen, "
               f"{summary.logged_models_added} added  model versions: {summary.model_versions}")
    if copy_artifacts:
        click.echo(f"artifacts copied: {summary.artifact_files} files, {summary.artifact_bytes} bytes  checksum "
                   f"source {summary.artifacts_source_checksum[:16]}  copies {summary.artifacts_copy_checksum[:16]}")
        if summary.runs_relocated or summary.logged_models_relocated:
            click.echo(f"imported before without copying, now copied and repointed: {summary.runs_relocated} "
                       f"runs, {summary.logged_models_relocated} logged models")
    moved = {k: v for k, v in summary.experiment_ids.items() if k != v}
    if moved:
        click.echo("experiment ids given new numbers: " + ", ".join(f"{k} -> {v}" for k, v in moved.items()))
    click.echo(f"checksum source {summary.source_checksum[:16]}  database {summary.database_checksum[:16]}  "
               f"{'verified' if summary.verified else 'MISMATCH'}")
    if not summary.verified:
        raise click.ClickException("the database does not match the source after the import")
