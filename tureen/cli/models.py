"""``tureen models``: inspect and verify saved models; registry subcommands come from ``tureen.cli.registry``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tureen.cli import LazyGroup

_REGISTRY_MODULE = "tureen.cli.registry"


class _ModelsGroup(LazyGroup):
    """Own commands plus the registry's (``register``, ``list``, ``versions``, ...), imported on use."""

    def _registry(self) -> Any:
        import importlib

        try:
            return importlib.import_module(_REGISTRY_MODULE)
        except ModuleNotFoundError:
            return None

    def _registry_commands(self) -> dict[str, click.Command]:
        module = self._registry()
        if module is None:
            return {}
        cmds = getattr(module, "REGISTRY_COMMANDS", None)
        if cmds is None:
            group = getattr(module, "registry", None) or getattr(module, "models", None)
            cmds = dict(getattr(group, "commands", {}) or {})
        return dict(cmds)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._registry_commands()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        return cmd if cmd is not None else self._registry_commands().get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, (self.get_command(ctx, n).get_short_help_str(60))) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_ModelsGroup)
def models() -> None:
    """Inspect and verify saved models, and manage the model registry."""


def _integrity(root: Path, model: Any) -> tuple[str, str | None]:
    from tureen.exceptions import ModelFormatError, UnverifiedModelError
    from tureen.flavors._integrity import verify_model_dir

    try:
        ok = verify_model_dir(root, model, verified_only=True)
    except UnverifiedModelError:
        return "unverified (no digests recorded: not saved by tureen, or its digest section was removed)", None
    except ModelFormatError as exc:  # integrity failures, symlinks, unreadable MLmodel
        return "FAILED", exc.message
    return ("verified", None) if ok else ("unverified", None)


def _needs_pickle(root: Path, model: Any) -> dict[str, bool | None]:
    """Per flavor section: whether loading it passes the unsafe gate (the flavor's declared answer), None if
    no registered flavor reads it."""
    from tureen.flavors import FLAVORS, flavor_for_loader, get_flavor

    out: dict[str, bool | None] = {}
    for name, conf in model.flavors.items():
        try:
            if name == "python_function":
                # only custom models keep their data in the pyfunc section; others answer in their own
                flavor = flavor_for_loader(conf.get("loader_module", ""))
                if flavor is None or flavor.name != "python_function":
                    continue
            elif name in FLAVORS:
                flavor = get_flavor(name)
            else:
                out[name] = None
                continue
            out[name] = bool(flavor.needs_pickle(root, conf))
        except Exception:  # noqa: BLE001 - unknown/unavailable flavor: say "unknown"
            out[name] = None
    return out


def _described(root: Path, model: Any) -> dict[str, dict[str, Any]]:
    """Per flavor section: the facts its flavor's ``describe()`` reads from the saved files (nothing loaded)."""
    from tureen.flavors import FLAVORS, get_flavor

    out: dict[str, dict[str, Any]] = {}
    for name, conf in model.flavors.items():
        if name not in FLAVORS or name == "python_function":
            continue
        try:
            facts = get_flavor(name).describe(root, conf)
        except Exception:  # noqa: BLE001 - an unavailable framework or odd files: inspect still answers
            continue
        if facts:
            out[name] = facts
    return out


def describe_model(uri: str) -> dict[str, Any]:
    """Everything ``models inspect`` shows, as a dict."""
    from tureen.env import read_requirements
    from tureen.flavors._scan import describe_execution
    from tureen.models.mlmodel import Model
    from tureen.uri import resolve_model_uri

    from tureen.exceptions import ModelPathError
    from tureen.models._paths import check_model_paths, check_no_symlinks

    root = resolve_model_uri(uri)
    model = Model.load(root)
    status, problem = _integrity(root, model)
    try:  # a symlink or a path leaving the directory: read nothing more from it (it could be any file)
        check_no_symlinks(root)
        check_model_paths(root, model)
        confined = True
    except ModelPathError:
        confined = False
    formats = {}
    for name, conf in model.flavors.items():
        fmt = conf.get("serialization_format") or conf.get("model_format") or conf.get("save_format")
        if fmt:
            formats[name] = fmt
    return {
        "path": str(root),
        "flavors": {k: v for k, v in model.flavors.items()},
        "signature": model.signature.to_dict() if model.signature is not None else None,
        "saved_input_example_info": model.saved_input_example_info,
        "formats": formats,
        "needs_pickle": _needs_pickle(root, model) if confined else {},
        "described": _described(root, model) if confined else {},
        "executes": [e.to_dict() for e in describe_execution(root, model)],
        "requirements": read_requirements(root) if confined else [],
        "integrity": status,
        "integrity_problem": problem,
        "model_uuid": model.model_uuid,
        "utc_time_created": model.utc_time_created,
        "saved_by": {"tureen": model.tureen_version, "mlflow": model.mlflow_version},
        "metadata": model.metadata,
    }


@models.command("inspect")
@click.argument("model_uri", required=False)
@click.option("-m", "--model-uri", "model_uri_opt", help="Model URI (alternative to the argument).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a readable summary.")
def inspect_cmd(model_uri: str | None, model_uri_opt: str | None, as_json: bool) -> None:
    """Show a model's flavors, signature, formats, pickle use, requirements and integrity."""
    uri = _pick_uri(model_uri, model_uri_opt)
    info = describe_model(uri)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    click.echo(f"Model:        {info['path']}")
    saved = ", ".join(f"{k} {v}" for k, v in info["saved_by"].items() if v) or "unknown"
    click.echo(f"Saved by:     {saved} at {info['utc_time_created']} UTC")
    click.echo("Flavors:      " + ", ".join(sorted(info["flavors"])))
    for name, fmt in sorted(info["formats"].items()):
        click.echo(f"Format:       {name}: {fmt}")
    pickle_flags = {k: v for k, v in info["needs_pickle"].items()}
    if pickle_flags:
        text = ", ".join(f"{k}: {'yes' if v else 'no' if v is not None else 'unknown'}" for k, v in pickle_flags.items())
        click.echo(f"Needs pickle: {text}")
    for name, facts in sorted(info["described"].items()):
        click.echo(f"About:        {name}: " + ", ".join(f"{k}={v}" for k, v in facts.items()))
    click.echo("Executes at load (files marked * run only with allow_pickle / TUREEN_ALLOW_PICKLE=true):")
    for entry in info["executes"]:
        mark = "*" if entry["gated"] else " "
        click.echo(f"  {mark} {entry['path']}: {entry['executes']}")
    sig = info["signature"]
    if sig:
        from tureen.models.signature import ModelSignature

        s = ModelSignature.from_dict(sig)
        for part in ("inputs", "outputs", "params"):
            schema = getattr(s, part)
            if schema is None:
                continue
            click.echo(f"{part.capitalize() + ':':<14}")
            for spec in schema.to_dict():
                name = spec.get("name", "-")
                kind = spec.get("type")
                if kind == "tensor":
                    kind = f"tensor {spec['tensor-spec']['dtype']} {spec['tensor-spec']['shape']}"
                elif kind in ("array", "object", "map"):
                    kind = json.dumps({k: v for k, v in spec.items() if k not in ("name", "required")})
                opt = "" if spec.get("required", True) else " (optional)"
                default = f" = {spec['default']!r}" if "default" in spec and part == "params" else ""
                click.echo(f"  {name}: {kind}{opt}{default}")
    else:
        click.echo("Signature:    none (inputs are not checked)")
    click.echo("Requirements: " + (", ".join(info["requirements"]) or "none recorded"))
    click.echo(f"Integrity:    {info['integrity']}" + (f": {info['integrity_problem']}" if info["integrity_problem"] else ""))


def _pick_uri(arg: str | None, opt: str | None) -> str:
    if arg and opt and arg != opt:
        raise click.UsageError("Give the model URI once: as an argument or with -m, not both")
    uri = arg or opt
    if not uri:
        raise click.UsageError("Missing the model URI (tureen models inspect URI)")
    return uri


@models.command("verify")
@click.argument("model_uri", required=False)
@click.option("-m", "--model-uri", "model_uri_opt", help="Model URI (alternative to the argument).")
def verify_cmd(model_uri: str | None, model_uri_opt: str | None) -> None:
    """Check every byte of a model (each file and the MLmodel itself) against the SHA-256 digests recorded
    when it was saved.

    Exits 0 when everything matches; 1 when a file was changed, truncated, removed, added or renamed, the
    MLmodel was edited, the directory holds a symlink, or the model carries no digests (not saved by tureen,
    or its digest section was removed) and so cannot be verified.
    """
    from tureen.flavors._integrity import verify_model_dir
    from tureen.uri import resolve_model_uri

    uri = _pick_uri(model_uri, model_uri_opt)
    root = resolve_model_uri(uri)
    verify_model_dir(root, verified_only=True)
    from tureen.models.mlmodel import Model

    n = len(Model.load(root).tureen.get("files", {})) + 1
    click.echo(f"OK: all {n} files of {root} (MLmodel included) match their recorded SHA-256 digests")
