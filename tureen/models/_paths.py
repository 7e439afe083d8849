"""Confinement: every path a model names must stay inside its directory.

An ``MLmodel`` file is untrusted input. Any value it holds that names a file (a flavor's data path, the
input example, ``serving_input_path``, a custom model's artifacts, ``model_code_path``, ``code``...) is
resolved only through :func:`confined_path`, which refuses absolute paths, ``..`` components, NUL bytes and
symlinks anywhere along the way, so a crafted model can never make tureen read (or serve, or copy into an
image) a file outside the directory the caller chose. Imports only the standard library and exceptions.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from tureen.exceptions import ModelFormatError, ModelPathError

__all__ = ["confined_path", "check_no_symlinks", "check_model_paths", "symlinks_in"]


def confined_path(root: str | os.PathLike[str], rel: Any, what: str, *, must_exist: bool = True) -> Path:
    """The file or directory ``rel`` (as written in MLmodel) inside the model directory ``root``.

    Args:
        root: the model directory (chosen by the caller, so trusted; it may itself be a symlink).
        rel: the relative path the model names (untrusted).
        what: what the path is, for the error message ("xgboost model file").
        must_exist: raise :class:`ModelFormatError` when nothing is there.

    Raises:
        ModelPathError: ``rel`` is not a string, is absolute, contains ``..`` or a NUL byte, or passes
            through a symlink.
        ModelFormatError: the path is missing (``must_exist``).

    Example:
        >>> confined_path("/models/m", "../etc/passwd", "data", must_exist=False)
        Traceback (most recent call last):
        ...
        tureen.exceptions.ModelPathError: MLmodel names data '../etc/passwd', which leaves the model directory ('..' is not allowed)
    """
    if not isinstance(rel, str) or not rel.strip():
        raise ModelPathError(f"MLmodel names {what} as {rel!r}: expected a non-empty relative path")
    if "\0" in rel:
        raise ModelPathError(f"MLmodel names {what} {rel!r}, which contains a NUL byte")
    posix, win = PurePosixPath(rel), PureWindowsPath(rel)
    if posix.is_absolute() or win.is_absolute() or win.drive or rel.startswith(("/", "\\", "~")):
        raise ModelPathError(f"MLmodel names {what} {rel!r}, which leaves the model directory "
                             "(absolute paths are not allowed)")
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ModelPathError(f"MLmodel names {what} {rel!r}, which leaves the model directory "
                             "('..' is not allowed)")
    base = Path(root).resolve()
    current = base
    for i, part in enumerate(parts):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            if must_exist:
                raise ModelFormatError(f"The model's {what} {rel!r} is missing from {str(root)!r}") from None
            return base.joinpath(*parts)
        except OSError as exc:
            raise ModelFormatError(f"Cannot read the model's {what} {rel!r}: {exc.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            raise ModelPathError(f"MLmodel names {what} {rel!r}, which passes through the symlink "
                                 f"{'/'.join(parts[:i + 1])!r}; symlinks inside a model directory are refused")
    return current


def check_no_symlinks(root: str | os.PathLike[str]) -> None:
    """Refuse a model directory holding any symlink (to a file or a directory, pointing in or out).

    Raises:
        ModelPathError: naming the first symlinks found.

    Example:
        >>> check_no_symlinks("/nonexistent")  # doctest: +SKIP
    """
    found = symlinks_in(root)
    if found:
        shown = ", ".join(repr(s) for s in found[:5])
        raise ModelPathError(f"The model directory {str(root)!r} contains symlinks ({shown}); symlinks inside a "
                             "model directory are refused because they can point at files outside it")


def symlinks_in(root: str | os.PathLike[str]) -> list[str]:
    """Relative paths of every symlink below ``root`` (not following any)."""
    base = Path(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            if p.is_symlink():
                out.append(p.relative_to(base).as_posix())
    return sorted(out)


#: keys of a flavor section (or of python_function) whose string value names a file of the model. A new
#: flavor's own keys are also confined where it reads them (``resolve_data_file``); this list makes the
#: check happen up front, before any loader runs
PATH_KEYS = frozenset({"data", "model_data", "pickled_model", "saved_model_dir", "code",
                       "python_model", "model_path", "keras_model", "model_file", "serialized_model",
                       "state_dict", "model_dir", "path", "conda", "virtualenv"})
_EXAMPLE_KEYS = ("artifact_path", "serving_input_path")
_CONTAINERS = ("artifacts", "extra_files", "env", "code_paths")


def _named_paths(model: Any) -> list[tuple[str, Any]]:
    """(where in MLmodel, value) for every value the model uses as a path inside its directory."""
    out: list[tuple[str, Any]] = []
    info = getattr(model, "saved_input_example_info", None)
    if isinstance(info, dict):
        out += [(f"saved_input_example_info.{k}", info[k]) for k in _EXAMPLE_KEYS if info.get(k) is not None]

    def walk(where: str, value: Any, depth: int) -> None:
        if depth > 4:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                if k in PATH_KEYS and isinstance(v, str):
                    out.append((f"{where}.{k}", v))
                elif k == "model_code_path" and isinstance(v, str):
                    # MLflow records where the file was when it was logged (often absolute); the file read
                    # is the one of that name in the model directory, so that name is what must stay inside
                    out.append((f"{where}.{k}", v.replace("\\", "/").rsplit("/", 1)[-1] or v))
                elif k in _CONTAINERS or (depth > 0 and where.split(".")[-1] in _CONTAINERS):
                    # only the containers of paths: a model's own config may hold anything
                    walk(f"{where}.{k}", v, depth + 1)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, str) and where.endswith(("extra_files", "code_paths")):
                    out.append((f"{where}[{i}]", v))
                else:
                    walk(f"{where}[{i}]", v, depth + 1)

    for name, conf in (getattr(model, "flavors", None) or {}).items():
        walk(f"flavors.{name}", conf, 0)
    return out


def check_model_paths(root: str | os.PathLike[str], model: Any) -> None:
    """Refuse a model whose MLmodel names any file outside its directory (before anything is loaded).

    Raises:
        ModelPathError: naming the MLmodel key and the offending value.

    Example:
        >>> from tureen.models.mlmodel import Model
        >>> check_model_paths("/m", Model(flavors={"sklearn": {"pickled_model": "model.skops"}}))
    """
    for where, value in _named_paths(model):
        try:
            confined_path(root, value, f"{where}", must_exist=False)
        except ModelPathError as exc:
            raise ModelPathError(f"Model at {str(root)!r} is refused: {exc.message}") from None
