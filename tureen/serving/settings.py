"""Serving settings: one frozen dataclass, every field settable by a ``TUREEN_SERVING_*`` variable.

Precedence (highest first): explicit arguments (CLI flags, ``ServingSettings(...)``), then environment
variables ``TUREEN_SERVING_<FIELD>`` (upper-case field name), then the defaults below.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from typing import Any, Mapping

from tureen.exceptions import InvalidParameterError

__all__ = ["ServingSettings", "ENV_PREFIX"]

ENV_PREFIX = "TUREEN_SERVING_"


@dataclass(frozen=True)
class ServingSettings:
    """How a model is served. Every field can come from ``TUREEN_SERVING_<NAME>``.

    Attributes:
        host: address to bind (default ``127.0.0.1``; ``0.0.0.0`` inside containers).
        port: TCP port (default 5000; 0 picks a free port).
        workers: gunicorn worker processes.
        worker: the kind of worker process. ``loop`` (default): an event loop holds every connection (keep-alive,
            slow and idle clients cost nothing) and one dispatcher runs the model; ``sync`` and ``gthread``:
            gunicorn's own workers (one blocking request at a time / a pool of ``threads`` threads).
        threads: threads per worker for the ``gthread`` worker.
        timeout: seconds one prediction may take before the answer is 504.
        max_request_bytes: largest accepted request body; larger bodies get 413 naming this limit.
        preload: load the model once in the master process before forking workers (shared memory).
        debug: include stack traces in 5xx error bodies.
        env_manager: only ``local`` (serve in the current Python environment) is supported.
        model_name: the model's name in Open Inference Protocol paths (default: registered name or
            the model directory's name).
        model_version: the version reported by ``/v2/models/{name}`` and ``/metadata``.
        access_log: write one JSON line per request to stderr.
        keepalive: seconds an idle keep-alive connection stays open.
        read_timeout: seconds a client may take to send one whole request (head and body) from its first byte;
            slower ones get 408 and are disconnected (``loop`` worker).
        max_batch_size: micro-batching: merge concurrent requests into one predict of at most this many rows
            (1: off, the default; see :mod:`tureen.serving.batching`; ``loop`` worker).
        max_latency_ms: micro-batching: under load, how long a batch stays open for more requests.
        max_connections: connections one worker holds at most; when full, the longest-idle (or slowest
            unfinished) connection is dropped to make room (``loop`` worker).
        graceful_timeout: seconds in-flight requests get to finish after SIGTERM.
        allow_pickle: allow pickle-based model formats (None: ``TUREEN_ALLOW_PICKLE``, default true).
        model_config: JSON object string of overrides for the model's config section.
        strict_json: encode NaN/Infinity in predictions as ``null`` (MLflow emits bare ``NaN`` tokens).
        backlog: listen queue length.
        max_memory: several models per server: the memory the loaded models may take together, in bytes
            (``2GiB``); when a load goes over it, the least recently used other models are unloaded (None: no
            cap; see :mod:`tureen.serving.repository`).
        gc_freeze: once the model is loaded, move every object alive then into the garbage collector's
            permanent generation (``gc.freeze``), so that no later collection walks the model and the libraries
            again: a full collection over a loaded scikit-learn pipeline takes about 60 ms, which would land on
            one request's latency. With preload the master freezes before forking, which also keeps the
            shared pages untouched by the workers' collections. Objects created later are collected as usual.

    Example:
        >>> ServingSettings.from_env({"TUREEN_SERVING_PORT": "8080"}).port
        8080
    """

    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    worker: str = "loop"
    threads: int = 1
    timeout: float = 60.0
    max_request_bytes: int = 64 * 1024 * 1024
    preload: bool = True
    debug: bool = False
    env_manager: str = "local"
    model_name: str | None = None
    model_version: str | None = None
    access_log: bool = True
    keepalive: float = 5.0
    read_timeout: float = 30.0
    max_connections: int = 1000
    max_batch_size: int = 1
    max_latency_ms: float = 2.0
    graceful_timeout: float = 30.0
    allow_pickle: bool | None = None
    model_config: str | None = None
    strict_json: bool = False
    backlog: int = 2048
    max_memory: int | None = None
    gc_freeze: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= int(self.port) <= 65535:
            problems.append(f"port must be between 0 and 65535, got {self.port}")
        if int(self.workers) < 1:
            problems.append(f"workers must be at least 1, got {self.workers}")
        if int(self.threads) < 1:
            problems.append(f"threads must be at least 1, got {self.threads}")
        if not float(self.timeout) > 0:
            problems.append(f"timeout must be positive, got {self.timeout}")
        if int(self.max_request_bytes) < 1:
            problems.append(f"max_request_bytes must be positive, got {self.max_request_bytes}")
        if self.worker not in _WORKERS:
            problems.append(f"worker must be one of {sorted(_WORKERS)}, got {self.worker!r}")
        if not float(self.read_timeout) > 0:
            problems.append(f"read_timeout must be positive, got {self.read_timeout}")
        if int(self.max_batch_size) < 1:
            problems.append(f"max_batch_size must be at least 1, got {self.max_batch_size}")
        if not 0 <= float(self.max_latency_ms) <= 10_000:
            problems.append(f"max_latency_ms must be between 0 and 10000, got {self.max_latency_ms}")
        if self.max_memory is not None and int(self.max_memory) < 1:
            problems.append(f"max_memory must be positive, got {self.max_memory}")
        if int(self.max_connections) < 1:
            problems.append(f"max_connections must be at least 1, got {self.max_connections}")
        if self.env_manager != "local":
            problems.append(f"env_manager {self.env_manager!r} is not supported; tureen serves in the current "
                            "environment (--env-manager local); build a container for an isolated one")
        if problems:
            raise InvalidParameterError("Invalid serving settings: " + "; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "ServingSettings":
        """Defaults, overridden by ``TUREEN_SERVING_*`` variables, overridden by non-None ``overrides``.

        Raises:
            InvalidParameterError: a variable or override has a value of the wrong type.

        Example:
            >>> ServingSettings.from_env({}, workers=4).workers
            4
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _convert(f.name, f.type, raw, ENV_PREFIX + f.name.upper())
        unknown = [k for k in overrides if k not in {f.name for f in fields(cls)}]
        if unknown:
            raise InvalidParameterError(f"Unknown serving settings {unknown}")
        for key, value in overrides.items():
            if value is not None:
                values[key] = _convert(key, _field_type(key), value, key) if isinstance(value, str) else value
        return cls(**values)

    def replace(self, **changes: Any) -> "ServingSettings":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def worker_class(self) -> str:
        """The gunicorn worker class for :attr:`worker`."""
        return _WORKERS[self.worker]


_WORKERS = {"loop": "tureen.serving.worker.LoopWorker", "sync": "sync", "gthread": "gthread"}


def _field_type(name: str) -> str:
    for f in fields(ServingSettings):
        if f.name == name:
            return str(f.type)
    raise InvalidParameterError(f"Unknown serving setting {name!r}")


def _convert(name: str, type_name: Any, raw: str, where: str) -> Any:
    t = str(type_name)
    try:
        if t.startswith("bool"):
            low = raw.strip().lower()
            if t == "bool | None" and low in ("none", "default"):
                return None
            # the one strict parser of every boolean setting: anything but the documented words is an error
            from tureen._flags import parse_bool

            return parse_bool(raw, name=where)
        if t.startswith("int"):
            if t.endswith("None") and raw.strip().lower() in ("", "none"):
                return None
            return _parse_size(raw) if name in ("max_request_bytes", "max_memory") else int(raw)
        if t.startswith("float"):
            return float(raw)
        if t.startswith("str | None"):
            return raw or None
        return raw
    except ValueError as exc:
        raise InvalidParameterError(f"{where}: {exc}") from None


def _parse_size(raw: str) -> int:
    """``"64MiB"``, ``"10MB"``, ``"512k"`` or a plain number of bytes."""
    text = raw.strip().lower().replace(" ", "")
    units = [("kib", 1024), ("mib", 1024 ** 2), ("gib", 1024 ** 3), ("kb", 1000), ("mb", 1000 ** 2),
             ("gb", 1000 ** 3), ("k", 1024), ("m", 1024 ** 2), ("g", 1024 ** 3), ("b", 1)]
    for suffix, mult in units:
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * mult)
    return int(text)
