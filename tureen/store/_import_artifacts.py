"""``tureen import --copy-artifacts``: stream artifact files from an import's source into the destination's
artifact root, verified by SHA-256, never trusting a path the source names.

A source names each file by a path relative to a run's (or logged model's) artifact root, and hands a
factory of byte chunks (read 1 MiB at a time: memory stays constant whatever a file's size). Each path is
checked before anything is written (no ``..``, nothing absolute, no NUL: :func:`safe_relative`), and the
destination repository confines it again. A file is written beside its target and renamed into place, so
an import killed in the middle leaves whole files only, and a re-run simply writes them again. After each
file is written it is read back from the destination and hashed: a file whose bytes differ from what the
source sent is an error.

Destinations: a local directory (``file://`` URIs and paths) and S3 (``s3://``).

Example:
    >>> sink = ArtifactSink("file:///tmp/dest/1/abc/artifacts")  # doctest: +SKIP
    >>> sink.copy("model/MLmodel", lambda: iter([b"flavors: {}\\n"]))  # doctest: +SKIP
    ('3f…', '3f…', 13)
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from tureen.exceptions import InvalidParameterError

__all__ = ["ArtifactSink", "safe_relative", "CHUNK"]

CHUNK = 1 << 20


def safe_relative(path: Any, where: str) -> str:
    """``path`` if it is a clean relative path inside an artifact root; a typed error otherwise.

    Unlike :func:`tureen.artifacts.local.check_relative_path` nothing is normalized away: a path the
    source names with ``.``, ``//`` or a backslash is refused as it is (an honest source never sends one).
    """
    from tureen.artifacts.local import check_relative_path

    if not isinstance(path, str) or not path:
        raise InvalidParameterError(f"The source names an artifact of {where} with an invalid path {path!r}")
    try:
        clean = check_relative_path(path)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"Refusing an artifact path of {where} that escapes its root: "
                                    f"{exc.message}") from None
    if clean != path:
        raise InvalidParameterError(f"Refusing an artifact path of {where} that is not a plain relative path: "
                                    f"{path!r}")
    return clean


class _Hashing:
    """A file-like ``read`` over an iterator of chunks, hashing what passes (for S3's streaming upload)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""
        self.sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                chunk = next(self._it)
            except StopIteration:
                break
            self.sha.update(chunk)
            self.size += len(chunk)
            self._buf += chunk
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


class ArtifactSink:
    """The destination of one run's (or logged model's) artifacts: ``copy`` one file at a time."""

    def __init__(self, root_uri: str) -> None:
        from tureen.uri import split_scheme

        self.root_uri = root_uri
        scheme, _ = split_scheme(root_uri)
        if scheme in ("", "file"):
            from tureen.artifacts.local import LocalArtifactRepository

            self._local: Any = LocalArtifactRepository(root_uri)
            self._s3: Any = None
        elif scheme == "s3":
            from tureen.artifacts.s3 import S3ArtifactRepository

            self._local, self._s3 = None, S3ArtifactRepository(root_uri)
        else:
            raise InvalidParameterError(f"--copy-artifacts writes to local directories and s3:// only; the "
                                        f"destination artifact location is {root_uri!r}")

    def copy(self, rel: str, chunks: Callable[[], Iterator[bytes]]) -> tuple[str, str, int]:
        """Stream one file to ``rel`` under the root; return the SHA-256 of what the source sent, the SHA-256
        of the copy read back from the destination, and the size (a mismatch raises)."""
        if self._local is not None:
            dest = self._local._target(rel)  # confined again (symlinks at the destination included)
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._local._target(rel)  # the directories just made may not lead elsewhere either
            sha, size = hashlib.sha256(), 0
            tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "wb") as fh:
                    for chunk in chunks():
                        sha.update(chunk)
                        size += len(chunk)
                        fh.write(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, dest)
            finally:
                if tmp.exists():
                    tmp.unlink()
            written = _file_sha(dest)
        else:
            stream = _Hashing(chunks())
            self._s3.log_stream(stream, rel)
            sha, size = stream.sha, stream.size
            check = hashlib.sha256()
            for chunk in self._s3.open_stream(rel, CHUNK):
                check.update(chunk)
            written = check.hexdigest()
        if written != sha.hexdigest():
            raise InvalidParameterError(f"The copy of artifact {rel!r} at {self.root_uri} does not match what the "
                                        "source sent (checksum mismatch)")
        return sha.hexdigest(), written, size


def _file_sha(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                return sha.hexdigest()
            sha.update(chunk)


def local_files(root: Path, where: str,
                confine: Path | None = None) -> Iterator[tuple[str, Callable[[], Iterator[bytes]]]]:
    """Every file under a local artifact ``root`` as ``(relative path, chunk factory)``, refusing symlinks and
    a root that lies outside ``confine`` (the source store's directory)."""
    if root.is_symlink():
        raise InvalidParameterError(f"Refusing the artifacts of {where}: {root} is a symbolic link")
    real = Path(os.path.realpath(root))
    if confine is not None:
        bound = Path(os.path.realpath(confine))
        if real != bound and bound not in real.parents:
            raise InvalidParameterError(f"Refusing the artifacts of {where}: their location {root} lies outside "
                                        f"the source store {confine}")
    if not real.is_dir():
        return
    stack = [(real, "")]
    while stack:
        directory, prefix = stack.pop()
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            rel = f"{prefix}{entry.name}"
            if entry.is_symlink():
                raise InvalidParameterError(f"Refusing a symbolic link among the artifacts of {where}: {rel}")
            if entry.is_dir():
                stack.append((Path(entry.path), rel + "/"))
            elif entry.is_file():
                yield rel, (lambda p=entry.path: _read_chunks(p))


def _read_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                return
            yield chunk
