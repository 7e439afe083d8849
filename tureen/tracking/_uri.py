"""``runs:/<run_id>/<path>`` -> a local directory (called by :func:`tureen.uri.resolve_model_uri`).

Resolution follows MLflow 3.x: the path is looked up among the run's artifacts first; if no model is
there, the logged model of that run whose name is the path's first segment is used (where ``log_model``
puts files). Errors say which part did not resolve and what exists instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError

__all__ = ["resolve_runs_uri", "parse_runs_uri"]


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """Split ``runs:/<run_id>/<path>`` into ``(run_id, path)``.

    Example:
        >>> parse_runs_uri("runs:/abc123/model")
        ('abc123', 'model')
    """
    from tureen.artifacts.local import check_relative_path

    if not uri.startswith("runs:"):
        raise InvalidParameterError(f"Not a runs:/ URI: {uri!r}")
    rest = uri[len("runs:"):]
    if not rest.startswith("/") or rest.startswith("//"):
        raise InvalidParameterError(f"Not a proper runs:/ URI: {uri!r}. Use the form 'runs:/<run_id>/<path>'")
    run_id, _, path = rest.lstrip("/").partition("/")
    if not run_id:
        raise InvalidParameterError(f"Not a proper runs:/ URI: {uri!r}: the run id is empty. Use the form "
                                    "'runs:/<run_id>/<path>'")
    return run_id, check_relative_path(path)


def has_mlmodel(repo: Any, path: str) -> bool:
    """Whether ``path`` of a (remote) artifact repository is a model directory (holds an ``MLmodel`` file)."""
    return any(not f.is_dir and f.path.rsplit("/", 1)[-1] == "MLmodel" for f in repo.list_artifacts(path))


def resolve_runs_uri(uri: str, client: object | None = None) -> Path:
    from tureen.artifacts._materialize import DIGEST_TAG, materialize
    from tureen.tracking.client import TrackingClient

    run_id, path = parse_runs_uri(uri)
    client = client or TrackingClient()
    try:
        run = client.get_run(run_id)  # type: ignore[attr-defined]
    except ResourceNotFoundError:
        raise ResourceNotFoundError(f"Cannot resolve {uri!r}: no run with id {run_id!r} in the tracking store "
                                    f"{client.tracking_uri}") from None  # type: ignore[attr-defined]
    # 1. a model directory among the run's own artifacts
    repo = client._artifact_repository(run.info.artifact_uri)  # type: ignore[attr-defined]
    local = getattr(repo, "local_path", None)
    if local is not None:
        candidate = Path(local()) / path if path else Path(local())
        if (candidate / "MLmodel").is_file():
            return candidate
    elif has_mlmodel(repo, path):  # a remote store (s3://): download the directory once, into the cache
        return materialize(f"{run.info.artifact_uri.rstrip('/')}/{path}" if path else run.info.artifact_uri)
    # 2. a logged model of this run, named by the first segment of the path
    first, _, sub = path.partition("/")
    models = client._store.find_logged_models(run_id, first) if first else []  # type: ignore[attr-defined]
    if models:
        lm = models[0]
        base = materialize(lm.artifact_location, lm.tags.get(DIGEST_TAG))
        target = base / sub if sub else base
        if not target.exists():
            raise ResourceNotFoundError(f"Cannot resolve {uri!r}: model {first!r} of run {run_id} has no path "
                                        f"{sub!r}")
        return target
    logged = [m.name for m in client._store.find_logged_models(run_id)]  # type: ignore[attr-defined]
    top = [f.path for f in repo.list_artifacts()]
    raise ResourceNotFoundError(
        f"Cannot resolve {uri!r}: run {run_id} has no model at {path or '/'!r}. Models logged by this run: "
        f"{', '.join(sorted(set(logged))) or 'none'}; top-level run artifacts: {', '.join(top) or 'none'}")
