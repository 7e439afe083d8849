"""Readable tables and JSON for the tracking, registry and artifact CLI commands."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, is_dataclass
from typing import Any, Sequence

import click


def when(ms: int | None) -> str:
    """Milliseconds since the epoch as ``YYYY-MM-DD HH:MM:SS`` (UTC); empty for ``None``."""
    if ms is None:
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "wire_dict"):  # registry entities: versions as strings, as on the wire
        return value.wire_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def echo_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, default=str))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "(none)") -> None:
    """Print rows as aligned columns under a header line."""
    if not rows:
        click.echo(empty)
        return
    text_rows = [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in text_rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def echo_mapping(title: str, mapping: dict[str, Any]) -> None:
    click.echo(f"{title}:" + ("" if mapping else " (none)"))
    for key in sorted(mapping):
        click.echo(f"  {key}: {mapping[key]}")


tracking_uri_option = click.option(
    "--tracking-uri", envvar="TUREEN_TRACKING_URI", default=None,
    help="Tracking store URI (default: $TUREEN_TRACKING_URI, else the SQLite database under $TUREEN_HOME).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def client_for(tracking_uri: str | None) -> Any:
    from tureen.tracking.client import TrackingClient

    return TrackingClient(tracking_uri)
