"""Integrity of a model directory: SHA-256 digests of every byte, the MLmodel file included.

At save time tureen records, under the MLmodel's ``tureen`` key (which MLflow keeps as an unknown key):

* ``files``: ``{relative path: "sha256:<hex>"}`` for *every* file of the directory except ``MLmodel``
  (``.pyc`` files and ``__pycache__`` directories included: Python runs a cached ``.pyc`` instead of its
  source, so an uncovered one would be a way in);
* ``mlmodel``: the SHA-256 of the MLmodel file's bytes without the one line that holds this digest
  (``  mlmodel: sha256:...`` in the ``tureen:`` block; tureen writes MLmodel with sorted keys in block
  style, so that line is always where it is looked for). Every other byte of the file is covered, the
  ``files`` map included: an entry removed together with its file is caught, and so is a comment or a
  reformatting. Checking it costs one SHA-256 of a few kilobytes, no YAML work.

:func:`verify_model_dir` checks, before anything is loaded: no symlink anywhere in the directory (a symlink
can point at any file on the machine), no special files, every recorded file present and unchanged, no file
added, and the MLmodel byte for byte as written. A model without digests (saved by MLflow, or with its
digest section removed) loads with an :class:`~tureen.exceptions.UnverifiedModelWarning`, or is refused
when the caller asks for verified models only (``verified_only=True`` or ``TUREEN_VERIFIED_ONLY=true``).

A digest is not a signature: whoever can rewrite the directory can rewrite the digests too. Digests catch
corruption, truncation and edits made without recomputing them; they do not authenticate the author.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import warnings
from pathlib import Path
from typing import Any, Iterator

from tureen.exceptions import (InvalidParameterError, ModelFormatError, ModelIntegrityError, ModelPathError,
                               UnverifiedModelError, UnverifiedModelWarning)
from tureen.models._paths import check_model_paths
from tureen.models.mlmodel import MLMODEL_FILE_NAME, TUREEN_KEY, Model

__all__ = ["file_digests", "mlmodel_digest", "seal_model_dir", "verify_model_dir", "require_verified",
           "model_files", "sha256_file", "no_bytecode"]

FILES_KEY = "files"
MLMODEL_KEY = "mlmodel"
VERIFIED_ONLY_ENV = "TUREEN_VERIFIED_ONLY"
# MLflow's models:/ download writes this small file (model name and version) into the model directory; it
# is tolerated only in exactly that form: a small mapping of those two keys, at the top level
_MLFLOW_REGISTRY_META = "registered_model_meta"
_MLFLOW_REGISTRY_KEYS = {"model_name", "model_version"}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def require_verified(value: bool | None = None) -> bool:
    """Whether only verified models may load: the caller's argument, else ``TUREEN_VERIFIED_ONLY``.

    Raises:
        InvalidParameterError: the setting is not one of the accepted spellings.

    Example:
        >>> require_verified(True)
        True
    """
    if value is not None:
        if not isinstance(value, bool):
            raise InvalidParameterError(f"verified_only must be True, False or None, got {value!r}")
        return value
    raw = os.environ.get(VERIFIED_ONLY_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise InvalidParameterError(f"{VERIFIED_ONLY_ENV}={os.environ[VERIFIED_ONLY_ENV]!r} is not a boolean; "
                                f"use one of {', '.join(_TRUE)} or {', '.join(repr(v) for v in _FALSE)}")


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_mlflow_registry_meta(path: Path) -> bool:
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 4096:
            return False
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - anything unreadable is not MLflow's file, so it counts as added
        return False
    return isinstance(data, dict) and set(data) <= _MLFLOW_REGISTRY_KEYS and all(
        isinstance(v, (str, int)) for v in data.values())


def model_files(root: str | os.PathLike[str], *, tolerate_registry_meta: bool = False) -> list[str]:
    """Every file of the model directory (MLmodel excluded), as sorted posix relative paths.

    Raises:
        ModelPathError: the directory holds a symlink or a special file (FIFO, device, socket).
    """
    base = Path(root)
    out, bad = [], []
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = os.lstat(p)
            rel = p.relative_to(base).as_posix()
            if stat.S_ISLNK(st.st_mode):
                bad.append(f"{rel!r} is a symlink")
            elif stat.S_ISDIR(st.st_mode):
                continue
            elif not stat.S_ISREG(st.st_mode):
                bad.append(f"{rel!r} is not a regular file")
            elif st.st_nlink > 1:
                # a hard link shares its content with a file elsewhere (possibly outside the directory)
                bad.append(f"{rel!r} is a hard link (it has {st.st_nlink} names)")
            elif rel == MLMODEL_FILE_NAME:
                continue
            elif tolerate_registry_meta and rel == _MLFLOW_REGISTRY_META and _is_mlflow_registry_meta(p):
                continue
            else:
                out.append(rel)
    if bad:
        raise ModelPathError(f"The model directory {str(base)!r} is refused: {'; '.join(sorted(bad)[:5])} "
                             "(symlinks, hard links and special files inside a model directory are not allowed)")
    return sorted(out)


def file_digests(root: str | os.PathLike[str]) -> dict[str, str]:
    """SHA-256 of every file of the model (MLmodel itself is covered by :func:`mlmodel_digest`).

    Example:
        >>> file_digests("/nonexistent")
        {}
    """
    r = Path(root)
    return {rel: "sha256:" + sha256_file(r / rel) for rel in model_files(r)}


_DIGEST_LINE = re.compile(r"^  mlmodel: (sha256:[0-9a-f]{64})$")


def _split_own_digest(text: str) -> tuple[str, str | None]:
    """(MLmodel text without the ``tureen.mlmodel`` line, that line's digest or None).

    tureen writes MLmodel with sorted keys in block style, so its own digest is one line
    ``  mlmodel: sha256:<hex>`` inside the top-level ``tureen:`` block; everything else is covered byte for byte.
    """
    lines = text.splitlines(keepends=True)
    in_block = False
    for i, line in enumerate(lines):
        if not line.startswith(" "):
            in_block = line.rstrip("\r\n") == f"{TUREEN_KEY}:"
            continue
        if in_block:
            m = _DIGEST_LINE.match(line.rstrip("\n"))
            if m is not None:
                return "".join(lines[:i] + lines[i + 1:]), m.group(1)
    return text, None


def _insert_own_digest(text: str, digest: str) -> str:
    """``text`` (MLmodel as yaml.safe_dump writes it, without ``tureen.mlmodel``) with the digest line where
    yaml.safe_dump would put it: in the ``tureen:`` block, before its first key that sorts after it."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == f"{TUREEN_KEY}:")
    at = start + 1
    while at < len(lines) and lines[at].startswith(" "):
        key = lines[at][2:].split(":", 1)[0] if not lines[at].startswith("   ") and not lines[at].startswith("  -") \
            else None
        if key is not None and key > MLMODEL_KEY:
            break
        at += 1
    return "".join(lines[:at] + [f"  {MLMODEL_KEY}: {digest}\n"] + lines[at:])


def mlmodel_digest(text: str) -> str:
    """The digest of an MLmodel file's text without its own ``tureen.mlmodel`` line.

    Example:
        >>> mlmodel_digest("flavors: {}\ntureen:\n  mlmodel: sha256:" + "0" * 64 + "\n") == \
        ...     mlmodel_digest("flavors: {}\ntureen:\n")
        True
    """
    rest, _ = _split_own_digest(text)
    return "sha256:" + hashlib.sha256(rest.encode("utf-8")).hexdigest()


def seal_model_dir(root: str | os.PathLike[str], model: Model, *, version: str | None = None) -> Model:
    """Record the digests of every file and of the MLmodel in ``model`` and write it into ``root``.

    Called last when a model directory is built (and again by ``log_model`` after it fills in the run).
    """
    from tureen import __version__

    r = Path(root)
    own = {k: v for k, v in model.tureen.items() if k not in (FILES_KEY, MLMODEL_KEY)}
    own["version"] = version or own.get("version") or __version__
    own[FILES_KEY] = file_digests(r)
    model.tureen = own
    without = model.to_yaml()
    digest = "sha256:" + hashlib.sha256(without.encode("utf-8")).hexdigest()
    model.tureen[MLMODEL_KEY] = digest
    text = _insert_own_digest(without, digest)
    # atomically, as Model.save does; one YAML dump in all (this runs on every save)
    target = r / MLMODEL_FILE_NAME
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{id(model):x}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return model


def _unverified(root: Path, reason: str, required: bool, warn: bool) -> bool:
    if required:
        raise UnverifiedModelError(f"Model at {str(root)!r} is unverified ({reason}) and only verified models "
                                   f"may be loaded (verified_only=True or {VERIFIED_ONLY_ENV}=true)")
    if warn:
        warnings.warn(f"Loading the model at {str(root)!r} without an integrity check: {reason}. Load only "
                      f"models you trust, or set {VERIFIED_ONLY_ENV}=true to refuse such models",
                      UnverifiedModelWarning, stacklevel=3)
    return False


def verify_model_dir(root: str | os.PathLike[str], model: Model | None = None, *,
                     verified_only: bool | None = None, warn: bool = True) -> bool:
    """Check the whole model directory against the digests recorded at save time.

    Returns True when every byte is verified; False when the model is unverified (no digests, e.g. saved
    by MLflow, or saved by a tureen older than the MLmodel digest), after warning (``warn``).

    Raises:
        ModelPathError: a symlink or special file inside the directory.
        ModelIntegrityError: a file was changed, truncated, removed, added or renamed, or MLmodel edited.
        UnverifiedModelError: the model is unverified and verified models are required.

    Example:
        >>> verify_model_dir("saved_model_dir")  # doctest: +SKIP
        True
    """
    required = require_verified(verified_only)
    r = Path(root)
    model = model or Model.load(r)
    present = set(model_files(r, tolerate_registry_meta=True))
    check_model_paths(r, model)
    recorded = model.tureen.get(FILES_KEY)
    if not recorded:
        reason = ("its digest section was removed from MLmodel" if model.tureen.get("version")
                  else "no digests recorded: it was not saved by tureen")
        return _unverified(r, reason, required, warn)
    if not isinstance(recorded, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in recorded.items()):
        raise ModelIntegrityError(f"Model at {str(r)!r}: the recorded file digests are corrupt")
    want_mlmodel = model.tureen.get(MLMODEL_KEY)
    if want_mlmodel is None:
        # saved by a tureen that skipped bytecode caches (and whose loads wrote them): tolerate those
        # extras as it did; such a model is reported unverified below, so verified_only still refuses it
        present = {p for p in present if not (p.endswith(".pyc") or "__pycache__/" in f"/{p}")}
    problems = []
    for rel, digest in sorted(recorded.items()):
        if rel not in present:
            problems.append(f"{rel}: missing")
            continue
        algo, _, want = digest.partition(":")
        if algo != "sha256" or sha256_file(r / rel) != want:
            problems.append(f"{rel}: content differs from the saved digest (tampered or truncated)")
    for rel in sorted(present - set(recorded)):
        problems.append(f"{rel}: not part of the saved model (added or renamed)")
    if want_mlmodel is not None:
        problems.extend(_mlmodel_problems(r, want_mlmodel))
    if problems:
        raise ModelIntegrityError(f"Model at {str(r)!r} failed its integrity check: " + "; ".join(problems))
    if want_mlmodel is None:
        return _unverified(r, "its MLmodel file records no digest of itself (saved by an older tureen)",
                           required, warn)
    return True


def _mlmodel_problems(root: Path, want: Any) -> list[str]:
    try:
        text = (root / MLMODEL_FILE_NAME).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"Cannot read the MLmodel of {str(root)!r}: {exc}") from None
    rest, line_digest = _split_own_digest(text)
    # byte for byte: a changed value, a reformatting or an added comment are all edits
    if line_digest is None or line_digest != want:
        return ["MLmodel: its own digest line was edited"]
    if "sha256:" + hashlib.sha256(rest.encode("utf-8")).hexdigest() != want:
        return ["MLmodel: content differs from its saved digest (edited)"]
    return []


@contextlib.contextmanager
def no_bytecode() -> Iterator[None]:
    """Load a model's code without writing ``__pycache__`` into its directory.

    The digests cover every file, ``.pyc`` included; a cache written by the first load would be an
    unrecorded file at the next one (and an unverified cache is how a crafted ``.pyc`` would run).
    """
    import sys

    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = before
