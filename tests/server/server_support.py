"""Helpers shared by the server tests (a module with a unique name: ``conftest`` is ambiguous when several
test folders are collected in one session)."""

from __future__ import annotations

import shutil
from pathlib import Path


def start_tureen_server(db_uri: str, tmp: Path, workers: int = 1, extra: list[str] | None = None):
    from tureen.server.testing import server_in_background

    return server_in_background(db_uri, artifacts_destination=str(tmp / "mlartifacts"), workers=workers,
                                extra_args=extra)


def fresh_tureen_db(template: Path, tmp: Path) -> str:
    db = tmp / "server.db"
    shutil.copy(template, db)
    return f"sqlite:///{db}"
