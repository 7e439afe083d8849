"""Helpers for crafted hostile models (sec-integrity's tests): a pristine model to copy and tamper with, a
canary secret outside the model directory, and a check that the secret never shows up in any output."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import yaml


class Canary:
    """A secret file outside every model directory; its content must never appear in any output."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.secret = f"CANARY-SECRET-{uuid.uuid4().hex}"
        self.path = directory / "secret.json"
        # valid JSON and YAML, so a loader that reads it would happily parse it (and might echo it)
        self.path.write_text('{"inputs": ["%s"], "columns": ["%s"]}' % (self.secret, self.secret))

    def assert_not_in(self, *outputs: Any) -> None:
        for out in outputs:
            text = out if isinstance(out, str) else (out.decode("utf-8", "replace") if isinstance(out, bytes)
                                                     else repr(out))
            assert self.secret not in text, "the canary secret outside the model directory leaked"


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def read_mlmodel(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "MLmodel").read_text())


def write_mlmodel(root: Path, data: dict[str, Any]) -> None:
    """Rewrite MLmodel as an attacker would: plain YAML, digests left as they were (unless removed)."""
    (root / "MLmodel").write_text(yaml.safe_dump(data, default_flow_style=False))


def reseal(root: Path) -> None:
    """Recompute every digest, as an attacker who can write the directory can: used to test what the
    other defences (paths, symlinks) catch on a model whose digests are consistent."""
    from tureen.flavors._integrity import seal_model_dir
    from tureen.models.mlmodel import Model

    seal_model_dir(root, Model.load(root))
