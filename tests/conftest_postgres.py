"""A real PostgreSQL server for the tests: started once per session on a free 127.0.0.1 port.

``postgres_server`` initializes a cluster in a temp directory (as user ``postgres`` when running as root,
since initdb refuses root), starts it with fsync off (test data only) and stops it at the end of the session.
``postgres_uri`` gives each test a fresh database cloned from a migrated template (fast: no migration per
test). Tests using them are skipped, with the reason, when PostgreSQL is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest

__all__ = ["postgres_server", "postgres_uri", "_postgres_template"]

_PG_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/14/bin")


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in _PG_DIRS:
        if Path(d, name).exists():
            return str(Path(d, name))
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, object]]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'tureen[postgres]')")
    base = Path(tempfile.mkdtemp(prefix="tureen-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        import pwd

        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
                                 "-E", "UTF8"]), check=True, capture_output=True, timeout=120)
    port = _free_port()
    opts = f"-k {base} -h 127.0.0.1 -p {port} -F -c max_connections=200"
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "-t", "60",
                                 "start"]), check=True, capture_output=True, timeout=120)
    try:
        yield {"host": "127.0.0.1", "port": port, "user": "postgres",
               "uri": f"postgresql://postgres@127.0.0.1:{port}/postgres"}
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True,
                       timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _admin(server: dict[str, object], sql: str) -> None:
    import psycopg

    with psycopg.connect(host=server["host"], port=server["port"], user=server["user"], dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def _postgres_template(postgres_server: dict[str, object]) -> str:
    from tureen.tracking.stores.sql import upgrade_database

    name = "tureen_template"
    _admin(postgres_server, f"CREATE DATABASE {name}")
    upgrade_database(f"postgresql://postgres@127.0.0.1:{postgres_server['port']}/{name}",
                     artifact_root="/nonexistent-template-root")
    return name


@pytest.fixture
def postgres_uri(postgres_server: dict[str, object], _postgres_template: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test; its Default experiment stores artifacts under tmp_path."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    _admin(postgres_server, f"CREATE DATABASE {name} TEMPLATE {_postgres_template}")
    uri = f"postgresql://postgres@127.0.0.1:{postgres_server['port']}/{name}"
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=postgres_server["port"], user="postgres", dbname=name,
                         autocommit=True) as conn:  # the template's Default experiment points nowhere useful
        conn.execute("UPDATE experiments SET artifact_location = %s WHERE experiment_id = 0",
                     ((tmp_path / "pg-artifacts" / "0").as_uri(),))
    try:
        yield uri
    finally:
        from tureen.tracking.stores import reset_stores

        reset_stores()
        _admin(postgres_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
