"""``tureen artifacts list|download``: a run's artifacts.

Attach: the click group ``artifacts`` as ``tureen artifacts`` (already listed in ``tureen.cli.COMMANDS``).
"""

from __future__ import annotations

import click

from tureen.tracking._display import client_for, echo_json, echo_table, json_option, tracking_uri_option


@click.group()
def artifacts() -> None:
    """List and download run artifacts."""


@artifacts.command("list")
@click.argument("run_id")
@click.argument("path", required=False, default="")
@tracking_uri_option
@json_option
def list_(run_id: str, path: str, tracking_uri: str | None, as_json: bool) -> None:
    """List the artifacts of RUN_ID directly under PATH (default: the root)."""
    files = client_for(tracking_uri).list_artifacts(run_id, path or None)
    if as_json:
        echo_json(files)
        return
    echo_table(["path", "size"], [[f.path + ("/" if f.is_dir else ""), "" if f.is_dir else f.file_size]
                                  for f in files])


@artifacts.command("download")
@click.argument("run_id")
@click.argument("path", required=False, default="")
@click.option("-d", "--dst", "dst_path", type=click.Path(file_okay=False), help="Destination directory "
              "(default: a new temp directory).")
@tracking_uri_option
@json_option
def download(run_id: str, path: str, dst_path: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Download artifact PATH (file or directory; default: everything) of RUN_ID and print where it went."""
    local = client_for(tracking_uri).download_artifacts(run_id, path, dst_path)
    echo_json({"path": local}) if as_json else click.echo(local)
