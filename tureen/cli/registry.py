"""``tureen models register|list|versions|transition|alias|delete``: the model registry.

Attach: the commands of the click group ``registry`` go under ``tureen models`` (``tureen.cli.models``
picks them up from this module).
"""

from __future__ import annotations

import click

from tureen.tracking._display import client_for, echo_json, echo_table, json_option, tracking_uri_option, when

registry_uri_option = click.option(
    "--registry-uri", envvar="TUREEN_REGISTRY_URI", default=None,
    help="Registry store URI (default: $TUREEN_REGISTRY_URI, else the tracking URI).")


def _client(tracking_uri: str | None, registry_uri: str | None):  # noqa: ANN202
    from tureen.tracking.client import TrackingClient

    return TrackingClient(tracking_uri, registry_uri) if (tracking_uri or registry_uri) else client_for(None)


@click.group()
def registry() -> None:
    """Registered models, versions, stages and aliases."""


def _version_rows(versions):  # noqa: ANN001, ANN202
    return [[mv.name, mv.version, mv.current_stage, ",".join(mv.aliases), when(mv.creation_timestamp),
             mv.run_id or "", mv.source or ""] for mv in versions]


_VERSION_HEADERS = ["name", "version", "stage", "aliases", "created", "run id", "source"]


@registry.command("register")
@click.argument("model_uri")
@click.argument("name")
@tracking_uri_option
@registry_uri_option
@json_option
def register(model_uri: str, name: str, tracking_uri: str | None, registry_uri: str | None, as_json: bool) -> None:
    """Register MODEL_URI (runs:/…, models:/…, or an artifact URI) as a new version of NAME."""
    from tureen.registry._register import register_model

    mv = register_model(model_uri, name, client=_client(tracking_uri, registry_uri))
    echo_json(mv) if as_json else click.echo(f"Registered {model_uri} as version {mv.version} of {name!r}")


@registry.command("list")
@click.option("--filter", "filter_string", help="e.g. \"name LIKE 'churn%'\"")
@click.option("--max-results", type=int, default=100, show_default=True)
@tracking_uri_option
@registry_uri_option
@json_option
def list_(filter_string: str | None, max_results: int, tracking_uri: str | None, registry_uri: str | None,
          as_json: bool) -> None:
    """List registered models with their latest version per stage and aliases."""
    found = _client(tracking_uri, registry_uri).search_registered_models(filter_string, max_results)
    if as_json:
        echo_json(list(found))
        return
    echo_table(["name", "latest versions", "aliases", "updated"],
               [[m.name, ", ".join(f"{v.version} ({v.current_stage})" for v in m.latest_versions),
                 ", ".join(f"{a}->{v}" for a, v in sorted(m.aliases.items())), when(m.last_updated_timestamp)]
                for m in found])


@registry.command("versions")
@click.argument("name")
@click.option("--filter", "filter_string", help="Extra filter, e.g. 'version_number >= 3'.")
@tracking_uri_option
@registry_uri_option
@json_option
def versions(name: str, filter_string: str | None, tracking_uri: str | None, registry_uri: str | None,
             as_json: bool) -> None:
    """List the versions of NAME (newest first)."""
    client = _client(tracking_uri, registry_uri)
    client.get_registered_model(name)  # a clear error for an unknown name
    quoted = name.replace("'", "\\'")
    flt = f"name = '{quoted}'" + (f" AND {filter_string}" if filter_string else "")
    found = client.search_model_versions(flt, order_by=["version_number DESC"])
    echo_json(list(found)) if as_json else echo_table(_VERSION_HEADERS, _version_rows(found))


@registry.command("transition")
@click.argument("name")
@click.argument("version")
@click.argument("stage")
@click.option("--archive-existing", is_flag=True, help="Archive the other versions in STAGE (Staging/Production).")
@tracking_uri_option
@registry_uri_option
@json_option
def transition(name: str, version: str, stage: str, archive_existing: bool, tracking_uri: str | None,
               registry_uri: str | None, as_json: bool) -> None:
    """Move VERSION of NAME to STAGE (None, Staging, Production, Archived; any case)."""
    mv = _client(tracking_uri, registry_uri).transition_model_version_stage(name, version, stage, archive_existing)
    echo_json(mv) if as_json else click.echo(f"{name} version {mv.version} is now in stage {mv.current_stage}")


@registry.command("alias")
@click.argument("name")
@click.argument("alias", required=False)
@click.argument("version", required=False)
@click.option("--delete", "delete_alias", is_flag=True, help="Delete ALIAS instead of setting it.")
@click.option("--history", is_flag=True, help="Show which versions the alias (or every alias) pointed to, when.")
@tracking_uri_option
@registry_uri_option
@json_option
def alias(name: str, alias: str | None, version: str | None, delete_alias: bool, history: bool,
          tracking_uri: str | None, registry_uri: str | None, as_json: bool) -> None:
    """Set (NAME ALIAS VERSION), delete (--delete), show (NAME [ALIAS]) or trace (--history) aliases."""
    client = _client(tracking_uri, registry_uri)
    if history:
        entries = client.get_registered_model_alias_history(name, alias)
        if as_json:
            echo_json(entries)
        else:
            echo_table(["alias", "version", "when", "by"],
                       [[e.alias, e.version or "(deleted)", when(e.timestamp), e.user_id or ""] for e in entries])
        return
    if delete_alias:
        if not alias:
            raise click.UsageError("--delete needs ALIAS")
        client.delete_registered_model_alias(name, alias)
        click.echo(f"Deleted alias {alias!r} of {name!r}")
        return
    if alias and version:
        client.set_registered_model_alias(name, alias, version)
        click.echo(f"Alias {alias!r} of {name!r} now points to version {version}")
        return
    aliases = client.get_registered_model(name).aliases
    if alias:
        aliases = {alias: client.get_model_version_by_alias(name, alias).version}
    echo_json(aliases) if as_json else echo_table(["alias", "version"], sorted(aliases.items()))


@registry.command("delete")
@click.argument("name")
@click.option("--version", help="Delete only this version (its number is never reused).")
@tracking_uri_option
@registry_uri_option
def delete(name: str, version: str | None, tracking_uri: str | None, registry_uri: str | None) -> None:
    """Delete registered model NAME with all its versions, or one --version of it."""
    client = _client(tracking_uri, registry_uri)
    if version:
        client.delete_model_version(name, version)
        click.echo(f"Deleted version {version} of {name!r}")
    else:
        client.delete_registered_model(name)
        click.echo(f"Deleted registered model {name!r}")
