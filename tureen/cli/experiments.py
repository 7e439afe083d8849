"""``tureen experiments …``: create, list, describe, rename, delete and restore experiments.

Attach: the click group ``experiments`` as ``tureen experiments`` (already listed in ``tureen.cli.COMMANDS``).
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
def experiments() -> None:
    """Create, list, describe, rename, delete and restore experiments."""


def _find(client, id_or_name: str):  # noqa: ANN001, ANN202
    exp = client.get_experiment_by_name(id_or_name)
    if exp is None and id_or_name.isdigit():
        exp = client.get_experiment(id_or_name)
    if exp is None:
        from tureen.exceptions import ResourceNotFoundError

        raise ResourceNotFoundError(f"No experiment with name or id {id_or_name!r}")
    return exp


@experiments.command("create")
@click.argument("name")
@click.option("--artifact-location", help="Where the experiment's runs store artifacts (default: under the root).")
@tracking_uri_option
@json_option
def create(name: str, artifact_location: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Create experiment NAME and print its id."""
    exp_id = client_for(tracking_uri).create_experiment(name, artifact_location)
    echo_json({"experiment_id": exp_id}) if as_json else click.echo(f"Created experiment {name!r} with id {exp_id}")


@experiments.command("list")
@click.option("--view", type=click.Choice(["active", "deleted", "all"]), default="active", show_default=True)
@click.option("--filter", "filter_string", help="e.g. \"name LIKE 'churn%'\"")
@tracking_uri_option
@json_option
def list_(view: str, filter_string: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List experiments."""
    view_type = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}[view]
    exps = client_for(tracking_uri).search_experiments(view_type=view_type, filter_string=filter_string,
                                                       max_results=50000, order_by=["experiment_id ASC"])
    if as_json:
        echo_json(list(exps))
        return
    echo_table(["id", "name", "stage", "created", "artifact location"],
               [[e.experiment_id, e.name, e.lifecycle_stage, when(e.creation_time), e.artifact_location] for e in exps])


@experiments.command("describe")
@click.argument("id_or_name")
@tracking_uri_option
@json_option
def describe(id_or_name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show one experiment (by name or id)."""
    exp = _find(client_for(tracking_uri), id_or_name)
    if as_json:
        echo_json(exp)
        return
    click.echo(f"Experiment {exp.experiment_id}: {exp.name} ({exp.lifecycle_stage})")
    click.echo(f"  created: {when(exp.creation_time)}  updated: {when(exp.last_update_time)}")
    click.echo(f"  artifact location: {exp.artifact_location}")
    echo_mapping("tags", exp.tags)


@experiments.command("rename")
@click.argument("experiment_id")
@click.argument("new_name")
@tracking_uri_option
def rename(experiment_id: str, new_name: str, tracking_uri: str | None) -> None:
    """Rename an experiment."""
    client_for(tracking_uri).rename_experiment(experiment_id, new_name)
    click.echo(f"Renamed experiment {experiment_id} to {new_name!r}")


@experiments.command("delete")
@click.argument("experiment_id")
@tracking_uri_option
def delete(experiment_id: str, tracking_uri: str | None) -> None:
    """Delete an experiment (and mark its runs deleted); restore undoes it."""
    client_for(tracking_uri).delete_experiment(experiment_id)
    click.echo(f"Deleted experiment {experiment_id}")


@experiments.command("restore")
@click.argument("experiment_id")
@tracking_uri_option
def restore(experiment_id: str, tracking_uri: str | None) -> None:
    """Restore a deleted experiment and the runs deleted with it."""
    client_for(tracking_uri).restore_experiment(experiment_id)
    click.echo(f"Restored experiment {experiment_id}")
