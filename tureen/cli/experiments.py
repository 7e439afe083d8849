"""``tureen experiments …``: create, list/search, describe/get, rename, delete, restore, csv, tags and
descriptions of experiments.

Each command takes tureen's positional spelling (``tureen experiments delete 3``) and MLflow's options
(``-x/--experiment-id``, ``-n/--experiment-name``, ``--new-name``, ``-o/--filename``), so MLflow's CLI
lines work unchanged.

Attach: the click group ``experiments`` as ``tureen experiments`` (already listed in ``tureen.cli.COMMANDS``).
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

#: the tag MLflow (and its UI) keeps an experiment's or run's description in
NOTE_TAG = "mlflow.note.content"

experiment_id_option = click.option("-x", "--experiment-id", "experiment_id_opt",
                                    help="Experiment id (MLflow's spelling; instead of the EXPERIMENT argument).")
experiment_name_option = click.option("-n", "--experiment-name", "experiment_name_opt",
                                      help="Experiment name (instead of the EXPERIMENT argument).")


@click.group()
def experiments() -> None:
    """Create, search, describe, rename, delete, restore and export experiments; set their tags and
    descriptions."""


def _find(client, id_or_name: str):  # noqa: ANN001, ANN202
    exp = client.get_experiment_by_name(id_or_name)
    if exp is None and id_or_name.isdigit():
        exp = client.get_experiment(id_or_name)
    if exp is None:
        from tureen.exceptions import ResourceNotFoundError

        raise ResourceNotFoundError(f"No experiment with name or id {id_or_name!r}")
    return exp


def _experiment(client, arg: str | None, exp_id: str | None, exp_name: str | None = None):  # noqa: ANN001, ANN202
    """The experiment named by the argument (name or id), ``-x`` (an id) or ``-n`` (a name): exactly one."""
    if sum(v is not None for v in (arg, exp_id, exp_name)) > 1:
        raise click.UsageError("Name the experiment once: EXPERIMENT, -x/--experiment-id or -n/--experiment-name")
    if exp_id is not None:
        return client.get_experiment(exp_id)
    if exp_name is not None:
        exp = client.get_experiment_by_name(exp_name)
        if exp is None:
            from tureen.exceptions import ResourceNotFoundError

            raise ResourceNotFoundError(f"No experiment named {exp_name!r}")
        return exp
    if arg is None:
        raise click.UsageError("Missing the experiment: EXPERIMENT (name or id) or -x/--experiment-id")
    return _find(client, arg)


def _show(exp) -> None:  # noqa: ANN001
    click.echo(f"Experiment {exp.experiment_id}: {exp.name} ({exp.lifecycle_stage})")
    click.echo(f"  created: {when(exp.creation_time)}  updated: {when(exp.last_update_time)}")
    click.echo(f"  artifact location: {exp.artifact_location}")
    note = exp.tags.get(NOTE_TAG)
    if note:
        click.echo(f"  description: {note}")
    echo_mapping("tags", {k: v for k, v in exp.tags.items() if k != NOTE_TAG})


@experiments.command("create")
@click.argument("name", required=False)
@click.option("-n", "--experiment-name", "name_opt", help="The name (MLflow's spelling; instead of NAME).")
@click.option("-l", "--artifact-location", help="Where the experiment's runs store artifacts (default: under the root).")
@click.option("-t", "--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeatable).")
@click.option("--description", help="A description (shown by the UI; the tag mlflow.note.content).")
@tracking_uri_option
@json_option
def create(name: str | None, name_opt: str | None, artifact_location: str | None, tags: tuple[str, ...],
           description: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Create experiment NAME and print its id."""
    name = pick("the experiment name (NAME or -n/--experiment-name)", name, name_opt)
    all_tags = key_values(tags)
    if description is not None:
        all_tags[NOTE_TAG] = description
    exp_id = client_for(tracking_uri).create_experiment(name, artifact_location, tags=all_tags or None)
    echo_json({"experiment_id": exp_id}) if as_json else click.echo(f"Created experiment {name!r} with id {exp_id}")


@experiments.command("list")
@click.option("-v", "--view", type=click.Choice(VIEW_CHOICES, case_sensitive=False), default="active",
              show_default=True, help="Which experiments (MLflow's active_only/deleted_only work too).")
@click.option("--filter", "filter_string", help="e.g. \"name LIKE 'churn%'\"")
@click.option("--max-results", type=click.IntRange(min=1), default=None, help="At most this many (default: all).")
@tracking_uri_option
@json_option
def list_(view: str, filter_string: str | None, max_results: int | None, tracking_uri: str | None,
          as_json: bool) -> None:
    """List (search) experiments; ``search`` is the same command under MLflow's name."""
    exps = client_for(tracking_uri).search_experiments(view_type=view_type(view), filter_string=filter_string,
                                                       max_results=max_results or 50000,
                                                       order_by=["experiment_id ASC"])
    if as_json:
        echo_json(list(exps))
        return
    echo_table(["id", "name", "stage", "created", "artifact location"],
               [[e.experiment_id, e.name, e.lifecycle_stage, when(e.creation_time), e.artifact_location] for e in exps])


experiments.add_command(list_, "search")


@experiments.command("describe")
@click.argument("experiment", required=False)
@experiment_id_option
@experiment_name_option
@click.option("--output", type=click.Choice(["table", "json"]), default=None,
              help="MLflow's spelling of --json (--output json).")
@tracking_uri_option
@json_option
def describe(experiment: str | None, experiment_id_opt: str | None, experiment_name_opt: str | None,
             output: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Show one experiment (EXPERIMENT is a name or an id); ``get`` is the same command under MLflow's name."""
    exp = _experiment(client_for(tracking_uri), experiment, experiment_id_opt, experiment_name_opt)
    echo_json(exp) if (as_json or output == "json") else _show(exp)


experiments.add_command(describe, "get")


@experiments.command("rename")
@click.argument("experiment", required=False)
@click.argument("new_name", required=False)
@experiment_id_option
@click.option("--new-name", "new_name_opt", help="The new name (MLflow's spelling; instead of NEW_NAME).")
@tracking_uri_option
@json_option
def rename(experiment: str | None, new_name: str | None, experiment_id_opt: str | None, new_name_opt: str | None,
           tracking_uri: str | None, as_json: bool) -> None:
    """Rename an experiment: EXPERIMENT NEW_NAME (or -x ID --new-name NAME)."""
    if experiment is not None and new_name is None and experiment_id_opt is not None:
        experiment, new_name = None, experiment  # "rename -x 3 new-name": the one argument is the new name
    new = pick("the new name (NEW_NAME or --new-name)", new_name, new_name_opt)
    client = client_for(tracking_uri)
    exp = _experiment(client, experiment, experiment_id_opt)
    client.rename_experiment(exp.experiment_id, new)
    if as_json:
        echo_json(client.get_experiment(exp.experiment_id))
    else:
        click.echo(f"Renamed experiment {exp.experiment_id} to {new!r}")


@experiments.command("delete")
@click.argument("experiment", required=False)
@experiment_id_option
@tracking_uri_option
@json_option
def delete(experiment: str | None, experiment_id_opt: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Delete an experiment (and mark its runs deleted); restore undoes it."""
    client = client_for(tracking_uri)
    exp = _experiment(client, experiment, experiment_id_opt)
    client.delete_experiment(exp.experiment_id)
    if as_json:
        echo_json(client.get_experiment(exp.experiment_id))
    else:
        click.echo(f"Deleted experiment {exp.experiment_id}")


@experiments.command("restore")
@click.argument("experiment", required=False)
@experiment_id_option
@tracking_uri_option
@json_option
def restore(experiment: str | None, experiment_id_opt: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Restore a deleted experiment and the runs deleted with it."""
    client = client_for(tracking_uri)
    exp = _experiment(client, experiment, experiment_id_opt)
    client.restore_experiment(exp.experiment_id)
    if as_json:
        echo_json(client.get_experiment(exp.experiment_id))
    else:
        click.echo(f"Restored experiment {exp.experiment_id}")


@experiments.command("csv")
@click.argument("experiment", required=False)
@experiment_id_option
@click.option("-o", "--filename", type=click.Path(dir_okay=False, writable=True),
              help="Write the CSV to this file (default: standard output).")
@tracking_uri_option
def csv(experiment: str | None, experiment_id_opt: str | None, filename: str | None,
        tracking_uri: str | None) -> None:
    """All runs of an experiment as CSV (the columns of ``search_runs``: run_id, status, metrics.*,
    params.*, tags.*)."""
    from tureen.tracking.fluent import _runs_to_pandas

    client = client_for(tracking_uri)
    exp = _experiment(client, experiment, experiment_id_opt)
    runs, token = [], None
    while True:
        page = client.search_runs([exp.experiment_id], "", "ACTIVE_ONLY", 50000, None, token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    text = _runs_to_pandas(runs).to_csv(index=False)
    if filename:
        _write_atomically(filename, text)
        click.echo(f"Wrote {len(runs)} run(s) of experiment {exp.experiment_id} to {filename}")
    else:
        click.echo(text, nl=False)


def _write_atomically(filename: str, text: str) -> None:
    """The whole file or nothing: written beside its target, then renamed over it."""
    import os
    import tempfile

    target = os.path.abspath(filename)
    fd, tmp = tempfile.mkstemp(prefix=".tureen-csv-", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@experiments.command("set-tag")
@click.argument("experiment", required=False)
@click.argument("key", required=False)
@click.argument("value", required=False)
@experiment_id_option
@tracking_uri_option
@json_option
def set_tag(experiment: str | None, key: str | None, value: str | None, experiment_id_opt: str | None,
            tracking_uri: str | None, as_json: bool) -> None:
    """Set tag KEY to VALUE on EXPERIMENT (or on -x ID: then give KEY VALUE only)."""
    if experiment_id_opt is not None and value is None:
        experiment, key, value = None, experiment, key
    if key is None or value is None:
        raise click.UsageError("Give EXPERIMENT KEY VALUE (or -x ID KEY VALUE)")
    client = client_for(tracking_uri)
    exp = _experiment(client, experiment, experiment_id_opt)
    client.set_experiment_tag(exp.experiment_id, key, value)
    echo_json(client.get_experiment(exp.experiment_id)) if as_json else \
        click.echo(f"Set tag {key!r} on experiment {exp.experiment_id}")


@experiments.command("delete-tag")
@click.argument("experiment", required=False)
@click.argument("key", required=False)
@experiment_id_option
@tracking_uri_option
@json_option
def delete_tag(experiment: str | None, key: str | None, experiment_id_opt: str | None, tracking_uri: str | None,
               as_json: bool) -> None:
    """Delete tag KEY of EXPERIMENT (or of -x ID: then give KEY only)."""
    if experiment_id_opt is not None and key is None:
        experiment, key = None, experiment
    if key is None:
        raise click.UsageError("Give EXPERIMENT KEY (or -x ID KEY)")
    client = client_for(tracking_uri)
    exp = _experiment(client, experiment, experiment_id_opt)
    client.delete_experiment_tag(exp.experiment_id, key)
    echo_json(client.get_experiment(exp.experiment_id)) if as_json else \
        click.echo(f"Deleted tag {key!r} of experiment {exp.experiment_id}")


@experiments.command("set-description")
@click.argument("experiment", required=False)
@click.argument("text", required=False)
@experiment_id_option
@tracking_uri_option
@json_option
def set_description(experiment: str | None, text: str | None, experiment_id_opt: str | None,
                    tracking_uri: str | None, as_json: bool) -> None:
    """Set the description of EXPERIMENT (the text the UI shows; an empty TEXT clears it)."""
    if experiment_id_opt is not None and text is None:
        experiment, text = None, experiment
    if text is None:
        raise click.UsageError("Give EXPERIMENT TEXT (or -x ID TEXT)")
    client = client_for(tracking_uri)
    exp = _experiment(client, experiment, experiment_id_opt)
    client.set_experiment_tag(exp.experiment_id, NOTE_TAG, text)
    echo_json(client.get_experiment(exp.experiment_id)) if as_json else \
        click.echo(f"Set the description of experiment {exp.experiment_id}")
