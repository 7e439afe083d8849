"""``tureen run URI``: run a project's entry point as a tracked run (MLflow's ``mlflow run``)."""

from __future__ import annotations

import sys

import click


def _pairs(values: tuple[str, ...], what: str, flags_ok: bool = False) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key.strip():
            raise click.BadParameter(f"{item!r:.60} is not NAME=VALUE", param_hint=what)
        if not sep:
            if not flags_ok:
                raise click.BadParameter(f"{item!r:.60} is not NAME=VALUE", param_hint=what)
            out[key.strip()] = True
            continue
        if flags_ok and key.strip() in out:  # a repeated docker option (-A e=A=1 -A e=B=2)
            prev = out[key.strip()]
            out[key.strip()] = [*(prev if isinstance(prev, list) else [prev]), value]
        else:
            out[key.strip()] = value
    return out


@click.command("run")
@click.argument("uri")
@click.option("-e", "--entry-point", default="main", show_default=True,
              help="Entry point: a declared name, or a .py / .sh file of the project.")
@click.option("-v", "--version", "version", default=None, help="Git commit, branch or tag (git URIs).")
@click.option("-P", "--param-list", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter (repeatable); undeclared ones are passed as --NAME VALUE.")
@click.option("-A", "--docker-args", "docker_args", multiple=True, metavar="NAME[=VALUE]",
              help="A docker run option (repeatable): -A network=host -A e=KEY=VALUE -A privileged.")
@click.option("--experiment-name", default=None, help="The run's experiment (created if missing).")
@click.option("--experiment-id", default=None, help="The run's experiment id.")
@click.option("-b", "--backend", type=click.Choice(["local", "docker", "kubernetes", "databricks"]),
              default="local", show_default=True)
@click.option("-c", "--backend-config", default=None, help="Backend settings: a JSON file or JSON text.")
@click.option("--env-manager", type=click.Choice(["local", "virtualenv", "uv", "conda"]), default=None,
              help="Environment (default: what the project declares).")
@click.option("--storage-dir", default=None, help="Where path parameters given as URIs are downloaded.")
@click.option("--run-id", default=None, help="Continue this existing run.")
@click.option("--run-name", default=None, help="Name of the new run.")
@click.option("--build-image", is_flag=True, default=False, help="Rebuild the project's docker image.")
@click.option("--dry-run", is_flag=True, default=False,
              help="Print the resolved command, environment, docker command or Job YAML; run nothing.")
def run(uri: str, entry_point: str, version: str | None, params: tuple[str, ...], docker_args: tuple[str, ...],
        experiment_name: str | None, experiment_id: str | None, backend: str, backend_config: str | None,
        env_manager: str | None, storage_dir: str | None, run_id: str | None, run_name: str | None,
        build_image: bool, dry_run: bool) -> None:
    """Run an MLproject entry point from a directory or git URL (URI#subdir) as a tracked run.

    The entry point's output is streamed; the command exits with the entry point's status.

    \b
    Example:
        tureen run examples/projects/wine -P alpha=0.3 --experiment-name wine
        tureen run https://github.com/org/repo#projects/wine -v v1.2 --env-manager virtualenv
    """
    from tureen import projects
    from tureen.exceptions import ProjectRunFailedError

    parameters = _pairs(params, "'-P'")
    dargs = _pairs(docker_args, "'-A'", flags_ok=True)
    if dry_run:
        plan = projects.plan(uri, entry_point, version, parameters, dargs, experiment_name, experiment_id,
                             backend, backend_config, None, storage_dir, env_manager)
        click.echo(plan.render(), nl=False)
        return
    try:
        submitted = projects.run(uri, entry_point, version, parameters, dargs, experiment_name, experiment_id,
                                 backend, backend_config, None, storage_dir, True, run_id, run_name, env_manager,
                                 build_image)
    except ProjectRunFailedError as exc:
        click.echo(f"Error ({exc.error_code}): {exc.message}", err=True)
        code = exc.details.get("returncode")
        sys.exit(code if isinstance(code, int) and 0 < code < 256 else 1)
    click.echo(f"tureen: run {submitted.run_id} {submitted.get_status()}", err=True)
