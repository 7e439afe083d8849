"""``tureen runs list|describe|delete|restore``.

Attach: the click group ``runs`` as ``tureen runs`` (already listed in ``tureen.cli.COMMANDS``).
"""

from __future__ import annotations

import click

from tureen.tracking._display import (
    client_for,
    echo_json,
    echo_mapping,
    echo_table,
    json_option,
    tracking_uri_option,
    when,
)


@click.group()
def runs() -> None:
    """List, describe, delete and restore runs."""


def _experiment_ids(client, experiment_id: tuple[str, ...], experiment_name: tuple[str, ...]) -> list[str]:  # noqa: ANN001
    from tureen.exceptions import ResourceNotFoundError

    ids = list(experiment_id)
    for name in experiment_name:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise ResourceNotFoundError(f"Could not find experiment with name {name!r}")
        ids.append(exp.experiment_id)
    return ids or ["0"]


@runs.command("list")
@click.option("-x", "--experiment-id", multiple=True, help="Experiment id (repeatable; default 0).")
@click.option("-n", "--experiment-name", multiple=True, help="Experiment name (repeatable).")
@click.option("--filter", "filter_string", default="", help="e.g. \"metrics.auc > 0.9 AND params.C = '0.5'\"")
@click.option("--order-by", multiple=True, help="e.g. 'metrics.auc DESC' (repeatable).")
@click.option("--max-results", type=int, default=100, show_default=True)
@click.option("--view", type=click.Choice(["active", "deleted", "all"]), default="active", show_default=True)
@tracking_uri_option
@json_option
def list_(experiment_id: tuple[str, ...], experiment_name: tuple[str, ...], filter_string: str,
          order_by: tuple[str, ...], max_results: int, view: str, tracking_uri: str | None, as_json: bool) -> None:
    """List runs matching a filter (newest first)."""
    client = client_for(tracking_uri)
    view_type = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}[view]
    found = client.search_runs(_experiment_ids(client, experiment_id, experiment_name), filter_string, view_type,
                               max_results, list(order_by) or None)
    if as_json:
        echo_json(list(found))
        return
    from tureen.tracking._orphans import is_orphaned

    orphaned = {r.info.run_id for r in found if is_orphaned(r)}
    echo_table(["run id", "name", "status", "started", "metrics"],
               [[r.info.run_id, r.info.run_name, "RUNNING (orphaned)" if r.info.run_id in orphaned else r.info.status,
                 when(r.info.start_time),
                 ", ".join(f"{k}={v:g}" for k, v in sorted(r.data.metrics.items())[:4])] for r in found])
    if orphaned:
        where = "".join(f" -x {e}" for e in experiment_id) + "".join(f" -n {n!r}" for n in experiment_name)
        click.echo(f"\n{len(orphaned)} run(s) are RUNNING but the process that ran them is gone (killed?). "
                   f"Mark them failed with: tureen runs mark-failed --orphaned{where}")


@runs.command("describe")
@click.argument("run_id")
@tracking_uri_option
@json_option
def describe(run_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show a run: info, params, latest metrics, tags and logged models."""
    run = client_for(tracking_uri).get_run(run_id)
    if as_json:
        echo_json(run)
        return
    i = run.info
    click.echo(f"Run {i.run_id} ({i.run_name}) in experiment {i.experiment_id}")
    from tureen.tracking._orphans import is_orphaned

    if is_orphaned(run):
        click.echo(f"  WARNING: orphaned: RUNNING, but its process is gone; end it with: "
                   f"tureen runs mark-failed {i.run_id}")
    click.echo(f"  status: {i.status} ({i.lifecycle_stage})  started: {when(i.start_time)}  ended: {when(i.end_time)}")
    click.echo(f"  user: {i.user_id}  artifacts: {i.artifact_uri}")
    echo_mapping("params", run.data.params)
    echo_mapping("metrics", run.data.metrics)
    echo_mapping("tags", {k: v for k, v in run.data.tags.items() if k != "mlflow.log-model.history"})
    if run.outputs.model_outputs:
        click.echo("logged models:")
        for out in run.outputs.model_outputs:
            click.echo(f"  models:/{out.model_id} (step {out.step})")


@runs.command("delete")
@click.argument("run_id")
@tracking_uri_option
def delete(run_id: str, tracking_uri: str | None) -> None:
    """Delete a run (soft: restore undoes it)."""
    client_for(tracking_uri).delete_run(run_id)
    click.echo(f"Deleted run {run_id}")


@runs.command("restore")
@click.argument("run_id")
@tracking_uri_option
def restore(run_id: str, tracking_uri: str | None) -> None:
    """Restore a deleted run."""
    client_for(tracking_uri).restore_run(run_id)
    click.echo(f"Restored run {run_id}")


@runs.command("mark-failed")
@click.argument("run_ids", nargs=-1)
@click.option("--orphaned", is_flag=True, help="Every orphaned run (RUNNING, its process gone) of the experiments.")
@click.option("-x", "--experiment-id", multiple=True, help="With --orphaned: experiment id (repeatable; default 0).")
@click.option("-n", "--experiment-name", multiple=True, help="With --orphaned: experiment name (repeatable).")
@tracking_uri_option
def mark_failed(run_ids: tuple[str, ...], orphaned: bool, experiment_id: tuple[str, ...],
                experiment_name: tuple[str, ...], tracking_uri: str | None) -> None:
    """End runs as FAILED: the given RUN_IDS, or with --orphaned those a killed process left RUNNING."""
    from tureen.exceptions import InvalidParameterError, InvalidStateError
    from tureen.tracking._orphans import is_orphaned

    if bool(run_ids) == orphaned:
        raise click.UsageError("Give run ids or --orphaned (one of them)")
    client = client_for(tracking_uri)
    if orphaned:
        found = client.search_runs(_experiment_ids(client, experiment_id, experiment_name),
                                   "attributes.status = 'RUNNING'", "ACTIVE_ONLY", 50000)
        targets = [r.info.run_id for r in found if is_orphaned(r)]
    else:
        targets = []
        for run_id in run_ids:
            run = client.get_run(run_id)
            if run.info.status != "RUNNING":
                raise InvalidStateError(f"Run {run_id} is {run.info.status}, not RUNNING; nothing to mark")
            targets.append(run_id)
        if experiment_id or experiment_name:
            raise InvalidParameterError("-x/-n only apply with --orphaned")
    for run_id in targets:
        client.set_terminated(run_id, "FAILED")
        click.echo(f"Marked run {run_id} FAILED")
    if not targets:
        click.echo("No orphaned runs")
