"""The one gate for everything in a model directory that can run code, and the limits on what it may cost.

The caller is trusted; the artifact is not. Whatever an MLmodel file says, it never decides which Python
code is imported or run. Four doors lead from a model directory to code execution, and each passes here:

* **unsafe deserializers** (pickle, cloudpickle, joblib, full ``torch.load``, TensorFlow SavedModels whose
  graph ops run at load, Keras configs with Lambda bytecode, skops files with untrusted types):
  :func:`unsafe_load`, allowed only when :func:`pickle_allowed` says so;
* **the loader module** named by ``python_function.loader_module``: :func:`resolve_loader_module` maps it
  through an allow-list (tureen's flavors, MLflow's loader modules mapped to ours, flavors installed under
  the ``tureen.flavors`` entry point) and refuses anything else *before* importing anything;
* **the model's ``code/`` directory** (``code_paths`` at save time): :func:`model_code` confines it to the
  model directory, lets it onto ``sys.path`` only when pickle-class loading is allowed, and afterwards
  puts ``sys.path`` and ``sys.modules`` back, so one model's modules never leak into the next load;
* **class paths** named in MLmodel (a PyTorch state dict's ``model_class``): :func:`import_named_class`.

Whether the gate opens comes from the caller (``allow_pickle=``) or the caller's environment
(``TUREEN_ALLOW_PICKLE``, parsed strictly by :mod:`tureen._flags`), never from the model. The default is
open: your own models, saved by you, load as they always did.

Zip-based formats (``.keras``, ``.pt2``, ``.skops``, torch's zip pickles) are checked by :func:`check_zip`
against :class:`ZipLimits` from the central directory alone, before a byte is decompressed.

Example:
    >>> pickle_allowed(False)
    False
    >>> resolve_loader_module("mlflow.sklearn")
    'tureen.flavors.sklearn'
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from collections.abc import Mapping
from typing import Any, Callable, Iterator

from tureen._flags import env_bool, parse_bool
from tureen.exceptions import (ArchiveLimitError, InvalidSettingError, ModelFormatError,
                               UnsafeDeserializationError, UntrustedCodeError)

__all__ = ["pickle_allowed", "unsafe_load", "require_unsafe_allowed", "resolve_loader_module",
           "allowed_loader_modules", "confine_code_dir", "model_code", "import_named_class", "ZipLimits",
           "zip_limits", "current_zip_limits", "check_zip", "ALLOW_PICKLE_ENV"]

ALLOW_PICKLE_ENV = "TUREEN_ALLOW_PICKLE"


# ------------------------------------------------------------------------------------------------
# the switch


def pickle_allowed(allow_pickle: bool | None = None) -> bool:
    """Whether code-running loads are allowed: the caller's argument, else ``TUREEN_ALLOW_PICKLE``.

    Never decided by the artifact being loaded. Default: allowed (the user's own models). The variable
    accepts only true/false, 1/0, yes/no, on/off; any other value is an error, not a guess.

    Raises:
        InvalidSettingError: ``allow_pickle`` or ``TUREEN_ALLOW_PICKLE`` is not a boolean.

    Example:
        >>> pickle_allowed(False)
        False
    """
    if allow_pickle is None:
        return env_bool(ALLOW_PICKLE_ENV, True)
    if isinstance(allow_pickle, bool):
        return allow_pickle
    # "false" passed as a string must not mean True (bool("false") is True): parse it strictly
    return parse_bool(allow_pickle, name="allow_pickle")


def _refusal(what: str) -> str:
    return (f"Loading {what} can run arbitrary code, and code-running loads are turned off "
            f"({ALLOW_PICKLE_ENV}=false or allow_pickle=False). Load only models you trust with "
            "allow_pickle=True, or re-save the model in a safe format.")


def require_unsafe_allowed(what: str, allow_pickle: bool | None = None, *,
                           error: type[UnsafeDeserializationError] = UnsafeDeserializationError) -> None:
    """Raise unless the gate is open; ``what`` says what would run (it is quoted in the error).

    Raises:
        UnsafeDeserializationError: (or ``error``) the gate is closed.

    Example:
        >>> require_unsafe_allowed("a pickle", True)
    """
    if not pickle_allowed(allow_pickle):
        raise error(_refusal(what))


def unsafe_load(loader: Callable[[], Any], *, what: str, allow_pickle: bool | None = None) -> Any:
    """Run ``loader`` (a pickle/cloudpickle/joblib/full-torch/SavedModel load) only if the gate allows it.

    Raises:
        UnsafeDeserializationError: code-running loads are turned off.

    Example:
        >>> unsafe_load(lambda: 42, what="a test pickle", allow_pickle=True)
        42
    """
    require_unsafe_allowed(what, allow_pickle)
    return loader()


# ------------------------------------------------------------------------------------------------
# the loader-module allow-list


def _module_part(target: str) -> str:
    return target.partition(":")[0].strip()


def allowed_loader_modules() -> dict[str, str]:
    """Every ``loader_module`` value tureen accepts -> the tureen (or installed plug-in) module that loads it.

    The list is the flavors' own declarations (``Flavor.loader_module`` / ``also_reads``: MLflow's loader
    modules and ours) for the built-in flavors and the ones installed under the ``tureen.flavors``
    entry point. Installing a package is the user's decision; writing an MLmodel is not.

    Example:
        >>> allowed_loader_modules()["mlflow.pyfunc.model"]
        'tureen.pyfunc.model'
    """
    import tureen.flavors as registry

    return {loader: _module_part(registry.FLAVORS[name]) for loader, name in registry._loaders().items()}


def resolve_loader_module(name: Any) -> str:
    """The module that loads a model whose MLmodel names ``loader_module: name``; nothing else is imported.

    Raises:
        UntrustedCodeError: ``name`` is not on the allow-list (the flavors' declared loader modules, built-in
            or installed by entry point); a model cannot make tureen import a module of its choosing.

    Example:
        >>> resolve_loader_module("mlflow.xgboost")
        'tureen.flavors.xgboost'
    """
    if not isinstance(name, str) or not name:
        raise UntrustedCodeError(f"MLmodel's python_function loader_module must be a module name, got {name!r}")
    table = allowed_loader_modules()
    hit = table.get(name)
    if hit is None:
        raise UntrustedCodeError(
            f"MLmodel names loader_module {name!r}, which is not a known flavor loader; tureen imports only "
            f"its own flavors, MLflow's loader modules mapped to them, and flavors installed under the "
            f"'tureen.flavors' entry point (known: {', '.join(sorted(table))})")
    return hit


# ------------------------------------------------------------------------------------------------
# the model's code directory


def confine_code_dir(root: str | os.PathLike[str], code: Any) -> Path | None:
    """The model's ``code`` directory, checked to lie inside ``root`` with no symlinks; None if it has none.

    Raises:
        UntrustedCodeError: an absolute path, a ``..`` part, a symlink, or a path resolving outside ``root``.
        ModelFormatError: the directory named is missing.

    Example:
        >>> confine_code_dir("model", None) is None
        True
    """
    if code is None or code == "":
        return None
    if not isinstance(code, str):
        raise UntrustedCodeError(f"MLmodel's code entry must be a relative directory name, got {code!r}")
    pure = PurePosixPath(code.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (len(code) > 1 and code[1] == ":") or "\x00" in code:
        raise UntrustedCodeError(f"MLmodel names code directory {code!r} outside the model directory; "
                                 "code must be a relative path inside it")
    base = Path(root).resolve()
    path = Path(root, *pure.parts)
    # no symlink anywhere from the model root down to (and inside) the code directory
    probe = Path(root)
    for part in pure.parts:
        probe = probe / part
        if probe.is_symlink():
            raise UntrustedCodeError(f"The model's code directory {code!r} goes through a symlink ({part!r})")
    resolved = path.resolve()
    if resolved != base and base not in resolved.parents:
        raise UntrustedCodeError(f"MLmodel names code directory {code!r} outside the model directory")
    if not resolved.is_dir():
        raise ModelFormatError(f"The model's code directory {code!r} is missing from {str(root)!r}")
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            if os.path.islink(os.path.join(dirpath, name)):
                rel = os.path.relpath(os.path.join(dirpath, name), path)
                raise UntrustedCodeError(f"The model's code directory holds a symlink ({code}/{rel}); "
                                         "refused so that no code outside the model is imported")
    return resolved


def _inside(file: Any, base: str) -> bool:
    if not isinstance(file, str):
        return False
    try:
        full = os.path.realpath(file)
    except (OSError, ValueError):
        return False
    return full == base or full.startswith(base + os.sep)


def _drop_modules_from(base: str, before: set[str]) -> None:
    for name in [n for n in list(sys.modules) if n not in before]:
        module = sys.modules.get(name)
        spec_origin = getattr(getattr(module, "__spec__", None), "origin", None)
        paths = list(getattr(module, "__path__", None) or [])
        if (_inside(getattr(module, "__file__", None), base) or _inside(spec_origin, base)
                or any(_inside(p, base) for p in paths)):
            del sys.modules[name]


@contextlib.contextmanager
def model_code(root: str | os.PathLike[str], code: Any, *, allow_pickle: bool | None = None) -> Iterator[Path | None]:
    """Make the model's ``code/`` importable for the duration of a load, behind the gate.

    Importing the model's own modules is code execution, so it needs what pickle needs. On the way out
    (success, failure or refusal) ``sys.path`` is restored exactly and every module imported from the code
    directory is removed from ``sys.modules``: the loaded model keeps the modules it uses (its functions
    and classes hold them), the process does not, and a second model with a same-named module gets its own.
    No bytecode is written into the model directory while its code is imported.

    Raises:
        UntrustedCodeError: the gate is closed, or the directory escapes the model (see
            :func:`confine_code_dir`).

    Example:
        >>> with model_code("model", None):  # a model without code: nothing to do
        ...     pass
    """
    path = confine_code_dir(root, code)
    if path is None:
        yield None
        return
    require_unsafe_allowed(f"the model's code directory {code!r} (its Python modules are imported)",
                           allow_pickle, error=UntrustedCodeError)
    saved_path = list(sys.path)
    saved_bytecode = sys.dont_write_bytecode
    before = set(sys.modules)
    entry = str(path)
    sys.path.insert(0, entry)
    sys.dont_write_bytecode = True
    importlib.invalidate_caches()
    try:
        yield path
    finally:
        sys.dont_write_bytecode = saved_bytecode
        sys.path[:] = saved_path
        sys.path_importer_cache.pop(entry, None)
        _drop_modules_from(os.path.realpath(entry), before)
        importlib.invalidate_caches()


def import_named_class(class_path: Any, *, allow_pickle: bool | None = None, what: str = "class") -> Any:
    """The class at ``module.QualifiedName`` that an MLmodel names, importing only through the gate.

    A module that is already imported (tureen's, the framework's, one the caller imported) costs no new
    code to look up, so it is always allowed. Importing any other module runs its top-level code, and the
    module was chosen by the artifact: that needs the gate open (the default for your own models).

    Raises:
        UntrustedCodeError: the module is not imported yet and the gate is closed.
        ModelFormatError: not a class path, or the class does not exist.

    Example:
        >>> import_named_class("collections.OrderedDict", allow_pickle=False).__name__
        'OrderedDict'
    """
    if not isinstance(class_path, str) or "." not in class_path:
        raise ModelFormatError(f"MLmodel names {what} {class_path!r}, which is not a module.ClassName path")
    module_name, _, attr = class_path.rpartition(".")
    if not all(p.isidentifier() for p in module_name.split(".")) or not attr.isidentifier():
        raise ModelFormatError(f"MLmodel names {what} {class_path!r}, which is not a module.ClassName path")
    module = sys.modules.get(module_name)
    if module is None:
        require_unsafe_allowed(f"{what} {class_path!r} (importing module {module_name!r} runs its code)",
                               allow_pickle, error=UntrustedCodeError)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ModelFormatError(f"The model's {what} {class_path!r} cannot be imported: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ModelFormatError(f"The model's {what} {class_path!r} does not exist") from None


# ------------------------------------------------------------------------------------------------
# bounded decompression


def _env_number(name: str, default: float, kind: type) -> Any:
    raw = os.environ.get(name)
    if raw is None:
        return kind(default)
    try:
        value = kind(raw.strip())
    except ValueError:
        raise InvalidSettingError(f"{name} must be a positive number, got {raw!r}") from None
    if value <= 0:
        raise InvalidSettingError(f"{name} must be a positive number, got {raw!r}")
    return value


@dataclass(frozen=True)
class ZipLimits:
    """What one zip inside a model may cost when it is opened.

    Attributes:
        max_total_bytes: the sum of the members' uncompressed sizes (default 16 GiB;
            ``TUREEN_ZIP_MAX_BYTES``).
        max_ratio: uncompressed total / archive size on disk, checked once the total passes
            ``ratio_floor_bytes`` (default 200; ``TUREEN_ZIP_MAX_RATIO``). Weights barely compress; a bomb
            compresses a thousand-fold or more.
        max_entries: members in the archive (default 100000; ``TUREEN_ZIP_MAX_ENTRIES``).
        ratio_floor_bytes: below this total no ratio is enforced (small archives cannot hurt; 32 MiB).

    Example:
        >>> ZipLimits(max_total_bytes=1 << 20).max_total_bytes
        1048576
    """

    max_total_bytes: int = 16 << 30
    max_ratio: float = 200.0
    max_entries: int = 100_000
    ratio_floor_bytes: int = 32 << 20

    @classmethod
    def from_env(cls) -> "ZipLimits":
        """Defaults overridden by ``TUREEN_ZIP_MAX_BYTES`` / ``_RATIO`` / ``_ENTRIES``."""
        d = cls()
        return cls(max_total_bytes=_env_number("TUREEN_ZIP_MAX_BYTES", d.max_total_bytes, int),
                   max_ratio=_env_number("TUREEN_ZIP_MAX_RATIO", d.max_ratio, float),
                   max_entries=_env_number("TUREEN_ZIP_MAX_ENTRIES", d.max_entries, int),
                   ratio_floor_bytes=d.ratio_floor_bytes)


_LIMITS: contextvars.ContextVar[ZipLimits | None] = contextvars.ContextVar("tureen_zip_limits", default=None)


def current_zip_limits() -> ZipLimits:
    """The limits in force: set by :func:`zip_limits`, else from the environment."""
    return _LIMITS.get() or ZipLimits.from_env()


@contextlib.contextmanager
def zip_limits(limits: ZipLimits | None = None, **changes: Any) -> Iterator[ZipLimits]:
    """Loads inside this block use ``limits`` (or the current ones with ``changes``).

    Example:
        >>> with zip_limits(max_total_bytes=64 << 20) as lim:
        ...     lim.max_total_bytes
        67108864
    """
    base = limits or current_zip_limits()
    value = replace(base, **changes) if changes else base
    token = _LIMITS.set(value)
    try:
        yield value
    finally:
        _LIMITS.reset(token)


_zip_limits_scope = zip_limits  # for callers whose keyword argument is also named zip_limits


@contextlib.contextmanager
def loading(root: str | os.PathLike[str], code: Any, *, allow_pickle: bool, zip_limits: Any = None) -> Iterator[None]:
    """The scope every model load runs in: the model's ``code/`` directory behind the gate (confined, and
    ``sys.path`` / ``sys.modules`` restored after), no bytecode caches written into the digested directory,
    and the caller's zip limits (``zip_limits=``: see :func:`check_zip_limits`) for the archives it opens."""
    from tureen.flavors._integrity import no_bytecode

    with model_code(root, code, allow_pickle=allow_pickle), no_bytecode(), \
            _zip_limits_scope(check_zip_limits(zip_limits)):
        yield


def check_zip_limits(value: Any) -> ZipLimits | None:
    """A ``zip_limits=`` argument as :class:`ZipLimits`: None (the limits in force), a ZipLimits, or a
    mapping of its fields (``{"max_total_bytes": 1 << 30}``) applied over the limits in force.

    Raises:
        InvalidParameterError: another type, an unknown field, or a value that is not a positive number.

    Example:
        >>> check_zip_limits({"max_entries": 10}).max_entries
        10
    """
    from dataclasses import fields

    from tureen.exceptions import InvalidParameterError

    if value is None or isinstance(value, ZipLimits):
        return value
    if not isinstance(value, Mapping):
        raise InvalidParameterError(f"zip_limits must be a tureen.flavors.ZipLimits or a mapping of its fields, "
                                    f"got {type(value).__name__}")
    known = {f.name: f.type for f in fields(ZipLimits)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise InvalidParameterError(f"zip_limits has unknown field(s) {', '.join(map(repr, unknown))}; "
                                    f"known: {', '.join(known)}")
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number <= 0:
            raise InvalidParameterError(f"zip_limits[{key!r}] must be a positive number, got {number!r}")
    return replace(current_zip_limits(), **value)


def check_zip(path: str | os.PathLike[str], limits: ZipLimits | None = None, *, what: str | None = None) -> None:
    """Refuse a zip whose central directory promises more than ``limits`` allow; decompresses nothing.

    Checks the entry count, the total uncompressed size, the compression ratio against the archive's
    size on disk, and overlapping members (many entries sharing the same compressed bytes, the
    trick behind non-recursive bombs). Readers (Python's zipfile, torch's miniz) stop at the sizes the
    central directory declares, so checking the declaration bounds what a load can inflate.

    Raises:
        ArchiveLimitError: over a limit (the message names it and how to raise it).
        ModelFormatError: not a readable zip.

    Example:
        >>> check_zip("model/data/model.keras")  # doctest: +SKIP
    """
    import zipfile

    lim = limits or current_zip_limits()
    p = Path(path)
    label = what or p.name
    try:
        size = p.stat().st_size
        with zipfile.ZipFile(p) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelFormatError(f"{label} is not a readable zip archive: {exc}") from None
    if len(infos) > lim.max_entries:
        raise ArchiveLimitError(f"{label} holds {len(infos)} entries, over the limit of {lim.max_entries} "
                                "(TUREEN_ZIP_MAX_ENTRIES)")
    total = sum(max(i.file_size, 0) for i in infos)
    if total > lim.max_total_bytes:
        raise ArchiveLimitError(f"{label} would decompress to {total} bytes, over the limit of "
                                f"{lim.max_total_bytes} (TUREEN_ZIP_MAX_BYTES); raise it only for a model "
                                "you trust to be that large")
    compressed = sum(max(i.compress_size, 0) for i in infos)
    if compressed > size:
        raise ArchiveLimitError(f"{label} has members that overlap (their compressed sizes add up to more than "
                                "the file), a zip-bomb construction; refused")
    if total > lim.ratio_floor_bytes and total > lim.max_ratio * max(size, 1):
        raise ArchiveLimitError(f"{label} would decompress {total / max(size, 1):.0f}-fold ({size} bytes to "
                                f"{total}), over the ratio limit of {lim.max_ratio:g} (TUREEN_ZIP_MAX_RATIO)")
