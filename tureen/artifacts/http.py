"""Artifacts behind a tracking server's proxy (``mlflow-artifacts:`` URIs, and ``http(s)://`` URIs of the
proxy itself), streamed both ways with constant memory.

``mlflow-artifacts:/1/<run>/artifacts`` names a path on the server of the current tracking URI (as MLflow
resolves it); ``mlflow-artifacts://host:port/1/...`` names the server explicitly. Downloads go to a temp
file beside the target and are renamed into place; paths are confined (no ``..``, no absolute paths).

Example:
    >>> repo = MlflowArtifactsRepository("mlflow-artifacts://127.0.0.1:5000/1/abc/artifacts")  # doctest: +SKIP
    >>> repo.log_text("hello", "notes.txt")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError
from tureen.tracking.entities import FileInfo

__all__ = ["MlflowArtifactsRepository"]

_PROXY = "/api/2.0/mlflow-artifacts/artifacts"
_CHUNK = 1 << 20


def _server_and_path(uri: str) -> tuple[str, str]:
    from tureen.artifacts.local import check_relative_path

    parsed = urlparse(uri)
    if parsed.scheme == "mlflow-artifacts":
        if parsed.netloc:
            base = f"http://{parsed.netloc}"
        else:
            from tureen.tracking._config import get_tracking_uri
            from tureen.tracking.stores.rest import last_base_url

            tracking = get_tracking_uri()
            base = tracking if tracking.startswith(("http://", "https://")) else (last_base_url() or "")
            if not base:
                raise InvalidParameterError(f"Cannot resolve {uri!r}: mlflow-artifacts:/ URIs live on a tracking "
                                            "server; set the tracking URI to that server (http://…)")
        return base.rstrip("/"), check_relative_path(parsed.path.lstrip("/"))
    if parsed.scheme in ("http", "https"):
        marker = parsed.path.find(_PROXY)
        if marker < 0:
            raise InvalidParameterError(f"Artifact URI {uri!r} is not a tracking server's artifact proxy "
                                        f"(its path has no {_PROXY})")
        base = f"{parsed.scheme}://{parsed.netloc}{parsed.path[:marker]}"
        return base, check_relative_path(parsed.path[marker + len(_PROXY):].lstrip("/"))
    raise InvalidParameterError(f"Unsupported artifact URI {uri!r} for the proxy repository")


class MlflowArtifactsRepository:
    """Artifacts under one root on a tracking server's ``mlflow-artifacts`` proxy."""

    def __init__(self, root_uri: str) -> None:
        from tureen.tracking.stores._http import HttpClient

        self.root_uri = root_uri
        base, self.root = _server_and_path(root_uri)
        self.http = HttpClient(base)

    def _rel(self, path: str | None, what: str = "artifact path") -> str:
        from tureen.artifacts.local import check_relative_path

        rel = check_relative_path(path, what)
        return f"{self.root}/{rel}".strip("/") if rel else self.root

    def _url_path(self, full: str) -> str:
        return f"{_PROXY}/{quote(full)}"

    # -- writing ---------------------------------------------------------------------------------------------
    def _put_file(self, local: Path, full: str) -> None:
        import mimetypes

        ctype = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
        resp = self.http.request("PUT", self._url_path(full), data=lambda: open(local, "rb"),
                                 headers={"Content-Type": ctype})
        self.http.parse(resp, "PUT", self._url_path(full))

    def log_artifact(self, local_file: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        src = Path(local_file)
        if not src.is_file():
            raise ResourceNotFoundError(f"Cannot log artifact {str(src)!r}: no such file")
        self._put_file(src, f"{self._rel(artifact_path)}/{src.name}".strip("/"))

    def log_artifacts(self, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        src = Path(local_dir)
        if not src.is_dir():
            raise ResourceNotFoundError(f"Cannot log artifacts from {str(src)!r}: no such directory")
        base = self._rel(artifact_path)
        src_real = os.path.realpath(src)
        for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
            for name in filenames:
                p = Path(dirpath) / name
                real = os.path.realpath(p)
                if p.is_symlink() and not real.startswith(src_real.rstrip("/") + "/"):
                    raise InvalidParameterError(f"Refusing to log {str(p)!r}: it is a symbolic link leading "
                                                f"outside {str(src)!r}")
                self._put_file(p, f"{base}/{p.relative_to(src).as_posix()}".strip("/"))

    def log_bytes(self, data: bytes, artifact_file: str) -> None:
        full = self._rel(artifact_file, "artifact file")
        if full == self.root:
            raise InvalidParameterError("Invalid artifact file '': name a file inside the artifact root")
        resp = self.http.request("PUT", self._url_path(full), data=lambda: data,
                                 headers={"Content-Type": "application/octet-stream"})
        self.http.parse(resp, "PUT", self._url_path(full))

    def log_text(self, text: str, artifact_file: str) -> None:
        self.log_bytes(text.encode("utf-8"), artifact_file)

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2)
        self.log_text(text, artifact_file)

    # -- reading ---------------------------------------------------------------------------------------------
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path``, with paths relative to this repository's root."""
        from tureen.artifacts.local import check_relative_path

        rel = check_relative_path(path)
        out = self.http.call("GET", _PROXY, params={"path": self._rel(rel)})
        files = []
        for f in out.get("files", []):
            name = posixpath.basename(str(f.get("path", "")))
            if not name or name in (".", ".."):
                continue
            size = f.get("file_size")
            files.append(FileInfo(f"{rel}/{name}" if rel else name, bool(f.get("is_dir", False)),
                                  None if size is None else int(size)))
        return sorted(files, key=lambda f: f.path)

    def _download_file(self, rel: str, dest: Path) -> None:
        full = self._rel(rel)
        resp = self.http.request("GET", self._url_path(full), stream=True)
        try:
            if resp.status_code != 200:
                raise self.http.error(resp, "GET", self._url_path(full))
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "wb") as fh:
                    for chunk in resp.iter_content(_CHUNK):
                        fh.write(chunk)
                os.replace(tmp, dest)
            finally:
                if tmp.exists():
                    tmp.unlink()
        finally:
            resp.close()

    def _walk(self, rel: str) -> list[str]:
        files: list[str] = []
        for f in self.list_artifacts(rel or None):
            if f.is_dir:
                files.extend(self._walk(f.path))
            else:
                files.append(f.path)
        return files

    def download_artifacts(self, artifact_path: str | None = None, dst_path: str | os.PathLike[str] | None = None
                           ) -> str:
        """Copy a file or directory to ``dst_path`` (a new temp dir if ``None``); return the local path."""
        from tureen.artifacts.local import check_relative_path

        rel = check_relative_path(artifact_path)
        dst = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="tureen-artifacts-"))
        dst.mkdir(parents=True, exist_ok=True)
        listing = self.list_artifacts(rel or None)
        name = posixpath.basename(rel) if rel else ""
        if listing or not rel:  # a directory (or the root)
            out = dst / name if name else dst
            files = self._walk(rel)
            if not files and not listing and rel:
                raise ResourceNotFoundError(f"No artifact at {rel!r} under {self.root_uri}")
            for f in files:
                inner = f[len(rel):].lstrip("/") if rel else f
                self._download_file(f, out / inner)
            out.mkdir(parents=True, exist_ok=True)
            return str(out)
        out = dst / name
        try:
            self._download_file(rel, out)
        except Exception as exc:
            if getattr(exc, "http_status", None) == 404:
                raise ResourceNotFoundError(f"No artifact at {rel!r} under {self.root_uri}") from None
            raise
        return str(out)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        full = self._rel(artifact_path)
        if not full:
            raise InvalidParameterError("Refusing to delete the whole artifact store of the server")
        self.http.call("DELETE", self._url_path(full))


