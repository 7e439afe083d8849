"""Dataset sources: where a dataset came from, stored on the run as ``source_type`` + ``source`` (JSON).

The JSON shapes and type names are MLflow's (``{"tags": {...}}`` for ``code``, ``{"url": ...}`` for
``http``, ``{"uri": ...}`` for ``local``/``s3``...), so each tool reads the other's records.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from tureen.exceptions import InvalidParameterError

__all__ = ["DatasetSource", "CodeDatasetSource", "HTTPDatasetSource", "FileSystemDatasetSource",
           "LocalArtifactDatasetSource", "S3ArtifactDatasetSource", "resolve_dataset_source",
           "get_dataset_source_from_json", "get_registered_sources"]


class DatasetSource:
    """Base of every source: ``to_dict``/``from_dict``, ``to_json``/``from_json``, ``load``."""

    @staticmethod
    def _get_source_type() -> str:
        raise NotImplementedError

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> "DatasetSource":
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, source_dict: dict[str, Any]) -> "DatasetSource":
        raise NotImplementedError

    @classmethod
    def from_json(cls, source_json: str) -> "DatasetSource":
        return cls.from_dict(json.loads(source_json))

    def load(self, dst_path: str | None = None) -> str:
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded")

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"


class CodeDatasetSource(DatasetSource):
    """Data made in code: the source is the run context's tags (user, script, source type)."""

    def __init__(self, tags: dict[str, Any]) -> None:
        self._tags = tags

    @staticmethod
    def _get_source_type() -> str:
        return "code"

    def to_dict(self) -> dict[str, Any]:
        return {"tags": self._tags}

    @classmethod
    def from_dict(cls, source_dict: dict[str, Any]) -> "CodeDatasetSource":
        return cls(tags=source_dict.get("tags"))  # type: ignore[arg-type]


class HTTPDatasetSource(DatasetSource):
    """An ``http(s)://`` URL."""

    def __init__(self, url: str) -> None:
        self._url = url

    @property
    def url(self) -> str:
        return self._url

    @staticmethod
    def _get_source_type() -> str:
        return "http"

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return isinstance(raw_source, str) and urlparse(raw_source).scheme in ("http", "https")

    @classmethod
    def _resolve(cls, raw_source: Any) -> "HTTPDatasetSource":
        return cls(str(raw_source))

    def to_dict(self) -> dict[str, Any]:
        return {"url": self._url}

    @classmethod
    def from_dict(cls, source_dict: dict[str, Any]) -> "HTTPDatasetSource":
        if source_dict.get("url") is None:
            raise InvalidParameterError('Failed to parse HTTPDatasetSource: missing key "url"')
        return cls(source_dict["url"])

    def load(self, dst_path: str | None = None) -> str:
        """Download the URL into ``dst_path`` (default: a new temp directory); return the file path."""
        import os
        import tempfile
        import urllib.request

        dst = dst_path or tempfile.mkdtemp(prefix="tureen-dataset-")
        os.makedirs(dst, exist_ok=True)
        name = os.path.basename(urlparse(self._url).path) or "dataset_source"
        if name in (".", "..") or "/" in name:
            name = "dataset_source"
        path = os.path.join(dst, name)
        with urllib.request.urlopen(self._url, timeout=60) as response, open(path, "wb") as f:  # noqa: S310
            while chunk := response.read(1 << 20):
                f.write(chunk)
        return path


class FileSystemDatasetSource(DatasetSource):
    """A file or directory named by URI (a local path, ``file://``, ``s3://`` ...)."""

    _scheme = ""

    def __init__(self, uri: str) -> None:
        self._uri = uri

    @property
    def uri(self) -> str:
        return self._uri

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self._uri}

    @classmethod
    def from_dict(cls, source_dict: dict[str, Any]) -> "FileSystemDatasetSource":
        if source_dict.get("uri") is None:
            raise InvalidParameterError(f'Failed to parse {cls.__name__}: missing key "uri"')
        return cls(source_dict["uri"])

    @classmethod
    def _resolve(cls, raw_source: Any) -> "FileSystemDatasetSource":
        return cls(str(raw_source))

    def load(self, dst_path: str | None = None) -> str:
        """A local copy of the data (a local source is returned as it is when no ``dst_path`` is given)."""
        from tureen.artifacts import download_artifacts

        return download_artifacts(artifact_uri=self._uri, dst_path=dst_path)


class LocalArtifactDatasetSource(FileSystemDatasetSource):
    @staticmethod
    def _get_source_type() -> str:
        return "local"

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        import os

        if not isinstance(raw_source, (str, os.PathLike)):
            return False
        scheme = urlparse(str(raw_source)).scheme
        return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")

    def load(self, dst_path: str | None = None) -> str:
        import os

        if dst_path is None:
            path = self._uri[len("file://"):] if self._uri.startswith("file://") else self._uri
            if os.path.exists(path):
                return os.path.abspath(path)
        return super().load(dst_path)


class S3ArtifactDatasetSource(FileSystemDatasetSource):
    @staticmethod
    def _get_source_type() -> str:
        return "s3"

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return isinstance(raw_source, str) and urlparse(raw_source).scheme == "s3"


#: resolution order: the last source that can resolve a raw source wins (as in MLflow's registry)
_SOURCES: list[type[DatasetSource]] = [LocalArtifactDatasetSource, S3ArtifactDatasetSource, HTTPDatasetSource,
                                       CodeDatasetSource]


def resolve_dataset_source(raw_source: Any, candidate_sources: list[type[DatasetSource]] | None = None
                           ) -> DatasetSource:
    """The source for a raw value: a path (``local``), an ``s3://`` URI, an ``http(s)://`` URL.

    Raises:
        InvalidParameterError: nothing can resolve it.

    Example:
        >>> resolve_dataset_source("https://example.org/iris.csv").to_dict()
        {'url': 'https://example.org/iris.csv'}
    """
    import os

    if isinstance(raw_source, os.PathLike):
        raw_source = os.fspath(raw_source)
    matching = [s for s in _SOURCES
                if (not candidate_sources or any(issubclass(s, c) for c in candidate_sources))
                and s._can_resolve(raw_source)]
    if not matching:
        raise InvalidParameterError(f"Could not find a dataset source that can resolve {raw_source!r} (supported: "
                                    "local paths, file://, s3:// and http(s):// URIs, or a DatasetSource)")
    return matching[-1]._resolve(raw_source)


def get_registered_sources() -> list[type[DatasetSource]]:
    """The source classes, in resolution order."""
    return list(_SOURCES)


def get_dataset_source_from_json(source_json: str, source_type: str) -> DatasetSource:
    """The source object back from a run's dataset record (``source`` and ``source_type``).

    Example:
        >>> get_dataset_source_from_json('{"url": "https://x/y.csv"}', "http").url
        'https://x/y.csv'
    """
    for source in _SOURCES:
        if source._get_source_type() == source_type:
            return source.from_json(source_json)
    raise InvalidParameterError(f"Unknown dataset source type {source_type!r} (known: "
                                f"{', '.join(s._get_source_type() for s in _SOURCES)})")
