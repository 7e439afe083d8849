"""Reversible, contained patching for autologging, and the "warn once, never break training" wrapper.

Everything that changes framework code goes through :func:`safe_patch`, which records the exact original
attribute so that :func:`revert_patches` puts it back (``Cls.fit is original`` holds again afterwards).
A patched function runs the autologging code around the user's call; whatever goes wrong in *our* code
becomes one warning per problem (none with ``silent=True``) and the user's result is returned as if
autologging were off. An exception raised by the user's training itself ends the run ``FAILED`` and is
re-raised unchanged.

Frameworks that are not imported yet are patched when they are: :func:`when_imported` registers a
post-import callback through a small ``sys.meta_path`` finder, so ``tureen.autolog()`` imports nothing.

Nothing here touches global warning filters or logging configuration.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.machinery
import inspect
import logging
import sys
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

__all__ = ["AutologgingWarning", "safe_patch", "revert_patches", "configure", "get_config", "is_enabled",
           "disable_autologging", "warn_once", "when_imported", "current_session", "check_version",
           "AUTOLOGGING_TAG"]

AUTOLOGGING_TAG = "mlflow.autologging"
_logger = logging.getLogger("tureen.autolog")
_MISSING = object()


class AutologgingWarning(UserWarning):
    """A problem inside autologging (the user's training was not affected)."""


# ------------------------------------------------------------------------------------------------
# configuration per integration ("sklearn", "xgboost", "lightgbm", "keras", "pytorch")

_CONFIGS: dict[str, dict[str, Any]] = {}
_LOCK = threading.RLock()


_EXPLICIT: set[str] = set()  # integrations configured by their own autolog() rather than tureen.autolog()
_universal = threading.local()


def configure(flavor: str, config: dict[str, Any] | None) -> None:
    """Store an integration's config (enabled), or remove it (``None``: disabled)."""
    with _LOCK:
        if config is None:
            _CONFIGS.pop(flavor, None)
            _EXPLICIT.discard(flavor)
        else:
            _CONFIGS[flavor] = dict(config)
            if getattr(_universal, "active", False):
                _EXPLICIT.discard(flavor)
            else:
                _EXPLICIT.add(flavor)


@contextlib.contextmanager
def universal_call() -> Iterator[None]:
    """Configurations made inside come from ``tureen.autolog()`` (a later call may replace them)."""
    _universal.active = True
    try:
        yield
    finally:
        _universal.active = False


def is_enabled(flavor: str) -> bool:
    return flavor in _CONFIGS


def get_config(flavor: str, key: str, default: Any = None) -> Any:
    return _CONFIGS.get(flavor, {}).get(key, default)


# ------------------------------------------------------------------------------------------------
# warnings (once per problem, never with silent=True)

_WARNED: set[tuple[str, str]] = set()


def warn_once(flavor: str, message: str, *, key: str | None = None) -> None:
    """Warn about a problem inside autologging once per process (nothing when the integration is silent)."""
    if get_config(flavor, "silent", False):
        return
    k = (flavor, key or message)
    with _LOCK:
        if k in _WARNED:
            return
        _WARNED.add(k)
    warnings.warn(f"tureen {flavor} autologging: {message}", AutologgingWarning, stacklevel=3)


def info(flavor: str, message: str, *args: Any) -> None:
    if not get_config(flavor, "silent", False):
        _logger.info(message, *args)


# ------------------------------------------------------------------------------------------------
# scopes that turn autologging off (cross_validate, our own predict calls ...)

_tls = threading.local()


@contextlib.contextmanager
def disable_autologging() -> Iterator[None]:
    """Inside this block, patched functions behave exactly like the originals (this thread only)."""
    _tls.disabled = getattr(_tls, "disabled", 0) + 1
    try:
        yield
    finally:
        _tls.disabled -= 1


def _disabled_here() -> bool:
    return getattr(_tls, "disabled", 0) > 0


# ------------------------------------------------------------------------------------------------
# training sessions: a fit called by another patched fit (pipeline step, search candidate) logs nothing


@dataclass
class Session:
    key: Any
    allow_children: bool
    parent: "Session | None"
    should_log: bool
    data: dict[str, Any] = field(default_factory=dict)


_ACTIVE_BY_THREAD: dict[int, Session] = {}  # top-level sessions, so fits in worker threads see their parent


def _stack() -> list[Session]:
    stack = getattr(_tls, "sessions", None)
    if stack is None:
        stack = _tls.sessions = []
    return stack


def current_session() -> Session | None:
    stack = _stack()
    if stack:
        return stack[-1]
    me = threading.get_ident()
    with _LOCK:
        for tid, session in _ACTIVE_BY_THREAD.items():
            if tid != me:
                return session
    return None


@contextlib.contextmanager
def _training_session(key: Any, allow_children: bool) -> Iterator[Session]:
    parent = current_session()
    should_log = parent is None or (parent.should_log and parent.allow_children and parent.key != key)
    session = Session(key, allow_children, parent, should_log)
    stack = _stack()
    top = not stack
    stack.append(session)
    if top:
        with _LOCK:
            _ACTIVE_BY_THREAD[threading.get_ident()] = session
    try:
        yield session
    finally:
        stack.pop()
        if top:
            with _LOCK:
                _ACTIVE_BY_THREAD.pop(threading.get_ident(), None)


# ------------------------------------------------------------------------------------------------
# managed runs

_MANAGED_RUNS: set[str] = set()


def _user_run_active() -> bool:
    from tureen.tracking import fluent

    run = fluent.active_run()
    return run is not None and run.info.run_id not in _MANAGED_RUNS


def _start_managed_run(flavor: str) -> str:
    from tureen.tracking import fluent

    tags = {AUTOLOGGING_TAG: flavor}
    tags.update({k: str(v) for k, v in (get_config(flavor, "extra_tags") or {}).items()})
    run = fluent.start_run(tags=tags)
    _MANAGED_RUNS.add(run.info.run_id)
    return run.info.run_id


def _end_managed_run(flavor: str, run_id: str, status: str) -> None:
    from tureen.tracking import fluent

    try:
        stack = fluent._stack()
        if stack and stack[-1].info.run_id == run_id:
            fluent.end_run(status)
        else:  # something left another run on top: end ours by id and take it off the stack
            fluent._client().set_terminated(run_id, status)
            stack[:] = [r for r in stack if r.info.run_id != run_id]
    except Exception as exc:  # noqa: BLE001 - the store failing must not break training
        warn_once(flavor, f"could not end the run {run_id} ({type(exc).__name__}: {exc})")
    finally:
        _MANAGED_RUNS.discard(run_id)


# ------------------------------------------------------------------------------------------------
# patches


@dataclass
class _Patch:
    owner: Any
    name: str
    had_own: bool
    raw: Any  # what owner.__dict__[name] held (or the module attribute)
    wrapper: Any


_PATCHES: dict[str, list[_Patch]] = {}
_PATCHED_IDS: dict[str, set[tuple[int, str]]] = {}


def _raw_attr(owner: Any, name: str) -> tuple[bool, Any]:
    d = getattr(owner, "__dict__", {})
    if name in d:
        return True, d[name]
    return False, inspect.getattr_static(owner, name, _MISSING)


def safe_patch(flavor: str, owner: Any, name: str, patch_fn: Callable[..., Any], *, training: bool = False,
               session_key: Any = None, allow_children: bool = False) -> bool:
    """Replace ``owner.name`` with a wrapper calling ``patch_fn(original, *args, **kwargs)``.

    Args:
        flavor: the integration owning the patch (its config decides enabled/exclusive/silent).
        owner: a class, module or object; plain functions only (descriptors such as properties are left).
        name: attribute name.
        patch_fn: our code; it calls ``original`` (a wrapper of the user's function) exactly once.
        training: a training entry point: run in a training session and a managed run if none is active.
        session_key: what identifies "the same kind of fit" for nested-session checks (default: the class
            of the first argument).
        allow_children: nested training calls of another kind still log (xgboost/lightgbm wrappers).

    Returns:
        Whether a patch was applied.

    Example:
        >>> safe_patch("sklearn", LogisticRegression, "fit", my_patch, training=True)  # doctest: +SKIP
        True
    """
    with _LOCK:
        ids = _PATCHED_IDS.setdefault(flavor, set())
        if (id(owner), name) in ids:
            return False
        had_own, raw = _raw_attr(owner, name)
        if raw is _MISSING or not inspect.isfunction(raw) and not inspect.isbuiltin(raw):
            return False
        original = raw
        wrapper = _make_wrapper(flavor, original, patch_fn, training, session_key, allow_children)
        setattr(owner, name, wrapper)
        ids.add((id(owner), name))
        _PATCHES.setdefault(flavor, []).append(_Patch(owner, name, had_own, raw, wrapper))
        return True


def revert_patches(flavor: str) -> None:
    """Put back every original attribute patched for ``flavor`` (exactly the same objects)."""
    with _LOCK:
        for p in reversed(_PATCHES.pop(flavor, [])):
            current = getattr(p.owner, "__dict__", {}).get(p.name, _MISSING)
            if current is not p.wrapper:  # someone else replaced it since: leave theirs alone
                continue
            if p.had_own:
                setattr(p.owner, p.name, p.raw)
            else:
                delattr(p.owner, p.name)
        _PATCHED_IDS.pop(flavor, None)


def patched_targets(flavor: str) -> list[tuple[Any, str, Any]]:
    """``(owner, name, original)`` of the live patches of an integration (for tests and docs)."""
    return [(p.owner, p.name, p.raw) for p in _PATCHES.get(flavor, [])]


class _Call:
    __slots__ = ("called", "done", "result", "exc")

    def __init__(self) -> None:
        self.called = False
        self.done = False
        self.result: Any = None
        self.exc: BaseException | None = None


def _should_autolog(flavor: str) -> bool:
    if flavor not in _CONFIGS or _disabled_here():
        return False
    if _CONFIGS[flavor].get("exclusive") and _user_run_active():
        return False
    return True


def _make_wrapper(flavor: str, original: Callable[..., Any], patch_fn: Callable[..., Any], training: bool,
                  session_key: Any, allow_children: bool) -> Callable[..., Any]:
    def run_patched(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _Call()

        def call_original(*a: Any, **kw: Any) -> Any:
            call.called = True
            try:
                result = original(*a, **kw)
            except BaseException as exc:
                call.exc = exc
                raise
            call.done, call.result = True, result
            return result

        functools.update_wrapper(call_original, original)  # patch code sees the real name and signature

        run_id = None
        if training:
            try:
                if _user_run_active() or _active_managed_run():
                    run_id = None
                else:
                    run_id = _start_managed_run(flavor)
            except Exception as exc:  # noqa: BLE001 - cannot reach the store: train without autologging
                warn_once(flavor, f"could not start a run, training without autologging "
                                  f"({type(exc).__name__}: {exc})", key="start-run")
                return original(*args, **kwargs)
        try:
            try:
                result = patch_fn(call_original, *args, **kwargs)
            except BaseException as exc:
                if call.exc is not None:  # the user's training raised: re-raise it as it is
                    if exc is call.exc:
                        raise
                    raise call.exc from None
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                warn_once(flavor, f"{type(exc).__name__}: {exc}", key=f"{type(exc).__name__}:{str(exc)[:200]}")
                if call.done:
                    result = call.result
                elif not call.called:
                    result = original(*args, **kwargs)
                else:  # pragma: no cover - call_original records every outcome
                    raise
        except BaseException:
            if run_id is not None:
                _end_managed_run(flavor, run_id, "FAILED")
            raise
        if run_id is not None:
            _end_managed_run(flavor, run_id, "FINISHED")
        return result

    if training:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _should_autolog(flavor):
                return original(*args, **kwargs)
            key = session_key if session_key is not None else (type(args[0]) if args else original)
            with _training_session(key, allow_children) as session:
                if not session.should_log:
                    return original(*args, **kwargs)
                return run_patched(args, kwargs)
    else:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _should_autolog(flavor):
                return original(*args, **kwargs)
            return run_patched(args, kwargs)

    wrapper.__tureen_autolog__ = flavor  # type: ignore[attr-defined]
    return wrapper


def _active_managed_run() -> bool:
    from tureen.tracking import fluent

    run = fluent.active_run()
    return run is not None and run.info.run_id in _MANAGED_RUNS


def active_run_id() -> str:
    """The run autologging writes to (the user's or the managed one)."""
    from tureen.tracking import fluent

    run = fluent.active_run()
    if run is None:  # pragma: no cover - training patches always run inside a run
        raise RuntimeError("no active run")
    return run.info.run_id


# ------------------------------------------------------------------------------------------------
# post-import hooks

_HOOKS: dict[str, list[Callable[[Any], None]]] = {}
_PREFIX_HOOKS: dict[str, list[Callable[[Any], None]]] = {}


class _HookLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        try:
            self._loader.exec_module(module)
        finally:
            # the module keeps its real loader (importlib.resources and friends look at it)
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
            module.__loader__ = self._loader
        _run_hooks(self._name, module)

    def __getattr__(self, item: str) -> Any:
        return getattr(self._loader, item)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname in self._busy or not _watched(fullname):
            return None
        self._busy.add(fullname)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._busy.discard(fullname)
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _HookLoader(spec.loader, fullname)
        return spec


_FINDER = _PostImportFinder()


def _watched(name: str) -> bool:
    with _LOCK:
        return name in _HOOKS or any(name.startswith(p) for p in _PREFIX_HOOKS)


def _run_hooks(name: str, module: Any) -> None:
    with _LOCK:
        callbacks = list(_HOOKS.get(name, ()))
        callbacks += [cb for p, cbs in _PREFIX_HOOKS.items() if name.startswith(p) for cb in cbs]
    for cb in callbacks:
        try:
            cb(module)
        except Exception as exc:  # noqa: BLE001 - an autolog hook must never break the user's import
            _logger.debug("autolog import hook for %s failed: %r", name, exc)


def when_imported(name: str, callback: Callable[[Any], None], *, prefix: bool = False) -> None:
    """Call ``callback(module)`` now if ``name`` is imported, else right after it is (each time for a prefix).

    With ``prefix=True``, ``name`` is a package prefix such as ``"sklearn."`` and the callback runs after
    every submodule import under it.
    """
    with _LOCK:
        table = _PREFIX_HOOKS if prefix else _HOOKS
        if callback not in table.setdefault(name, []):
            table[name].append(callback)
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
    if not prefix and name in sys.modules:
        callback(sys.modules[name])


def remove_hooks(callbacks: list[Callable[[Any], None]]) -> None:
    with _LOCK:
        for table in (_HOOKS, _PREFIX_HOOKS):
            for name in list(table):
                table[name] = [cb for cb in table[name] if cb not in callbacks]
                if not table[name]:
                    del table[name]
        if not _HOOKS and not _PREFIX_HOOKS and _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)


# ------------------------------------------------------------------------------------------------
# versions


def check_version(flavor: str, package: str, version: str, tested: tuple[str, str], stacklevel: int = 4) -> bool:
    """Whether ``version`` lies in the tested range; warns (unless silent) when it does not.

    Example:
        >>> check_version("sklearn", "scikit-learn", "1.5.0", ("1.3.0", "1.9.1"))
        True
    """
    from packaging.version import InvalidVersion, Version

    lo, hi = tested
    try:
        v = Version(version)
        ok = Version(lo) <= Version(v.base_version) and Version(v.base_version) <= Version(hi)
    except InvalidVersion:
        ok = False
    if not ok and not get_config(flavor, "silent", False):
        warnings.warn(f"tureen {flavor} autologging is tested with {package} {lo} to {hi}, but {package} "
                      f"{version} is installed; autologging may not work (training is not affected).",
                      AutologgingWarning, stacklevel=stacklevel)
    return ok


def start(flavor: str, module_name: str, purpose: str, config: dict[str, Any], *, disable: bool,
          disable_for_unsupported_versions: bool, tested: tuple[str, str]) -> Any:
    """The shared start of a framework's ``autolog()``: undo earlier patches, then (unless ``disable``) import
    the framework, record ``config`` and check the version. Returns the framework module to patch, or None.

    Example:
        >>> start("keras", "keras", "Keras autologging", {}, disable=True,
        ...       disable_for_unsupported_versions=False, tested=("3.0", "3.15"))  # doctest: +SKIP
    """
    from tureen._optional import import_optional

    revert_patches(flavor)
    configure(flavor, None)
    if disable:
        return None
    module = import_optional(module_name, purpose)
    configure(flavor, config)
    if not check_version(flavor, module_name, module.__version__, tested, stacklevel=5) \
            and disable_for_unsupported_versions:
        configure(flavor, None)
        return None
    return module
