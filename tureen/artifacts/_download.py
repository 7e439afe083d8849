"""One artifact URI (``runs:/``, ``models:/``, ``mlflow-artifacts:/``, ``s3://``...) -> a local copy."""

from __future__ import annotations

import posixpath
from pathlib import Path

from tureen.exceptions import InvalidParameterError

__all__ = ["download_artifact_uri"]


def download_artifact_uri(uri: str, dst_path: str | Path) -> Path:
    """Copy the file or directory at ``uri`` into the existing directory ``dst_path``; return its local path.

    Raises:
        InvalidParameterError: the URI is malformed or its scheme has no repository.
        ResourceNotFoundError: nothing at the URI.

    Example:
        >>> download_artifact_uri("runs:/0a1b/files/word.txt", "/tmp/x")  # doctest: +SKIP
        PosixPath('/tmp/x/word.txt')
    """
    from tureen.uri import split_scheme

    if not isinstance(uri, str) or not uri.strip():
        raise InvalidParameterError(f"An artifact URI must be a non-empty string, got {uri!r}")
    scheme, rest = split_scheme(uri)
    if scheme == "runs":
        body = uri[len("runs:/"):].lstrip("/") if uri.startswith("runs:/") else ""
        run_id, _, path = body.partition("/")
        if not run_id:
            raise InvalidParameterError(f"Malformed runs URI {uri!r}: expected runs:/<run_id>/<path>")
        from tureen.tracking.client import TrackingClient

        return Path(TrackingClient().download_artifacts(run_id, path, str(dst_path)))
    if scheme == "models":
        import shutil

        from tureen.uri import resolve_model_uri

        src = resolve_model_uri(uri)
        out = Path(dst_path) / src.name
        shutil.copytree(src, out)
        return out
    from tureen.artifacts import get_artifact_repository

    # a repository serves a root; ask the parent for the last path component
    stripped = uri.rstrip("/")
    parent, name = posixpath.split(stripped)
    if not name or parent.endswith(":"):
        return Path(get_artifact_repository(stripped).download_artifacts("", str(dst_path)))
    return Path(get_artifact_repository(parent).download_artifacts(name, str(dst_path)))
