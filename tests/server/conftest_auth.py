"""Fixtures of the auth tests: a server app with ``--auth`` on real SQLite stores, users and headers."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

ADMIN = ("admin", "admin-pass-1")
ALICE = ("alice", "alice-pass-1")  # owns what she creates
BOB = ("bob", "bob-pass-1")        # unprivileged


def basic(user: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()}


def real_server_available() -> bool:
    try:
        from tureen.server.app import create_app  # noqa: F401
    except ImportError:
        return False
    return True


def build_app(tmp_path: Path, default_permission: str = "READ", max_auth_failures: int = 1000) -> Any:
    """The real server app when it exists, else the small stand-in with the same route names (the sign-in
    failure limit is raised: the module's apps see many bad credentials on purpose)."""
    auth_config = {"database_uri": f"sqlite:///{tmp_path / 'auth.db'}", "admin_password": ADMIN[1],
                   "default_permission": default_permission, "max_auth_failures": max_auth_failures}
    tracking = f"sqlite:///{tmp_path / 'mlruns.db'}"
    if real_server_available():
        from tureen.server.app import ServerSettings, create_app

        return create_app(ServerSettings(backend_store_uri=tracking, artifacts_destination=str(tmp_path / "art"),
                                         auth=True, auth_config=auth_config))
    from _auth_mini_app import make_app

    from tureen.server.auth import install

    app = make_app(tracking)
    install(app, auth_config)
    return app


def add_users(app: Any, *users: tuple[str, str]) -> None:
    client = app.test_client()
    for user in users:
        r = client.post("/api/2.0/mlflow/users/create", json={"username": user[0], "password": user[1]},
                        headers=basic(ADMIN))
        assert r.status_code == 200, r.data


def new_user(app: Any) -> tuple[str, str]:
    """A fresh user for a test that changes its account (argon2 makes users slow to make: share the rest)."""
    import uuid

    user = (f"u-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}")
    add_users(app, user)
    return user


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory):
    """One server per test module (default permission READ) with ``alice`` and ``bob``; tests use fresh
    experiment and model names, and fresh users when they change an account."""
    app = build_app(tmp_path_factory.mktemp("auth-server"))
    add_users(app, ALICE, BOB)
    return app


@pytest.fixture(scope="module")
def strict_app(tmp_path_factory):
    """The same with default permission NO_PERMISSIONS."""
    app = build_app(tmp_path_factory.mktemp("auth-strict"), default_permission="NO_PERMISSIONS")
    add_users(app, ALICE, BOB)
    return app


@pytest.fixture
def http(auth_app):
    return auth_app.test_client()
