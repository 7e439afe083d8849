"""One value from tureen's positional spelling or MLflow's option spelling (``tureen runs describe RUN`` and
``tureen runs describe --run-id RUN`` both work), for the tracking, artifact and registry commands."""

from __future__ import annotations

from typing import Any

import click


def pick(what: str, *values: Any, required: bool = True) -> Any:
    """The one value given among ``values`` (None = not given); a usage error if none (when required) or two
    different ones.

    Example:
        >>> pick("RUN_ID", None, "abc")
        'abc'
    """
    given = [v for v in values if v is not None]
    if not given:
        if required:
            raise click.UsageError(f"Missing {what}")
        return None
    if any(v != given[0] for v in given[1:]):
        raise click.UsageError(f"{what} given twice with different values ({given[0]!r}, {given[1]!r})")
    return given[0]


#: MLflow's view-type spellings beside tureen's short ones
VIEW_CHOICES = ["active", "deleted", "all", "active_only", "deleted_only"]


def view_type(view: str) -> str:
    return {"active": "ACTIVE_ONLY", "active_only": "ACTIVE_ONLY", "deleted": "DELETED_ONLY",
            "deleted_only": "DELETED_ONLY", "all": "ALL"}[view.lower()]


def key_values(pairs: tuple[str, ...], what: str = "--tag") -> dict[str, str]:
    """``("k=v", ...)`` as a dict; a usage error for an item without ``=``."""
    out: dict[str, str] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"{what} takes KEY=VALUE, got {item!r}")
        out[key] = value
    return out
