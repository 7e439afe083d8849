"""``tureen server users ...``: manage the users of a ``tureen server --auth`` from the shell.

Works on the auth database directly (``--auth-db-uri`` or ``TUREEN_AUTH_DATABASE_URI``), so the first
admin can be created before the server ever starts, and a lost admin password can be reset by whoever
can reach the database. Passwords are prompted for (hidden) unless ``--password-stdin`` is given.

Example::

    tureen server users create alice --admin          # prompts for the password twice
    echo "$PW" | tureen server users set-password bob --password-stdin
    tureen server users create-token ci-bot           # prints a bearer token once
    tureen server users list
"""

from __future__ import annotations

import sys
from typing import Any

import click

__all__ = ["users"]


def _store(ctx: click.Context) -> Any:
    from tureen.server.auth import AuthSettings
    from tureen.server.auth._store import AuthStore

    from tureen._optional import import_optional

    import_optional("argon2", "password hashing (tureen server users)")
    uri = ctx.obj.get("auth_db_uri") if ctx.obj else None
    return AuthStore(AuthSettings.resolve({"database_uri": uri}).database_uri or "sqlite://")


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    try:
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    except (click.exceptions.Abort, EOFError, OSError) as exc:
        # no terminal (or input ended) to ask on: end the half-written prompt line, then say what to do
        click.echo("", err=True)
        from tureen.exceptions import InvalidParameterError

        raise InvalidParameterError("no password given: type it at the prompt, or pipe it in with "
                                    "--password-stdin") from exc


@click.group("users")
@click.option("--auth-db-uri", default=None, metavar="URI", envvar="TUREEN_AUTH_DATABASE_URI",
              help="The auth database. [TUREEN_AUTH_DATABASE_URI; default sqlite:///$TUREEN_HOME/auth.db]")
@click.pass_context
def users(ctx: click.Context, auth_db_uri: str | None) -> None:
    """Manage the users and permissions of an --auth server."""
    ctx.ensure_object(dict)
    ctx.obj["auth_db_uri"] = auth_db_uri


@users.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, default=False, help="Make the user an admin.")
@click.option("--password-stdin", is_flag=True, default=False, help="Read the password from standard input.")
@click.pass_context
def create(ctx: click.Context, username: str, admin: bool, password_stdin: bool) -> None:
    """Create a user (prompts for the password).

    \b
    Example:
        tureen server users create alice --admin
    """
    user = _store(ctx).create_user(username, _password(password_stdin), is_admin=admin)
    click.echo(f"Created {'admin' if user.is_admin else 'user'} {user.username!r} (id {user.id})")


@users.command("delete")
@click.argument("username")
@click.pass_context
def delete(ctx: click.Context, username: str) -> None:
    """Delete a user with its grants and tokens (the last admin cannot be deleted)."""
    _store(ctx).delete_user(username)
    click.echo(f"Deleted user {username!r}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List users, admins first marked with '*'."""
    found = _store(ctx).list_users()
    if as_json:
        import json

        click.echo(json.dumps([u.to_json() for u in found], indent=2))
        return
    for u in found:
        grants = len(u.experiment_permissions) + len(u.registered_model_permissions)
        click.echo(f"{'*' if u.is_admin else ' '} {u.username}  ({grants} grant{'s' if grants != 1 else ''})")


@users.command("set-admin")
@click.argument("username")
@click.option("--admin/--no-admin", default=True, help="Grant or remove admin rights.")
@click.pass_context
def set_admin(ctx: click.Context, username: str, admin: bool) -> None:
    """Make a user an admin (or not: --no-admin)."""
    _store(ctx).set_admin(username, admin)
    click.echo(f"{username!r} is {'now' if admin else 'no longer'} an admin")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, default=False, help="Read the password from standard input.")
@click.pass_context
def set_password(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Set a user's password (prompts for it)."""
    store = _store(ctx)
    store.get_user(username, with_permissions=False)  # a clear error before asking for a password
    store.update_password(username, _password(password_stdin))
    click.echo(f"Password of {username!r} changed")


@users.command("create-token")
@click.argument("username")
@click.option("--name", default="default", show_default=True, help="A label for the token.")
@click.pass_context
def create_token(ctx: click.Context, username: str, name: str) -> None:
    """Print a new bearer token for a user (use it as MLFLOW_TRACKING_TOKEN; it is shown only once)."""
    click.echo(_store(ctx).create_token(username, name))


@users.command("revoke-tokens")
@click.argument("username")
@click.pass_context
def revoke_tokens(ctx: click.Context, username: str) -> None:
    """Revoke every bearer token of a user."""
    count = _store(ctx).revoke_tokens(username)
    click.echo(f"Revoked {count} token{'s' if count != 1 else ''} of {username!r}")
