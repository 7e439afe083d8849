"""``models:/…`` -> a local directory (called by :func:`tureen.uri.resolve_model_uri`).

Forms (MLflow's): ``models:/<name>/<version>``, ``models:/<name>/<stage>`` (any case),
``models:/<name>/latest``, ``models:/<name>@<alias>``, ``models:/<model_id>`` (a logged model,
``m-<hex>``), each optionally followed by ``/<sub/path>``. Errors say which part did not resolve and
list what exists instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError

__all__ = ["ModelsUri", "parse_models_uri", "resolve_models_uri", "lookup_version"]

_FORMS = ("Models URIs must be of the form 'models:/<name>/<version>', 'models:/<name>/<stage>', "
          "'models:/<name>/latest', 'models:/<name>@<alias>' or 'models:/<model_id>'")


@dataclass(frozen=True)
class ModelsUri:
    name: str | None = None
    version: int | None = None
    stage: str | None = None
    latest: bool = False
    alias: str | None = None
    model_id: str | None = None
    sub_path: str = ""


def parse_models_uri(uri: str) -> ModelsUri:
    """Parse a ``models:/`` URI.

    Example:
        >>> parse_models_uri("models:/churn@champion")
        ModelsUri(name='churn', version=None, stage=None, latest=False, alias='champion', model_id=None, sub_path='')
    """
    from tureen.artifacts.local import check_relative_path
    from tureen.tracking._validation import canonical_stage

    if not uri.startswith("models:"):
        raise InvalidParameterError(f"Not a models:/ URI: {uri!r}")
    rest = uri[len("models:"):]
    if not rest.startswith("/") or rest.startswith("//") or len(rest) < 2:
        raise InvalidParameterError(f"Not a proper models:/ URI: {uri!r}. {_FORMS}")
    segments = rest[1:].split("/")
    head = segments[0]
    if not head:
        raise InvalidParameterError(f"Not a proper models:/ URI: {uri!r}: the model name is empty. {_FORMS}")
    if "@" in head:
        name, _, alias = head.rpartition("@")
        if not name or not alias:
            raise InvalidParameterError(f"Not a proper models:/ URI: {uri!r}: empty name or alias. {_FORMS}")
        return ModelsUri(name=name, alias=alias, sub_path=check_relative_path("/".join(segments[1:])))
    if len(segments) == 1:
        return ModelsUri(model_id=head)
    suffix = segments[1]
    sub = check_relative_path("/".join(segments[2:]))
    if not suffix:
        raise InvalidParameterError(f"Not a proper models:/ URI: {uri!r}: the version or stage after the name is "
                                    f"empty. {_FORMS}")
    if suffix.isdigit():
        return ModelsUri(name=head, version=int(suffix), sub_path=sub)
    if suffix.lower() == "latest":
        return ModelsUri(name=head, latest=True, sub_path=sub)
    try:
        stage = canonical_stage(suffix)
    except InvalidParameterError:
        raise InvalidParameterError(f"Cannot resolve {uri!r}: {suffix!r} is neither a version number, 'latest', nor a "
                                    "stage (None, Staging, Production, Archived)") from None
    return ModelsUri(name=head, stage=stage, sub_path=sub)


def _describe_versions(client: Any, name: str) -> str:
    versions = client.search_model_versions(f"name = '{name}'", max_results=1000, order_by=["version_number ASC"])
    if not versions:
        return "it has no versions"
    return "versions: " + ", ".join(f"{mv.version} ({mv.current_stage})" for mv in versions[:50])


def lookup_version(uri: str, client: Any) -> Any:
    """The :class:`ModelVersion` a registered-model URI names (not for ``models:/<model_id>``)."""
    parsed = parse_models_uri(uri)
    if parsed.model_id is not None:
        raise InvalidParameterError(f"{uri!r} names a logged model, not a registered model version")
    name = parsed.name
    try:
        client.get_registered_model(name)
    except ResourceNotFoundError:
        names = [m.name for m in client.search_registered_models(max_results=20)]
        raise ResourceNotFoundError(f"Cannot resolve {uri!r}: no registered model named {name!r} in the registry "
                                    f"{client.registry_uri}. Registered models: {', '.join(names) or 'none'}"
                                    f"{' …' if len(names) == 20 else ''}") from None
    if parsed.version is not None:
        try:
            return client.get_model_version(name, parsed.version)
        except ResourceNotFoundError:
            raise ResourceNotFoundError(f"Cannot resolve {uri!r}: model {name!r} has no version {parsed.version}; "
                                        f"{_describe_versions(client, name)}") from None
    if parsed.alias is not None:
        try:
            return client.get_model_version_by_alias(name, parsed.alias)
        except (InvalidParameterError, ResourceNotFoundError):
            aliases = client.get_registered_model(name).aliases
            shown = ", ".join(f"{a} -> version {v}" for a, v in sorted(aliases.items())) or "none"
            raise ResourceNotFoundError(f"Cannot resolve {uri!r}: model {name!r} has no alias {parsed.alias!r}; "
                                        f"its aliases: {shown}") from None
    stages = [parsed.stage] if parsed.stage is not None else None
    latest = client.get_latest_versions(name, stages)
    if not latest:
        what = f"in stage {parsed.stage!r}" if parsed.stage else "at all"
        raise ResourceNotFoundError(f"Cannot resolve {uri!r}: no versions of model {name!r} {what}; "
                                    f"{_describe_versions(client, name)}")
    return max(latest, key=lambda mv: int(mv.version))


def resolve_models_uri(uri: str, client: Any = None) -> Path:
    from tureen.artifacts._materialize import DIGEST_TAG, materialize
    from tureen.tracking.client import TrackingClient

    client = client or TrackingClient()
    parsed = parse_models_uri(uri)
    digest = None
    if parsed.model_id is not None:
        try:
            lm = client.get_logged_model(parsed.model_id)
        except ResourceNotFoundError:
            raise ResourceNotFoundError(f"Cannot resolve {uri!r}: no logged model with id {parsed.model_id!r} in "
                                        f"{client.tracking_uri} (for a registered model use "
                                        f"'models:/<name>/<version>' or 'models:/<name>@<alias>')") from None
        location, digest = lm.artifact_location, lm.tags.get(DIGEST_TAG)
    else:
        mv = lookup_version(uri, client)
        location = client.get_model_version_download_uri(mv.name, mv.version)
        if mv.model_id:
            try:
                lm = client.get_logged_model(mv.model_id)
                if lm.artifact_location == location:
                    digest = lm.tags.get(DIGEST_TAG)
            except ResourceNotFoundError:
                pass
        if location.startswith(("runs:/", "models:/")):  # a version registered from another URI
            from tureen.uri import resolve_model_uri

            base = resolve_model_uri(location)
            return base / parsed.sub_path if parsed.sub_path else base
    base = materialize(location, digest)
    if parsed.sub_path:
        target = base / parsed.sub_path
        if not target.exists():
            raise ResourceNotFoundError(f"Cannot resolve {uri!r}: the model has no path {parsed.sub_path!r}")
        return target
    return base
