"""Artifact repositories, pluggable by URI scheme through import strings.

Today: the local repository (``file://`` URIs and plain paths) and S3 (``s3://bucket/prefix``, needs
the ``s3`` extra). Every repository confines paths to its
root: absolute paths, ``..`` and symlinks leading outside are refused with
:class:`~tureen.exceptions.InvalidParameterError`.

MLflow's ``mlflow.artifacts`` functions are here too (:func:`download_artifacts`, :func:`list_artifacts`,
:func:`load_text`, :func:`load_dict`, :func:`load_image`), taking the same URIs (``runs:/``, ``models:/``,
``mlflow-artifacts:/``, ``s3://``, paths).

Example:
    >>> repo = get_artifact_repository("file:///tmp/artifacts")  # doctest: +SKIP
    >>> repo.log_text("hello", "notes/readme.txt")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from tureen.exceptions import InvalidParameterError

__all__ = ["get_artifact_repository", "register_artifact_repository", "download_artifacts", "list_artifacts",
           "load_text", "load_dict", "load_image"]

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


# ------------------------------------------------------------------------------------------------
# MLflow's mlflow.artifacts functions


def _run_and_path(artifact_uri: str | None, run_id: str | None, artifact_path: str | None) -> tuple[str, str] | None:
    """``(run_id, path)`` when the call names a run's artifacts, None for a plain artifact URI."""
    if artifact_uri is not None and (run_id is not None or artifact_path is not None):
        raise InvalidParameterError("Give either artifact_uri, or run_id (with an optional artifact_path), not both")
    if artifact_uri is None and run_id is None:
        raise InvalidParameterError("Give artifact_uri or run_id")
    if run_id is not None:
        return run_id, artifact_path or ""
    if not isinstance(artifact_uri, str) or not artifact_uri.strip():
        raise InvalidParameterError(f"An artifact URI must be a non-empty string, got {artifact_uri!r}")
    if artifact_uri.startswith("runs:"):
        from tureen.tracking._uri import parse_runs_uri

        return parse_runs_uri(artifact_uri)
    return None


def download_artifacts(artifact_uri: str | None = None, run_id: str | None = None,
                       artifact_path: str | None = None, dst_path: str | None = None,
                       tracking_uri: str | None = None) -> str:
    """Copy an artifact (file or directory) to a local directory; return the local path of the copy.

    Name it by ``artifact_uri`` (``runs:/<id>/path``, ``models:/...``, ``s3://...``, a path) or by
    ``run_id`` and ``artifact_path``. ``dst_path`` defaults to a new temporary directory.

    Raises:
        InvalidParameterError: both or neither ways of naming the artifact.
        ResourceNotFoundError: nothing there.

    Example:
        >>> download_artifacts("runs:/0a1b/model")  # doctest: +SKIP
        '/tmp/tmpab12/model'
    """
    import os
    import tempfile

    target = _run_and_path(artifact_uri, run_id, artifact_path)
    dst = dst_path if dst_path is not None else tempfile.mkdtemp(prefix="tureen-artifacts-")
    os.makedirs(dst, exist_ok=True)
    if target is not None:
        from tureen.tracking.client import TrackingClient

        return TrackingClient(tracking_uri).download_artifacts(target[0], target[1], dst)
    from tureen.artifacts._download import download_artifact_uri

    return str(download_artifact_uri(artifact_uri, dst))  # type: ignore[arg-type]


def list_artifacts(artifact_uri: str | None = None, run_id: str | None = None, artifact_path: str | None = None,
                   tracking_uri: str | None = None) -> list[Any]:
    """The :class:`~tureen.entities.FileInfo` of each file and directory directly under an artifact location.

    Example:
        >>> [f.path for f in list_artifacts(run_id=run_id)]  # doctest: +SKIP
        ['model', 'notes.txt']
    """
    target = _run_and_path(artifact_uri, run_id, artifact_path)
    if target is not None:
        from tureen.tracking.client import TrackingClient

        return TrackingClient(tracking_uri).list_artifacts(target[0], target[1] or None)
    return get_artifact_repository(artifact_uri).list_artifacts()  # type: ignore[arg-type]


def _read_bytes(artifact_uri: str) -> bytes:
    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tureen-artifact-") as tmp:
        path = download_artifacts(artifact_uri, dst_path=tmp)
        if os.path.isdir(path):
            raise InvalidParameterError(f"{artifact_uri!r} is a directory, not a file")
        with open(path, "rb") as f:
            return f.read()


def load_text(artifact_uri: str) -> str:
    """The text of a file artifact.

    Example:
        >>> load_text(f"runs:/{run_id}/notes.txt")  # doctest: +SKIP
        'hello'
    """
    return _read_bytes(artifact_uri).decode("utf-8")


def load_dict(artifact_uri: str) -> dict[str, Any]:
    """A JSON (or YAML) file artifact as a dict.

    Raises:
        InvalidParameterError: the file is neither.

    Example:
        >>> load_dict(f"runs:/{run_id}/config.json")  # doctest: +SKIP
        {'k': 1}
    """
    import json

    text = _read_bytes(artifact_uri).decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        import yaml

        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = None
        if not isinstance(value, dict):
            raise InvalidParameterError(f"{artifact_uri!r} is not a JSON or YAML document") from None
        return value


def load_image(artifact_uri: str) -> Any:
    """An image artifact as a ``PIL.Image.Image`` (needs pillow).

    Example:
        >>> load_image(f"runs:/{run_id}/black.png").size  # doctest: +SKIP
        (8, 8)
    """
    import io

    from tureen._optional import import_optional

    image_module = import_optional("PIL.Image", "load_image")
    data = _read_bytes(artifact_uri)
    try:
        image = image_module.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # noqa: BLE001 - PIL raises several types for a file that is not an image
        raise InvalidParameterError(f"{artifact_uri!r} is not an image PIL can read: {exc}") from None
    return image
