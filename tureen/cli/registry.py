"""``tureen models register|list|versions|describe|transition|alias|rename|set-tag|delete-tag|set-description|delete``:
the model registry.

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
    # versions as strings, as every other registry command prints them (stores give ints or strings)
    aliases = {alias: str(version) for alias, version in aliases.items()}
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


@registry.command("describe")
@click.argument("name")
@click.option("--version", help="Show this version instead of the registered model.")
@tracking_uri_option
@registry_uri_option
@json_option
def describe(name: str, version: str | None, tracking_uri: str | None, registry_uri: str | None,
             as_json: bool) -> None:
    """Show registered model NAME (description, tags, aliases, latest versions), or one --version of it."""
    client = _client(tracking_uri, registry_uri)
    if version is not None:
        mv = client.get_model_version(name, version)
        if as_json:
            echo_json(mv)
            return
        click.echo(f"{mv.name} version {mv.version} ({mv.current_stage}, {mv.status})")
        click.echo(f"  created: {when(mv.creation_timestamp)}  source: {mv.source}  run: {mv.run_id or ''}")
        click.echo(f"  aliases: {', '.join(mv.aliases) or '(none)'}")
        click.echo(f"  description: {mv.description or ''}")
        _echo_tags(mv.tags)
        return
    model = client.get_registered_model(name)
    if as_json:
        echo_json(model)
        return
    click.echo(f"Registered model {model.name}")
    click.echo(f"  created: {when(model.creation_timestamp)}  updated: {when(model.last_updated_timestamp)}")
    click.echo(f"  description: {model.description or ''}")
    click.echo("  aliases: " + (", ".join(f"{a}->{v}" for a, v in sorted(model.aliases.items())) or "(none)"))
    click.echo("  latest versions: " + (", ".join(f"{v.version} ({v.current_stage})"
                                                  for v in model.latest_versions) or "(none)"))
    _echo_tags(model.tags)


def _echo_tags(tags: dict) -> None:  # noqa: ANN001
    click.echo("  tags:" + ("" if tags else " (none)"))
    for key in sorted(tags):
        click.echo(f"    {key}: {tags[key]}")


@registry.command("rename")
@click.argument("name")
@click.argument("new_name")
@tracking_uri_option
@registry_uri_option
@json_option
def rename(name: str, new_name: str, tracking_uri: str | None, registry_uri: str | None, as_json: bool) -> None:
    """Rename registered model NAME to NEW_NAME (its versions, aliases and tags move with it)."""
    model = _client(tracking_uri, registry_uri).rename_registered_model(name, new_name)
    echo_json(model) if as_json else click.echo(f"Renamed registered model {name!r} to {new_name!r}")


@registry.command("set-tag")
@click.argument("name")
@click.argument("key")
@click.argument("value")
@click.option("--version", help="Tag this version instead of the registered model.")
@tracking_uri_option
@registry_uri_option
@json_option
def set_tag(name: str, key: str, value: str, version: str | None, tracking_uri: str | None,
            registry_uri: str | None, as_json: bool) -> None:
    """Set tag KEY to VALUE on registered model NAME (or on one --version of it)."""
    client = _client(tracking_uri, registry_uri)
    if version is not None:
        client.set_model_version_tag(name, version, key, value)
        echo_json(client.get_model_version(name, version)) if as_json else \
            click.echo(f"Set tag {key!r} on {name!r} version {version}")
    else:
        client.set_registered_model_tag(name, key, value)
        echo_json(client.get_registered_model(name)) if as_json else click.echo(f"Set tag {key!r} on {name!r}")


@registry.command("delete-tag")
@click.argument("name")
@click.argument("key")
@click.option("--version", help="Untag this version instead of the registered model.")
@tracking_uri_option
@registry_uri_option
@json_option
def delete_tag(name: str, key: str, version: str | None, tracking_uri: str | None, registry_uri: str | None,
               as_json: bool) -> None:
    """Delete tag KEY of registered model NAME (or of one --version of it)."""
    client = _client(tracking_uri, registry_uri)
    if version is not None:
        client.delete_model_version_tag(name, version, key)
        echo_json(client.get_model_version(name, version)) if as_json else \
            click.echo(f"Deleted tag {key!r} of {name!r} version {version}")
    else:
        client.delete_registered_model_tag(name, key)
        echo_json(client.get_registered_model(name)) if as_json else click.echo(f"Deleted tag {key!r} of {name!r}")


@registry.command("set-description")
@click.argument("name")
@click.argument("text")
@click.option("--version", help="Describe this version instead of the registered model.")
@tracking_uri_option
@registry_uri_option
@json_option
def set_description(name: str, text: str, version: str | None, tracking_uri: str | None, registry_uri: str | None,
                    as_json: bool) -> None:
    """Set the description of registered model NAME (or of one --version of it); an empty TEXT clears it."""
    client = _client(tracking_uri, registry_uri)
    if version is not None:
        mv = client.update_model_version(name, version, description=text)
        echo_json(mv) if as_json else click.echo(f"Set the description of {name!r} version {version}")
    else:
        model = client.update_registered_model(name, description=text)
        echo_json(model) if as_json else click.echo(f"Set the description of {name!r}")
