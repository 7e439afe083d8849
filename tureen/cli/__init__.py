"""The ``tureen`` command line. Each subcommand's module is imported only when that subcommand runs,
so ``tureen --help`` stays fast (no numpy, pandas, flask, sqlalchemy or framework).

To add a subcommand: write a module exposing a click command or group, and add one line to ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from tureen import __version__

#: name -> ("module:attribute", one-line help shown by ``tureen --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("tureen.cli.predict:predict", "Score a file with a model (CSV, JSON or Parquet in; JSON or CSV out)."),
    "models": ("tureen.cli.models:models", "Inspect, verify and manage models and the model registry."),
    "serve": ("tureen.cli.serve:serve", "Serve a model over HTTP (MLflow scoring protocol and Open Inference Protocol)."),
    "experiments": ("tureen.cli.experiments:experiments", "Create, search, describe, rename, delete, restore and export experiments; tags."),
    "runs": ("tureen.cli.runs:runs", "List, describe, create, delete and restore runs; tags and descriptions."),
    "artifacts": ("tureen.cli.artifacts:artifacts", "List, download and log run artifacts."),
    "build-docker": ("tureen.cli.docker:build_docker", "Build a Docker image that serves a model."),
    "generate-dockerfile": ("tureen.cli.docker:generate_dockerfile", "Write a Docker build context for a model."),
    "generate-k8s": ("tureen.cli.k8s:generate_k8s", "Write Kubernetes manifests (Deployment, Service, autoscaler, KServe) for a model image."),
    "server": ("tureen.cli.server:server", "Run the tracking server (MLflow's REST API and artifact proxy)."),
    "import": ("tureen.cli.importer:import_command", "Import an MLflow file store (mlruns/) or a live MLflow server into a SQL store."),
    "db": ("tureen.cli.db:db", "Show and upgrade the schema revision of a tracking database."),
    "ui": ("tureen.cli.ui:ui", "Serve the web UI (experiments, runs, charts, registry) on a local store."),
    "run": ("tureen.cli.run:run", "Run an MLproject entry point (local, virtualenv, docker, kubernetes) as a tracked run."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            target, _ = self.lazy[name]
            module_name, _, attr = target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                # the part is not there (the module or a package above it): the command does not exist
                if exc.name is None or not (module_name == exc.name or module_name.startswith(exc.name + ".")):
                    raise
                return None
            return getattr(module, attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][1]) for name in sorted(self.lazy) if self._available(name)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def _available(self, name: str) -> bool:
        import importlib.util

        module_name = self.lazy[name][0].partition(":")[0]
        try:
            return importlib.util.find_spec(module_name) is not None
        except ModuleNotFoundError:
            return False


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the version, and which tracking/registry URI applies and why (the precedence of
    ``set_*_uri()`` > ``TUREEN_*`` > ``MLFLOW_*`` > default)."""
    if not value or ctx.resilient_parsing:
        return
    from tureen.tracking._config import registry_uri_source, tracking_uri_source

    tracking, t_source = tracking_uri_source()
    registry, r_source = registry_uri_source()
    click.echo(f"tureen, version {__version__}")
    click.echo(f"tracking URI: {tracking}  (from {t_source})")
    click.echo(f"registry URI: {registry}  (from {r_source})")
    ctx.exit()


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and the tracking/registry URIs in effect, then exit.")
@click.option("--verified-only", is_flag=True, default=False,
              help="Refuse models without integrity digests (e.g. saved by MLflow); same as TUREEN_VERIFIED_ONLY=true.")
@click.pass_context
def cli(ctx: click.Context, verified_only: bool) -> None:
    """tureen: package, track, register and serve models in MLflow's format, faster and safer."""
    if verified_only:
        import os

        # through the environment, so every load in this command (and the server workers it starts) sees it
        before = os.environ.get("TUREEN_VERIFIED_ONLY")
        os.environ["TUREEN_VERIFIED_ONLY"] = "true"

        def restore() -> None:
            if before is None:
                os.environ.pop("TUREEN_VERIFIED_ONLY", None)
            else:
                os.environ["TUREEN_VERIFIED_ONLY"] = before

        ctx.call_on_close(restore)


def main(argv: list[str] | None = None) -> None:
    """Entry point: typed tureen errors become one clear line on stderr and exit code 1 (2 for bad usage)."""
    from tureen.exceptions import TureenError

    args = sys.argv[1:] if argv is None else list(argv)
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8 reach Python as lone surrogates
            click.echo(f"Error: argument {arg.encode('utf-8', 'backslashreplace').decode()[:200]!r} is not "
                       "valid UTF-8", err=True)
            sys.exit(2)
    try:
        cli.main(args=args, prog_name="tureen", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TureenError as exc:
        click.echo(f"Error ({exc.error_code}): {exc.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:  # a path given on the command line: too long, not permitted, not a directory...
        where = f": {str(exc.filename)[:200]!r}" if exc.filename else ""
        click.echo(f"Error (INVALID_PARAMETER_VALUE): {exc.strerror or exc}{where}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the last line: a bug of ours still gets one clear line
        import traceback

        from tureen._flags import env_bool
        from tureen.exceptions import InvalidSettingError

        try:
            debug = env_bool("TUREEN_DEBUG", False)
        except InvalidSettingError as bad:  # the last-resort handler reports a bad flag instead of raising
            click.echo(f"Error (INVALID_PARAMETER_VALUE): {bad.message}", err=True)
            debug = False
        if debug:
            traceback.print_exc()
        click.echo(f"Error (INTERNAL_ERROR): unexpected {type(exc).__name__}: {exc} (this is a bug in tureen; "
                   "set TUREEN_DEBUG=1 for the traceback and please report it)", err=True)
        sys.exit(1)
    else:
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
