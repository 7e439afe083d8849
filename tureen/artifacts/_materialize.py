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
from pathlib import Path

from tureen.exceptions import ModelIntegrityError, ModelPathError, ResourceNotFoundError

DIGEST_TAG = "tureen.artifacts.digest"
_MARKER = ".tureen-download-digest"  # suffix of the file beside each download
_REGISTRY_META = "registered_model_meta"  # MLflow's, see _verify


def directory_digest(path: str | os.PathLike[str], *, skip: frozenset[str] = frozenset()) -> str:
    """SHA-256 over the sorted ``(relative path, sha256 of content)`` of every file below ``path``.

    Every file counts (``.pyc`` and ``__pycache__`` too) but the relative paths in ``skip``; a symlink or
    special file is refused.

    Raises:
        ModelPathError: the directory holds a symlink or a special file.

    Example:
        >>> directory_digest("/nonexistent-dir")
        'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    from tureen.flavors._integrity import sha256_file
    from tureen.models._paths import check_no_symlinks

    root = Path(path)
    check_no_symlinks(root)
    lines = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            p = Path(dirpath) / name
            if not p.is_file():
                from tureen.exceptions import ModelPathError

                raise ModelPathError(f"{str(p)!r} is not a regular file; it cannot be part of a model")
            rel = p.relative_to(root).as_posix()
            if rel not in skip:
                lines.append(f"{rel}\0{sha256_file(p)}\n")
    outer = hashlib.sha256()
    for line in sorted(lines):
        outer.update(line.encode("utf-8"))
    return "sha256:" + outer.hexdigest()


def _has_mlflow_registry_meta(path: Path) -> bool:
    from tureen.flavors._integrity import _is_mlflow_registry_meta

    meta = path / _REGISTRY_META
    return meta.is_file() and not meta.is_symlink() and _is_mlflow_registry_meta(meta)


def _verify(path: Path, expected: str | None, uri: str) -> None:
    if expected is None:
        return
    actual = directory_digest(path)
    if actual != expected and _has_mlflow_registry_meta(path):
        # MLflow's models:/ load of local artifacts writes its small registered_model_meta (name and version)
        # into the model directory itself; only that file, in exactly MLflow's form, is left out
        actual = directory_digest(path, skip=frozenset({_REGISTRY_META}))
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
    # the marker lives beside the download, not in it, so the downloaded files are exactly the model's
    marker = cache_root / f"{key}{_MARKER}"
    if target.exists():
        recorded = marker.read_text().strip() if marker.is_file() else None
        try:
            fresh = recorded is not None and (expected_digest is None or recorded == expected_digest) and \
                directory_digest(target) == recorded
        except ModelPathError:
            fresh = False
        if fresh:
            return target
        marker.unlink(missing_ok=True)
        shutil.rmtree(target, ignore_errors=True)  # stale, damaged or half published: fetch again
    cache_root.mkdir(parents=True, exist_ok=True)
    from tureen._tmp import make_temp_dir

    tmp = make_temp_dir(cache_root, key[:16])
    try:
        repo.download_artifacts("", str(tmp))
        _verify(tmp, expected_digest, artifact_uri)
        digest = directory_digest(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
            return target
        marker_tmp = cache_root / f".{key}{_MARKER}.{os.getpid()}"
        marker_tmp.write_text(digest)
        os.replace(marker_tmp, marker)
        return target
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
