"""Artifact repositories, pluggable by URI scheme through import strings.

Today: the local repository (``file://`` URIs and plain paths) and S3 (``s3://bucket/prefix``, needs
the ``s3`` extra). Every repository confines paths to its
root: absolute paths, ``..`` and symlinks leading outside are refused with
:class:`~tureen.exceptions.InvalidParameterError`.

Example:
    >>> repo = get_artifact_repository("file:///tmp/artifacts")  # doctest: +SKIP
    >>> repo.log_text("hello", "notes/readme.txt")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from tureen.exceptions import InvalidParameterError

__all__ = ["get_artifact_repository", "register_artifact_repository"]

_REPOS: dict[str, Any] = {
    "": "tureen.artifacts.local:LocalArtifactRepository",
    "file": "tureen.artifacts.local:LocalArtifactRepository",
    "mlflow-artifacts": "tureen.artifacts.http:MlflowArtifactsRepository",
    "http": "tureen.artifacts.http:MlflowArtifactsRepository",
    "https": "tureen.artifacts.http:MlflowArtifactsRepository",
    "s3": "tureen.artifacts.s3:S3ArtifactRepository",
}


def register_artifact_repository(scheme: str, target: str | Callable[[str], Any]) -> None:
    """Serve artifact URIs of ``scheme`` with ``target`` ("module:Class" or a callable ``(uri) -> repo``)."""
    _REPOS[scheme] = target


def get_artifact_repository(uri: str) -> Any:
    """The repository for an artifact root URI.

    Raises:
        InvalidParameterError: no repository serves the URI's scheme.
    """
    from tureen.uri import split_scheme

    scheme, _ = split_scheme(uri)
    target = _REPOS.get(scheme)
    if target is None:
        raise InvalidParameterError(f"Unsupported artifact URI {uri!r}: no artifact repository for scheme "
                                    f"{scheme!r} (supported: local paths, file:// and s3://)")
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module_name), attr)
    return target(uri)
