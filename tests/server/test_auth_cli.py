"""``tureen server users ...`` on a real auth database (SQLite), as a subprocess would see it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tureen.server.auth.cli import users


@pytest.fixture
def run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'auth.db'}"

    def invoke(*args: str, stdin: str | None = None):
        return CliRunner().invoke(users, ["--auth-db-uri", uri, *args], input=stdin)

    invoke.uri = uri  # type: ignore[attr-defined]
    return invoke


def test_users_lifecycle(run):
    r = run("create", "root", "--admin", "--password-stdin", stdin="root-password\n")
    assert r.exit_code == 0 and "Created admin 'root'" in r.output, r.output
    r = run("create", "ana", stdin="ana-password\nana-password\n")  # prompted twice, hidden
    assert r.exit_code == 0 and "Created user 'ana'" in r.output, r.output
    listed = json.loads(run("list", "--json").output)
    assert [(u["username"], u["is_admin"]) for u in listed] == [("ana", False), ("root", True)]
    assert "* root" in run("list").output
    assert run("set-admin", "ana").exit_code == 0
    assert run("set-admin", "ana", "--no-admin").exit_code == 0
    assert run("set-password", "ana", "--password-stdin", stdin="new-ana-password\n").exit_code == 0
    token = run("create-token", "ana", "--name", "ci").output.strip()
    assert token.startswith("tur_") and len(token) > 40

    from tureen.server.auth._store import AuthStore

    store = AuthStore(run.uri)
    assert store.authenticate_basic("ana", "new-ana-password").username == "ana"
    assert store.authenticate_basic("ana", "ana-password") is None
    assert store.authenticate_token(token).username == "ana"
    assert "Revoked 1 token" in run("revoke-tokens", "ana").output
    assert store.authenticate_token(token) is None
    assert run("delete", "ana").exit_code == 0
    assert [u["username"] for u in json.loads(run("list", "--json").output)] == ["root"]


@pytest.mark.parametrize("args,stdin,message", [
    (("create", "x", "--password-stdin"), "short\n", "at least 8"),
    (("create", "a:b", "--password-stdin"), "long-enough\n", "must not contain ':'"),
    (("delete", "ghost"), None, "not found"),
    (("set-admin", "ghost"), None, "not found"),
    (("set-password", "ghost", "--password-stdin"), "long-enough\n", "not found"),
    (("create-token", "ghost"), None, "not found"),
])
def test_bad_arguments_are_typed_errors(run, args, stdin, message):
    r = run(*args, stdin=stdin)
    assert r.exit_code != 0
    assert message in str(r.exception) or message in r.output


def test_last_admin_is_kept(run):
    run("create", "root", "--admin", "--password-stdin", stdin="root-password\n")
    r = run("delete", "root")
    assert r.exit_code != 0 and "last admin" in str(r.exception)
    r = run("set-admin", "root", "--no-admin")
    assert r.exit_code != 0 and "last admin" in str(r.exception)
    r = run("create", "root", "--password-stdin", stdin="root-password\n")
    assert r.exit_code != 0 and "already exists" in str(r.exception)


def test_server_with_auth_and_no_admin_refuses_to_start(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_AUTH_", "MLFLOW_AUTH_"))}
    env.update(TUREEN_HOME=str(tmp_path), TUREEN_AUTH_DATABASE_URI=f"sqlite:///{tmp_path / 'auth.db'}")
    proc = subprocess.run([sys.executable, "-m", "tureen.cli", "server", "--auth", "--backend-store-uri",
                           f"sqlite:///{tmp_path / 'm.db'}", "--port", "0"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 1
    assert "TUREEN_AUTH_ADMIN_PASSWORD" in proc.stderr and "Traceback" not in proc.stderr
