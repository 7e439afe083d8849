"""Many models in one server: the set of named models a server may serve, and which of them are loaded.

The set is fixed when the server starts (``tureen serve a=URI b=URI``, a YAML file, or every alias of the
registry's models with ``--registered-models``); requests only choose among its names. A name in a URL is
looked up in that table and nothing else: no request can make the server read a path, resolve a URI or
load anything that was not configured. Loading and unloading (the repository API, an optional memory cap)
change only which configured models are in memory.

The memory cap (``--max-memory``) counts each loaded model's size: the growth of the process's resident
memory while it loaded (its flavor's modules are imported first, so a framework's own import is not
charged to its first model). When a load brings the total over the cap, the least recently used other
models are unloaded until it fits; a model that does not fit alone is unloaded again and its request gets a
507. A model unloaded by the cap loads again on its next request; one unloaded through the repository API
stays unloaded until it is loaded through the API.

With several workers each worker holds its own models; a shared table (created before the workers fork)
carries what the repository API asked for, so every worker follows a load or an unload at its next request
for that model.

Example:
    >>> parse_model_arg("churn=models:/churn@champion")
    ('churn', 'models:/churn@champion')
"""

from __future__ import annotations

import gc
import logging
import mmap
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError, TureenError

__all__ = ["ModelSpec", "ModelRepository", "parse_model_arg", "read_config", "registered_model_specs",
           "valid_name", "NAME_PATTERN"]

_log = logging.getLogger("tureen.serving")

#: a served model's name: letters, digits, ``_ . -``, optionally ``@alias`` (no ``/``, never ``.`` or ``..``)
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}(?:@[A-Za-z0-9][A-Za-z0-9_.\-]{0,127})?"
_NAME = re.compile(NAME_PATTERN)

# states, as the Triton / MLServer repository index names them
READY, UNAVAILABLE, LOADING = "READY", "UNAVAILABLE", "LOADING"


def valid_name(name: str) -> bool:
    """Whether ``name`` may name a served model.

    Example:
        >>> valid_name("churn@champion"), valid_name("../etc"), valid_name("a/b")
        (True, False, False)
    """
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def _check_name(name: str, where: str) -> str:
    if not valid_name(name):
        raise InvalidParameterError(f"{where}: {name!r} is not a valid model name (letters, digits, '_', '.', "
                                    "'-', optionally '@alias'; at most 128 characters each)")
    return name


@dataclass
class ModelSpec:
    """One configured model: its name in URLs, its URI, the version to report, and whether it loads at start."""

    name: str
    uri: str
    version: str | None = None
    load: bool = True


def parse_model_arg(arg: str) -> tuple[str, str] | None:
    """``NAME=URI`` -> (name, uri); None when ``arg`` is a plain URI (a single model). An existing path that
    happens to contain ``=`` is a plain URI.

    Raises:
        InvalidParameterError: the part before ``=`` is not a valid model name.
    """
    name, sep, uri = arg.partition("=")
    if not sep or "://" in name or name.startswith(("models:", "runs:", "file:")) or os.path.exists(arg):
        return None
    if not uri:
        raise InvalidParameterError(f"{arg!r}: give the model's URI after '=' (NAME=URI)")
    return _check_name(name, "model argument"), uri


def read_config(path: str | os.PathLike[str]) -> tuple[list[ModelSpec], dict[str, Any]]:
    """Read a serving config file: ``(models, server settings)``. Relative model paths are taken relative to
    the file's directory.

    The file::

        models:
          churn: models:/churn@champion          # NAME: URI
          other:                                  # or NAME: {uri, version, load}
            uri: ./other_model
            version: "3"
            load: false                           # loaded on its first request (or through the API)
        max_memory: 2GiB                          # optional: any serving setting

    Raises:
        InvalidParameterError: the file is missing, not YAML, or has a bad entry (naming it).
    """
    import yaml

    file = Path(path)
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidParameterError(f"Cannot read the serving config {str(file)!r}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InvalidParameterError(f"The serving config {str(file)!r} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict) or not doc["models"]:
        raise InvalidParameterError(f"The serving config {str(file)!r} needs a non-empty 'models' mapping "
                                    "of NAME: URI")
    specs = []
    for name, entry in doc["models"].items():
        where = f"{file.name}: models.{name}"
        _check_name(str(name), where)
        if isinstance(entry, str):
            entry = {"uri": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("uri"), str) or not entry["uri"]:
            raise InvalidParameterError(f"{where}: give a URI (NAME: URI, or NAME: {{uri: URI}})")
        unknown = sorted(set(entry) - {"uri", "version", "load"})
        if unknown:
            raise InvalidParameterError(f"{where}: unknown keys {unknown} (uri, version, load)")
        load = entry.get("load", True)
        if not isinstance(load, bool):
            raise InvalidParameterError(f"{where}.load: true or false, got {load!r}")
        uri = entry["uri"]
        if ":" not in uri.split("/")[0] and not os.path.isabs(uri):
            uri = str((file.parent / uri).resolve())
        version = entry.get("version")
        specs.append(ModelSpec(str(name), uri, None if version is None else str(version), load))
    settings = {k: v for k, v in doc.items() if k != "models"}
    return specs, settings


def registered_model_specs(load: bool = True) -> list[ModelSpec]:
    """One spec per alias of every registered model: ``NAME@ALIAS`` serving ``models:/NAME@ALIAS``.

    Raises:
        InvalidParameterError: the registry has no aliases, or a name cannot be used in a URL.
    """
    from tureen.tracking.client import TrackingClient

    client = TrackingClient()
    specs = []
    token = None
    while True:
        page = client.search_registered_models(max_results=100, page_token=token)
        for rm in page:
            for alias, version in sorted((getattr(rm, "aliases", None) or {}).items()):
                name = f"{rm.name}@{alias}"
                if not valid_name(name):
                    _log.warning("registered model %r alias %r skipped: not usable in a URL", rm.name, alias)
                    continue
                specs.append(ModelSpec(name, f"models:/{rm.name}@{alias}", str(version), load))
        token = getattr(page, "token", None)
        if not token:
            break
    if not specs:
        raise InvalidParameterError("--registered-models: the registry has no model with an alias "
                                    f"(registry {client.registry_uri})")
    return specs


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux: fall back on the peak (never decreasing)
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _trim() -> None:
    """Give freed memory back to the system (glibc keeps it otherwise).

    An unloaded model may have been frozen (see :func:`tureen.serving.wsgi.freeze_loaded_heap`): its cycles are
    collectable only once unfrozen, so the heap is unfrozen for this collection and what survives frozen again.
    """
    frozen = gc.get_freeze_count()
    if frozen:
        gc.unfreeze()
    gc.collect()
    if frozen:
        gc.freeze()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@dataclass
class _Entry:
    spec: ModelSpec
    path: Path
    index: int
    state: Any = None  # the ServingState while loaded
    status: str = UNAVAILABLE
    reason: str = "not loaded"
    size: int = 0
    last_used: float = 0.0
    batcher: Any = None
    loads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class _Wanted:
    """One byte per model in shared memory: 1 = serve it, 0 = unloaded through the repository API."""

    def __init__(self, n: int, initial: Iterable[bool]) -> None:
        self._map = mmap.mmap(-1, max(1, n))
        for i, on in enumerate(initial):
            self._map[i] = 1 if on else 0

    def __getitem__(self, i: int) -> bool:
        return self._map[i] == 1

    def __setitem__(self, i: int, on: bool) -> None:
        self._map[i] = 1 if on else 0


class ModelRepository:
    """The configured models of one server (see the module docstring).

    Args:
        specs: the models; names must be unique. URIs are resolved here, once (before workers fork).
        settings: the serving settings (``max_memory`` is the cap, in bytes, or None).
    """

    def __init__(self, specs: list[ModelSpec], settings: Any) -> None:
        from tureen.uri import resolve_model_uri

        if not specs:
            raise InvalidParameterError("No model to serve")
        seen: set[str] = set()
        self.entries: dict[str, _Entry] = {}
        for i, spec in enumerate(specs):
            _check_name(spec.name, "model")
            if spec.name in seen:
                raise InvalidParameterError(f"The model name {spec.name!r} is given twice")
            seen.add(spec.name)
            self.entries[spec.name] = _Entry(spec, Path(resolve_model_uri(spec.uri)), i)
        self.settings = settings
        self.cap = int(settings.max_memory) if getattr(settings, "max_memory", None) else None
        self.wanted = _Wanted(len(specs), (True for _ in specs))
        self._lock = threading.RLock()
        self.metrics: Any = None

    # -- lookups (any thread) -----------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self.entries)

    def entry(self, name: str) -> _Entry:
        """The entry of a configured model, or a 404 naming the served ones (``name`` is never used otherwise)."""
        entry = self.entries.get(name) if isinstance(name, str) else None
        if entry is None:
            shown = ", ".join(list(self.entries)[:20])
            raise ResourceNotFoundError(f"No model named {_shown(name)} is served here; the models are: {shown}")
        return entry

    def used(self) -> int:
        return sum(e.size for e in self.entries.values() if e.state is not None)

    def status(self, entry: _Entry) -> tuple[str, str]:
        if entry.state is not None and not self.wanted[entry.index]:
            return UNAVAILABLE, "unloaded through the repository API"
        return entry.status, entry.reason

    def index(self, ready_only: bool = False) -> list[dict[str, Any]]:
        """The repository index: every configured model, its version, state and the reason for it."""
        out = []
        for entry in self.entries.values():
            state, reason = self.status(entry)
            if ready_only and state != READY:
                continue
            out.append({"name": entry.spec.name, "version": entry.spec.version or "", "state": state,
                        "reason": reason})
        return out

    # -- loading (the dispatcher thread, or under the lock) ------------------------------------------
    def load_at_start(self) -> None:
        """Load the models configured to load at start (the others load on their first request)."""
        for entry in self.entries.values():
            if entry.spec.load:
                self._load(entry)
            else:
                entry.reason = "not loaded yet: loads on its first request"

    def ready_state(self, name: str, *, touch: bool = True) -> Any:
        """The loaded ServingState of ``name``, loading it first when it may be loaded.

        Raises:
            ResourceNotFoundError: no such model (404).
            TureenError: unloaded through the API (503), failed to load (503), or over the memory cap (507).
        """
        entry = self.entry(name)
        with self._lock:
            if not self.wanted[entry.index]:
                if entry.state is not None:
                    self._unload(entry, "unloaded through the repository API")
                raise TureenError(f"The model {name!r} is unloaded; POST /v2/repository/models/{name}/load to "
                                  "serve it again", error_code="TEMPORARILY_UNAVAILABLE", http_status=503)
            if entry.state is None:
                self._load(entry)
            if touch:
                entry.last_used = time.monotonic()
            return entry.state

    def load(self, name: str) -> None:
        """The repository API's load: mark ``name`` served (in every worker) and load it here."""
        entry = self.entry(name)
        with self._lock:
            self.wanted[entry.index] = True
            if entry.state is None:
                self._load(entry)
            entry.last_used = time.monotonic()

    def unload(self, name: str) -> None:
        """The repository API's unload: mark ``name`` unloaded (in every worker) and free it here."""
        entry = self.entry(name)
        with self._lock:
            self.wanted[entry.index] = False
            if entry.state is not None:
                self._unload(entry, "unloaded through the repository API")
            else:
                entry.status, entry.reason = UNAVAILABLE, "unloaded through the repository API"

    def _load(self, entry: _Entry) -> None:
        from tureen.serving.app import ServingState, _load

        entry.status, entry.reason = LOADING, "loading"
        settings = self.settings.replace(model_name=entry.spec.name, model_version=entry.spec.version)
        state = ServingState(settings, entry.spec.uri)
        _import_loader(entry.path)
        before = _rss()
        try:
            _load(state, str(entry.path))
        except Exception as exc:  # noqa: BLE001 - reported by the index, /ready and the request
            entry.status, entry.reason = UNAVAILABLE, f"failed to load: {type(exc).__name__}: {exc}"
            _log.error("loading the model %r failed: %s", entry.spec.name, entry.reason)
            if isinstance(exc, TureenError):
                raise TureenError(f"The model {entry.spec.name!r} failed to load: {exc.message}",
                                  error_code="TEMPORARILY_UNAVAILABLE", http_status=503) from exc
            raise TureenError(f"The model {entry.spec.name!r} failed to load: {type(exc).__name__}: {exc}",
                              error_code="TEMPORARILY_UNAVAILABLE", http_status=503) from exc
        entry.size = max(0, _rss() - before)
        _log.info("model %r loaded in %.2f s, %s", entry.spec.name, state.load_seconds or 0.0, _mib(entry.size))
        entry.state = state
        entry.status, entry.reason = READY, ""
        entry.loads += 1
        entry.last_used = time.monotonic()
        if self.metrics is not None:
            self.metrics.set_model_load_seconds(state.load_seconds or 0.0)
        self._enforce_cap(entry)

    def _enforce_cap(self, keep: _Entry) -> None:
        if self.cap is None:
            return
        while self.used() > self.cap:
            others = [e for e in self.entries.values() if e.state is not None and e is not keep]
            if not others:
                size = keep.size
                self._unload(keep, f"needs {_mib(size)} alone, over the memory cap of {_mib(self.cap)}")
                raise TureenError(f"The model {keep.spec.name!r} needs {_mib(size)}, over the memory cap of "
                                  f"{_mib(self.cap)} (TUREEN_SERVING_MAX_MEMORY / --max-memory)",
                                  error_code="RESOURCE_EXHAUSTED", http_status=507)
            victim = min(others, key=lambda e: e.last_used)
            self._unload(victim, f"unloaded to stay under the memory cap of {_mib(self.cap)}; loads again on its "
                                 "next request")

    def _unload(self, entry: _Entry, reason: str) -> None:
        entry.state = None
        entry.batcher = None
        entry.size = 0
        entry.status, entry.reason = UNAVAILABLE, reason
        _trim()


_SERVING_MODULES = ("numpy", "pandas", "tureen.pyfunc", "tureen.models.signature", "tureen.serving.scoring_codec",
                    "tureen.serving.v2_codec", "tureen.serving.responses")


def _import_loader(path: Path) -> None:
    """Import what loading and serving the model imports anyway (serving's own modules, the model's flavor and
    its declared frameworks, from tureen's own table only), so that its measured size is its own."""
    import importlib

    for module in _SERVING_MODULES:
        importlib.import_module(module)
    try:
        from tureen.flavors import flavor_for_loader, loader_module_for
        from tureen.models.mlmodel import Model

        loader = (Model.load(path).flavors.get("python_function") or {}).get("loader_module")
        flavor = flavor_for_loader(loader) if loader else None
        if flavor is None:
            return
        tureen_module = loader_module_for(loader)
        if tureen_module.startswith("tureen."):
            importlib.import_module(tureen_module)
        for module in flavor.packages:  # the flavor's declared frameworks, never a name from the model
            try:
                importlib.import_module(module)
            except ImportError:
                continue
    except Exception:  # noqa: BLE001 - loading itself reports a bad model
        return


def _mib(n: int) -> str:
    return f"{n / 2 ** 20:.1f} MiB"


def _shown(name: Any) -> str:
    text = repr(name)
    return text if len(text) <= 80 else text[:77] + "...'"
