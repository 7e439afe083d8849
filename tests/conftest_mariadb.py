"""A real MariaDB server for the tests: started once per session on a free 127.0.0.1 port.

``mariadb_server`` initializes a data directory in a temp dir (``mariadb-install-db``), starts ``mariadbd``
on loopback with its own socket, and stops it at the end of the session. ``mariadb_uri`` gives each test a
fresh, empty database. Tests using them are skipped, with the reason, when MariaDB or PyMySQL is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

__all__ = ["mariadb_server", "mariadb_uri"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connect(server: dict[str, object], database: str | None = None):
    import pymysql

    return pymysql.connect(host="127.0.0.1", port=int(server["port"]), user="root", password="",  # type: ignore[arg-type]
                           database=database, autocommit=True)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[dict[str, object]]:
    install, daemon = shutil.which("mariadb-install-db"), shutil.which("mariadbd") or (
        "/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else None)
    if not install or not daemon:
        pytest.skip("MariaDB (mariadb-install-db, mariadbd) is not installed")
    try:
        import pymysql  # noqa: F401
    except ImportError:
        pytest.skip("PyMySQL is not installed (pip install 'tureen[mysql]')")
    base = Path(tempfile.mkdtemp(prefix="tureen-mariadb-"))
    data = base / "data"
    user = ["--user=mysql"] if os.geteuid() == 0 else []
    if os.geteuid() == 0:
        shutil.chown(base, "mysql", "mysql")
    subprocess.run([install, f"--datadir={data}", "--auth-root-authentication-method=normal",
                    "--skip-test-db", *user], check=True, capture_output=True, timeout=180)
    port = _free_port()
    log = open(base / "log", "w")
    proc = subprocess.Popen([daemon, "--no-defaults", f"--datadir={data}", f"--socket={base / 's'}",
                             f"--port={port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
                             f"--pid-file={base / 'pid'}", "--innodb-flush-log-at-trx-commit=0",
                             "--max-connections=200", *user], stdout=log, stderr=subprocess.STDOUT)
    server = {"host": "127.0.0.1", "port": port, "user": "root", "uri": f"mysql+pymysql://root@127.0.0.1:{port}/"}
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _connect(server).close()
                break
            except Exception:  # noqa: BLE001 - not up yet
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mariadbd did not start: {(base / 'log').read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def create_database(server: dict[str, object]) -> str:
    """A new empty database on the server; its SQLAlchemy URI."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    conn = _connect(server)
    try:
        conn.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    finally:
        conn.close()
    return f"mysql+pymysql://root@127.0.0.1:{server['port']}/{name}"


@pytest.fixture
def mariadb_uri(mariadb_server: dict[str, object]) -> str:
    """A fresh, empty database on the session's MariaDB server."""
    return create_database(mariadb_server)
