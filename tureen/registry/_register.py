"""``register_model``: a model URI -> a new version of a registered model (MLflow's registration flow)."""

from __future__ import annotations

from typing import Any

from tureen.exceptions import ResourceAlreadyExistsError

__all__ = ["register_model"]


def _resolve_source(model_uri: str, client: Any) -> tuple[str, str | None, str | None]:
    """``(source, run_id, model_id)`` for a new version, as MLflow 3.x derives them."""
    from pathlib import Path

    from tureen.registry._uri import lookup_version, parse_models_uri
    from tureen.tracking._uri import parse_runs_uri

    if model_uri.startswith("runs:"):
        run_id, path = parse_runs_uri(model_uri)
        run = client.get_run(run_id)
        repo = client._artifact_repository(run.info.artifact_uri)
        local = getattr(repo, "local_path", None)
        from tureen.tracking._uri import has_mlmodel

        if path and ((Path(local()) / path / "MLmodel").is_file() if local is not None else has_mlmodel(repo, path)):
            return f"{run.info.artifact_uri.rstrip('/')}/{path}", run_id, None
        first = path.partition("/")[0]
        models = client._store.find_logged_models(run_id, first) if first else []
        if not models:
            from tureen.tracking._uri import resolve_runs_uri

            resolve_runs_uri(model_uri, client)  # raises the descriptive "not found" error
        lm = models[0]
        return f"models:/{lm.model_id}", run_id, lm.model_id
    if model_uri.startswith("models:"):
        parsed = parse_models_uri(model_uri)
        if parsed.model_id is not None:
            lm = client.get_logged_model(parsed.model_id)
            return model_uri, lm.source_run_id, lm.model_id
        mv = lookup_version(model_uri, client)
        return client.get_model_version_download_uri(mv.name, mv.version), mv.run_id, mv.model_id
    return model_uri, None, None


def register_model(model_uri: str, name: str, *, tags: dict[str, Any] | None = None, client: Any = None) -> Any:
    """Create ``name`` if needed and add a version whose source is ``model_uri``.

    Example:
        >>> register_model("models:/m-0123", "churn")  # doctest: +SKIP
    """
    from tureen.tracking._validation import validate_model_name
    from tureen.tracking.client import TrackingClient

    validate_model_name(name)
    if not isinstance(model_uri, str) or not model_uri.strip():
        from tureen.exceptions import InvalidParameterError

        raise InvalidParameterError(f"register_model needs a model URI (runs:/, models:/ or a path), got "
                                    f"{model_uri!r}")
    client = client or TrackingClient()
    source, run_id, model_id = _resolve_source(model_uri, client)
    try:
        client.create_registered_model(name)
    except ResourceAlreadyExistsError:
        pass
    mv = client.create_model_version(name, source, run_id=run_id, tags=tags, model_id=model_id)
    if model_id is not None:
        import json

        lm = client.get_logged_model(model_id)
        versions = json.loads(lm.tags.get("mlflow.modelVersions") or "[]")
        versions.append({"name": name, "version": int(mv.version)})
        client.set_logged_model_tags(model_id, {"mlflow.modelVersions": json.dumps(versions)})
    return mv
