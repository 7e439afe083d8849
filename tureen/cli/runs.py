"""``tureen runs list|describe|create|delete|restore|set-tag|delete-tag|set-description|mark-failed``.

Each command takes tureen's positional spelling (``tureen runs describe RUN_ID``) and MLflow's options
(``--run-id``, ``--experiment-id``, ``-v/--view``), so MLflow's CLI lines work unchanged.

Attach: the click group ``runs`` as ``tureen runs`` (already listed in ``tureen.cli.COMMANDS``).
"""

from __future__ import annotations

import click

from tureen.cli._pick import VIEW_CHOICES, key_values, pick, view_type
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
@click.option("-v", "--view", type=click.Choice(VIEW_CHOICES, case_sensitive=False), default="active",
              show_default=True, help="Which runs (MLflow's active_only/deleted_only work too).")
@tracking_uri_option
@json_option
def list_(experiment_id: tuple[str, ...], experiment_name: tuple[str, ...], filter_string: str,
          order_by: tuple[str, ...], max_results: int, view: str, tracking_uri: str | None, as_json: bool) -> None:
    """List runs matching a filter (newest first)."""
    client = client_for(tracking_uri)
    found = client.search_runs(_experiment_ids(client, experiment_id, experiment_name), filter_string,
                               view_type(view), max_results, list(order_by) or None)
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


run_id_option = click.option("-r", "--run-id", "run_id_opt", help="The run (MLflow's spelling; instead of RUN_ID).")


def _run_id(arg: str | None, opt: str | None) -> str:
    return pick("the run: RUN_ID or --run-id", arg, opt)


@runs.command("describe")
@click.argument("run_id", required=False)
@run_id_option
@tracking_uri_option
@json_option
def describe(run_id: str | None, run_id_opt: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Show a run: info, params, latest metrics, tags and logged models."""
    run = client_for(tracking_uri).get_run(_run_id(run_id, run_id_opt))
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
    note = run.data.tags.get("mlflow.note.content")
    if note:
        click.echo(f"  description: {note}")
    echo_mapping("params", run.data.params)
    echo_mapping("metrics", run.data.metrics)
    echo_mapping("tags", {k: v for k, v in run.data.tags.items() if k != "mlflow.log-model.history"})
    if run.outputs.model_outputs:
        click.echo("logged models:")
        for out in run.outputs.model_outputs:
            click.echo(f"  models:/{out.model_id} (step {out.step})")


@runs.command("create")
@click.option("-x", "--experiment-id", help="The experiment's id (or give --experiment-name).")
@click.option("-n", "--experiment-name", help="The experiment's name.")
@click.option("--run-name", help="A name for the run (default: a generated one).")
@click.option("--description", help="A description (the tag mlflow.note.content).")
@click.option("-t", "--tags", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeatable).")
@click.option("--status", type=click.Choice(["finished", "failed", "killed"], case_sensitive=False),
              default="finished", show_default=True, help="The status the run ends with.")
@click.option("--parent-run-id", help="Nest the run under this run.")
@tracking_uri_option
@json_option
def create(experiment_id: str | None, experiment_name: str | None, run_name: str | None, description: str | None,
           tags: tuple[str, ...], status: str, parent_run_id: str | None, tracking_uri: str | None,
           as_json: bool) -> None:
    """Create a run and end it at once with --status (a record of work done elsewhere), as MLflow's
    ``runs create``."""
    from tureen.exceptions import ResourceNotFoundError

    if (experiment_id is None) == (experiment_name is None):
        raise click.UsageError("Give one of --experiment-id and --experiment-name")
    client = client_for(tracking_uri)
    if experiment_name is not None:
        exp = client.get_experiment_by_name(experiment_name)
        if exp is None:
            raise ResourceNotFoundError(f"Could not find experiment with name {experiment_name!r}")
        experiment_id = exp.experiment_id
    else:
        client.get_experiment(experiment_id)  # a clear error for an unknown id
    all_tags = key_values(tags, "--tags")
    if description is not None:
        all_tags["mlflow.note.content"] = description
    if parent_run_id is not None:
        client.get_run(parent_run_id)  # the parent must exist
        all_tags["mlflow.parentRunId"] = parent_run_id
    run = client.create_run(experiment_id, tags=all_tags or None, run_name=run_name)
    client.set_terminated(run.info.run_id, status.upper())
    if as_json:
        echo_json(client.get_run(run.info.run_id))
    else:
        click.echo(f"Created run {run.info.run_id} ({status.upper()}) in experiment {experiment_id}")


@runs.command("delete")
@click.argument("run_id", required=False)
@run_id_option
@tracking_uri_option
@json_option
def delete(run_id: str | None, run_id_opt: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Delete a run (soft: restore undoes it)."""
    rid, client = _run_id(run_id, run_id_opt), client_for(tracking_uri)
    client.delete_run(rid)
    echo_json(client.get_run(rid)) if as_json else click.echo(f"Deleted run {rid}")


@runs.command("restore")
@click.argument("run_id", required=False)
@run_id_option
@tracking_uri_option
@json_option
def restore(run_id: str | None, run_id_opt: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Restore a deleted run."""
    rid, client = _run_id(run_id, run_id_opt), client_for(tracking_uri)
    client.restore_run(rid)
    echo_json(client.get_run(rid)) if as_json else click.echo(f"Restored run {rid}")


def _shift(run_id: str | None, run_id_opt: str | None, *rest: str | None) -> tuple[str | None, ...]:
    """With --run-id the positional arguments move up by one (``set-tag --run-id R KEY VALUE``)."""
    if run_id_opt is not None and run_id is not None and rest[-1] is None:
        return (None, run_id, *rest[:-1])
    return (run_id, *rest)


@runs.command("set-tag")
@click.argument("run_id", required=False)
@click.argument("key", required=False)
@click.argument("value", required=False)
@run_id_option
@tracking_uri_option
@json_option
def set_tag(run_id: str | None, key: str | None, value: str | None, run_id_opt: str | None,
            tracking_uri: str | None, as_json: bool) -> None:
    """Set tag KEY to VALUE on RUN_ID (or --run-id R KEY VALUE)."""
    run_id, key, value = _shift(run_id, run_id_opt, key, value)
    if key is None or value is None:
        raise click.UsageError("Give RUN_ID KEY VALUE (or --run-id R KEY VALUE)")
    rid, client = _run_id(run_id, run_id_opt), client_for(tracking_uri)
    client.set_tag(rid, key, value)
    echo_json(client.get_run(rid)) if as_json else click.echo(f"Set tag {key!r} on run {rid}")


@runs.command("delete-tag")
@click.argument("run_id", required=False)
@click.argument("key", required=False)
@run_id_option
@tracking_uri_option
@json_option
def delete_tag(run_id: str | None, key: str | None, run_id_opt: str | None, tracking_uri: str | None,
               as_json: bool) -> None:
    """Delete tag KEY of RUN_ID (or --run-id R KEY)."""
    run_id, key = _shift(run_id, run_id_opt, key)
    if key is None:
        raise click.UsageError("Give RUN_ID KEY (or --run-id R KEY)")
    rid, client = _run_id(run_id, run_id_opt), client_for(tracking_uri)
    client.delete_tag(rid, key)
    echo_json(client.get_run(rid)) if as_json else click.echo(f"Deleted tag {key!r} of run {rid}")


@runs.command("set-description")
@click.argument("run_id", required=False)
@click.argument("text", required=False)
@run_id_option
@tracking_uri_option
@json_option
def set_description(run_id: str | None, text: str | None, run_id_opt: str | None, tracking_uri: str | None,
                    as_json: bool) -> None:
    """Set the description of RUN_ID (the text the UI shows; the tag mlflow.note.content)."""
    run_id, text = _shift(run_id, run_id_opt, text)
    if text is None:
        raise click.UsageError("Give RUN_ID TEXT (or --run-id R TEXT)")
    rid, client = _run_id(run_id, run_id_opt), client_for(tracking_uri)
    client.set_tag(rid, "mlflow.note.content", text)
    echo_json(client.get_run(rid)) if as_json else click.echo(f"Set the description of run {rid}")


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
