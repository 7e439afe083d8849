"""The local artifact repository: a directory tree, written atomically, with paths confined to its root."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError
from tureen.tracking.entities import FileInfo

__all__ = ["LocalArtifactRepository", "local_path_of", "check_relative_path"]


def local_path_of(uri: str) -> Path:
    """The local path of a ``file://`` URI or plain path."""
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidParameterError(f"Artifact URI {uri!r} names host {parsed.netloc!r}; only local files are "
                                        "supported")
        return Path(unquote(parsed.path))
    return Path(uri).expanduser()


def check_relative_path(path: str | None, what: str = "artifact path") -> str:
    """Normalize a path inside an artifact root; refuse absolute paths, ``..``, NUL and backslashes tricks.

    Example:
        >>> check_relative_path("model/MLmodel")
        'model/MLmodel'
    """
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidParameterError(f"Invalid {what} {path!r}: it must be a string")
    if "\x00" in path:
        raise InvalidParameterError(f"Invalid {what} {path!r}: it contains a NUL character")
    text = path.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise InvalidParameterError(f"Invalid {what} {path!r}: it must be relative to the run's artifact root, "
                                    "not absolute")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidParameterError(f"Invalid {what} {path!r}: '..' is not allowed (paths must stay inside the "
                                    "artifact root)")
    return "/".join(parts)


class LocalArtifactRepository:
    """Artifacts in a local directory (``file://`` URI or path).

    Example:
        >>> repo = LocalArtifactRepository("/tmp/tureen-doc-artifacts")  # doctest: +SKIP
        >>> repo.log_text("hi", "a/b.txt"); [f.path for f in repo.list_artifacts("a")]  # doctest: +SKIP
        ['a/b.txt']
    """

    def __init__(self, root_uri: str) -> None:
        self.root_uri = root_uri
        self.root = local_path_of(root_uri).absolute()

    def local_path(self) -> Path:
        return self.root

    # -- confinement -------------------------------------------------------------------------------------
    def _target(self, rel: str | None) -> Path:
        rel = check_relative_path(rel)
        target = self.root / rel if rel else self.root
        # a symlink anywhere on the way may lead outside the root: compare resolved paths
        root_real = Path(os.path.realpath(self.root))
        real = Path(os.path.realpath(target))
        if real != root_real and root_real not in real.parents:
            raise InvalidParameterError(f"Invalid artifact path {rel!r}: it resolves outside the artifact root "
                                        "(through a symbolic link)")
        return target

    # -- writing -----------------------------------------------------------------------------------------
    def log_artifact(self, local_file: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        src = Path(local_file)
        if not src.is_file():
            raise ResourceNotFoundError(f"Cannot log artifact {str(src)!r}: no such file")
        dest_dir = self._target(artifact_path)
        dest = self._target(f"{check_relative_path(artifact_path)}/{src.name}".lstrip("/"))
        dest_dir.mkdir(parents=True, exist_ok=True)
        self._copy_file(src, dest)

    def log_artifacts(self, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        src = Path(local_dir)
        if not src.is_dir():
            raise ResourceNotFoundError(f"Cannot log artifacts from {str(src)!r}: no such directory")
        src_real = Path(os.path.realpath(src))
        base = check_relative_path(artifact_path)
        files = []
        for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
            for name in list(dirnames) + filenames:
                p = Path(dirpath) / name
                if p.is_symlink():
                    real = Path(os.path.realpath(p))
                    if real != src_real and src_real not in real.parents:
                        raise InvalidParameterError(f"Refusing to log {str(p)!r}: it is a symbolic link leading "
                                                    f"outside {str(src)!r}")
            for name in filenames:
                p = Path(dirpath) / name
                files.append((p, p.relative_to(src).as_posix()))
        self._target(base).mkdir(parents=True, exist_ok=True)
        for p, rel in files:
            dest = self._target(f"{base}/{rel}" if base else rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._copy_file(p, dest)

    @staticmethod
    def _copy_file(src: Path, dest: Path) -> None:
        # copy beside the target then rename: a reader never sees half a file
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()

    def publish_directory(self, local_dir: str | os.PathLike[str]) -> None:
        """Make ``local_dir``'s tree the content of this (not yet existing) root, all at once.

        The tree is copied to a temp directory beside the root and renamed into place: readers see either
        nothing or the whole tree, and a failure leaves nothing behind.
        """
        if self.root.exists():
            raise InvalidParameterError(f"Cannot publish into {self.root_uri}: it already exists")
        self.root.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.root.with_name(f".{self.root.name}.{uuid.uuid4().hex}.tmp")
        try:
            shutil.copytree(local_dir, tmp, symlinks=False)
            os.rename(tmp, self.root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def log_bytes(self, data: bytes, artifact_file: str) -> None:
        rel = check_relative_path(artifact_file, "artifact file")
        if not rel:
            raise InvalidParameterError("Invalid artifact file '': name a file inside the artifact root")
        dest = self._target(rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._target(rel)  # re-check: the parent may be a symlink created meanwhile
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()

    def log_text(self, text: str, artifact_file: str) -> None:
        self.log_bytes(text.encode("utf-8"), artifact_file)

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        """JSON, or YAML when the file name ends in ``.yaml``/``.yml``."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            try:
                text = yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False)
            except yaml.YAMLError as exc:
                raise InvalidParameterError(f"log_dict: {artifact_file!r} cannot hold this value as YAML: {exc}"
                                            ) from None
        else:
            try:
                text = json.dumps(dictionary, indent=2)
            except (TypeError, ValueError) as exc:
                raise InvalidParameterError(f"log_dict: {artifact_file!r} cannot hold this value as JSON: {exc}"
                                            ) from None
        self.log_text(text, artifact_file)

    # -- reading -----------------------------------------------------------------------------------------
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (paths relative to the root; empty list if nothing is there)."""
        rel = check_relative_path(path)
        target = self._target(rel)
        if not target.is_dir():
            return []
        out = []
        for child in sorted(target.iterdir(), key=lambda p: p.name):
            if child.name.startswith(".") and child.name.endswith(".tmp"):
                continue
            child_rel = f"{rel}/{child.name}" if rel else child.name
            try:
                self._target(child_rel)
            except InvalidParameterError:
                continue  # a symlink leading outside: not part of the artifacts
            if child.is_dir():
                out.append(FileInfo(child_rel, True, None))
            else:
                out.append(FileInfo(child_rel, False, child.stat().st_size))
        return out

    def download_artifacts(self, artifact_path: str | None = None, dst_path: str | os.PathLike[str] | None = None
                           ) -> str:
        """Copy a file or directory to ``dst_path`` (a new temp dir if ``None``); return the local path."""
        rel = check_relative_path(artifact_path)
        src = self._target(rel)
        if not src.exists():
            raise ResourceNotFoundError(f"No artifact at {rel or '/'!r} under {self.root_uri}")
        dst = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="tureen-artifacts-"))
        dst.mkdir(parents=True, exist_ok=True)
        out = dst / (src.name if rel else "")
        if src.is_dir():
            for dirpath, _dirs, filenames in os.walk(src):
                for name in filenames:
                    p = Path(dirpath) / name
                    inner = p.relative_to(self.root).as_posix()
                    self._target(inner)  # refuses symlinks leading outside
                    dest = out / p.relative_to(src)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(p, dest)
            out.mkdir(parents=True, exist_ok=True)
        else:
            shutil.copyfile(src, out)
        return str(out)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        target = self._target(artifact_path)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
