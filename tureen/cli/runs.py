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
    echo_table(["run id", "name", "status", "started", "metrics"],
               [[r.info.run_id, r.info.run_name, r.info.status, when(r.info.start_time),
                 ", ".join(f"{k}={v:g}" for k, v in sorted(r.data.metrics.items())[:4])] for r in found])


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
