"""Turning an artifact URI into a verified local directory: digests, and the download cache.

A model directory's *digest* is the SHA-256 over its sorted ``(path, sha256 of content)`` list; it is
recorded in the store when the model is logged (logged-model tag ``tureen.artifacts.digest``) and checked
whenever the model is resolved, so files changed or truncated after logging are caught
(:class:`~tureen.exceptions.ModelIntegrityError`).

Local artifacts are used in place (no copy). Artifacts of other repositories are downloaded once into
``$TUREEN_HOME/cache/artifacts/<sha256 of the URI>`` (into a temp directory, verified, then renamed into
place, so a concurrent or interrupted download never leaves a half directory) and reused while they still
verify.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from tureen.exceptions import ModelIntegrityError, ResourceNotFoundError

DIGEST_TAG = "tureen.artifacts.digest"
_MARKER = ".tureen-download-digest"


def directory_digest(path: str | os.PathLike[str]) -> str:
    """Example:
        >>> directory_digest("/nonexistent-dir")  # doctest: +SKIP
    """
    root = Path(path)
    lines = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if name == _MARKER or name.endswith(".pyc"):
                continue
            p = Path(dirpath) / name
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            lines.append(f"{p.relative_to(root).as_posix()}\0{h.hexdigest()}\n")
    outer = hashlib.sha256()
    for line in sorted(lines):
        outer.update(line.encode("utf-8"))
    return "sha256:" + outer.hexdigest()


def _verify(path: Path, expected: str | None, uri: str) -> None:
    if expected is None:
        return
    actual = directory_digest(path)
    if actual != expected:
        raise ModelIntegrityError(f"The files at {uri} do not match the digest recorded when they were logged "
                                  f"(expected {expected}, found {actual}): they were changed or truncated after "
                                  "logging")


def materialize(artifact_uri: str, expected_digest: str | None = None) -> Path:
    """A local directory with the files at ``artifact_uri``, verified against ``expected_digest``."""
    from tureen.artifacts import get_artifact_repository
    from tureen.tracking._config import tureen_home

    repo = get_artifact_repository(artifact_uri)
    local = getattr(repo, "local_path", None)
    if local is not None:
        path = Path(local())
        if not path.is_dir():
            raise ResourceNotFoundError(f"No artifacts at {artifact_uri}: {str(path)!r} does not exist")
        _verify(path, expected_digest, artifact_uri)
        return path
    cache_root = tureen_home() / "cache" / "artifacts"
    key = hashlib.sha256(artifact_uri.encode("utf-8")).hexdigest()
    target = cache_root / key
    # the recorded digest lives beside the directory, never inside it: a model directory must hold only
    # the files that were logged (the integrity check refuses any extra file)
    marker = cache_root / f"{key}{_MARKER}"
    if marker.is_file() and target.is_dir():
        recorded = marker.read_text().strip()
        if (expected_digest is None or recorded == expected_digest) and directory_digest(target) == recorded:
            return target
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)  # stale or damaged: fetch again
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache_root))
    try:
        repo.download_artifacts("", str(tmp))
        _verify(tmp, expected_digest, artifact_uri)
        digest = directory_digest(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
        marker_tmp = cache_root / f".{key}.{os.getpid()}{_MARKER}"
        marker_tmp.write_text(digest)
        os.replace(marker_tmp, marker)
        return target
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
