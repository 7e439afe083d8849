"""``tureen artifacts list|download|log-artifact|log-artifacts``: a run's artifacts.

Each command takes tureen's positional spelling (``tureen artifacts list RUN_ID PATH``) and MLflow's options
(``-r/--run-id``, ``-a/--artifact-path``, ``-u/--artifact-uri``, ``-d/--dst-path``, ``-l/--local-file``,
``-l/--local-dir``), so MLflow's CLI lines work unchanged.

Attach: the click group ``artifacts`` as ``tureen artifacts`` (already listed in ``tureen.cli.COMMANDS``).
"""

from __future__ import annotations

import click

from tureen.cli._pick import pick
from tureen.tracking._display import client_for, echo_json, echo_table, json_option, tracking_uri_option

run_id_option = click.option("-r", "--run-id", "run_id_opt", help="The run (MLflow's spelling; instead of RUN_ID).")
artifact_path_option = click.option("-a", "--artifact-path", "artifact_path_opt",
                                    help="A path inside the run's artifacts (MLflow's spelling; instead of PATH).")


@click.group()
def artifacts() -> None:
    """List, download and log run artifacts."""


@artifacts.command("list")
@click.argument("run_id", required=False)
@click.argument("path", required=False)
@run_id_option
@artifact_path_option
@tracking_uri_option
@json_option
def list_(run_id: str | None, path: str | None, run_id_opt: str | None, artifact_path_opt: str | None,
          tracking_uri: str | None, as_json: bool) -> None:
    """List the artifacts of RUN_ID directly under PATH (default: the root)."""
    if run_id_opt is not None and run_id is not None and path is None:
        run_id, path = None, run_id  # "list -r RUN PATH"
    rid = pick("the run: RUN_ID or -r/--run-id", run_id, run_id_opt)
    where = pick("PATH", path, artifact_path_opt, required=False)
    files = client_for(tracking_uri).list_artifacts(rid, where or None)
    if as_json:
        echo_json(files)
        return
    echo_table(["path", "size"], [[f.path + ("/" if f.is_dir else ""), "" if f.is_dir else f.file_size]
                                  for f in files])


@artifacts.command("download")
@click.argument("run_id", required=False)
@click.argument("path", required=False)
@run_id_option
@artifact_path_option
@click.option("-u", "--artifact-uri", help="An artifact URI (runs:/…, models:/…, s3://…) instead of RUN_ID and PATH.")
@click.option("-d", "--dst", "--dst-path", "dst_path", type=click.Path(file_okay=False), help="Destination "
              "directory (created if missing; default: a new temp directory).")
@tracking_uri_option
@json_option
def download(run_id: str | None, path: str | None, run_id_opt: str | None, artifact_path_opt: str | None,
             artifact_uri: str | None, dst_path: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Download artifact PATH (file or directory; default: everything) of RUN_ID, or --artifact-uri, and print
    where it went."""
    if run_id_opt is not None and run_id is not None and path is None:
        run_id, path = None, run_id
    if artifact_uri is not None:
        if run_id is not None or run_id_opt is not None or path is not None or artifact_path_opt is not None:
            raise click.UsageError("Give --artifact-uri alone, or RUN_ID [PATH]: not both")
        import os
        import tempfile

        from tureen.artifacts._download import download_artifact_uri

        dst = dst_path or tempfile.mkdtemp(prefix="tureen-artifacts-")
        os.makedirs(dst, exist_ok=True)
        local = str(download_artifact_uri(artifact_uri, dst))
    else:
        rid = pick("the run: RUN_ID, -r/--run-id or -u/--artifact-uri", run_id, run_id_opt)
        where = pick("PATH", path, artifact_path_opt, required=False) or ""
        if dst_path is not None:
            import os

            os.makedirs(dst_path, exist_ok=True)
        local = client_for(tracking_uri).download_artifacts(rid, where, dst_path)
    echo_json({"path": local}) if as_json else click.echo(local)


def _log(kind: str, run_id: str | None, local: str | None, run_id_opt: str | None, local_opt: str | None,
         artifact_path: str | None, tracking_uri: str | None, as_json: bool) -> None:
    if run_id_opt is not None and run_id is not None and local is None:
        run_id, local = None, run_id  # "log-artifact -r RUN FILE"
    rid = pick("the run: RUN_ID or -r/--run-id", run_id, run_id_opt)
    what = "LOCAL_FILE or -l/--local-file" if kind == "file" else "LOCAL_DIR or -l/--local-dir"
    path = pick(what, local, local_opt)
    import os

    from tureen.exceptions import InvalidParameterError

    if kind == "file" and not os.path.isfile(path):
        raise InvalidParameterError(f"No such file: {path!r}" + (" (a directory: use log-artifacts)"
                                                                 if os.path.isdir(path) else ""))
    if kind == "dir" and not os.path.isdir(path):
        raise InvalidParameterError(f"No such directory: {path!r}")
    client = client_for(tracking_uri)
    if kind == "file":
        client.log_artifact(rid, path, artifact_path)
    else:
        client.log_artifacts(rid, path, artifact_path)
    dest = artifact_path or ""
    if as_json:
        echo_json(client.list_artifacts(rid, dest or None))
    else:
        click.echo(f"Logged {path} to run {rid}" + (f" under {dest}" if dest else ""))


@artifacts.command("log-artifact")
@click.argument("run_id", required=False)
@click.argument("local_file", required=False)
@run_id_option
@click.option("-l", "--local-file", "local_file_opt", help="The file to log (MLflow's spelling; instead of LOCAL_FILE).")
@click.option("-a", "--artifact-path", help="Log it into this directory of the run's artifacts.")
@tracking_uri_option
@json_option
def log_artifact(run_id: str | None, local_file: str | None, run_id_opt: str | None, local_file_opt: str | None,
                 artifact_path: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Log LOCAL_FILE as an artifact of RUN_ID."""
    _log("file", run_id, local_file, run_id_opt, local_file_opt, artifact_path, tracking_uri, as_json)


@artifacts.command("log-artifacts")
@click.argument("run_id", required=False)
@click.argument("local_dir", required=False)
@run_id_option
@click.option("-l", "--local-dir", "local_dir_opt", help="The directory to log (MLflow's spelling; instead of LOCAL_DIR).")
@click.option("-a", "--artifact-path", help="Log its files into this directory of the run's artifacts.")
@tracking_uri_option
@json_option
def log_artifacts(run_id: str | None, local_dir: str | None, run_id_opt: str | None, local_dir_opt: str | None,
                  artifact_path: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Log the files of LOCAL_DIR (recursively) as artifacts of RUN_ID."""
    _log("dir", run_id, local_dir, run_id_opt, local_dir_opt, artifact_path, tracking_uri, as_json)
