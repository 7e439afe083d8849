"""Prometheus metrics shared by every worker, without a client library.

The counters live in one anonymous shared memory map created by the master process before it forks
workers. Each worker writes only its own slot (so no cross-process locking is needed); ``/metrics``,
answered by any worker, sums all slots. A worker that dies keeps its counts in its slot and its
replacement takes the slot over, so counters never go backwards.

Exposed:

* ``tureen_requests_total{endpoint,code}`` (counter)
* ``tureen_request_duration_seconds{endpoint}`` (histogram)
* ``tureen_requests_in_flight`` (gauge)
* ``tureen_model_load_seconds`` (gauge), ``tureen_worker_starts_total`` (counter)
* with micro-batching: ``tureen_batch_size`` (rows per merged or batcher-made predict, histogram),
  ``tureen_batch_queue_seconds`` (arrival to predict start of every model request, lone ones included,
  histogram), ``tureen_batches_total`` (counter)
* with several models per server, per model name: ``tureen_model_requests_total{model,code}`` (scoring
  requests: ``/invocations/<name>`` and V2 infer; counter),
  ``tureen_model_request_duration_seconds{model}`` (histogram) and ``tureen_model_loaded{model}`` (gauge:
  workers holding the model in memory). Only configured names become labels: a request naming an unknown
  model adds no series.
"""

from __future__ import annotations

import mmap
import threading
from typing import Any

__all__ = ["Metrics", "ENDPOINTS"]

#: endpoint labels; request paths map onto these, anything else is "other"
ENDPOINTS = ("/invocations", "/ping", "/health", "/ready", "/version", "/metadata", "/openapi.json",
             "/metrics", "/v2/health", "/v2/models", "/v2/models/infer", "other")
CODES = (200, 400, 404, 405, 413, 415, 422, 500, 503, 504, 0)  # 0 = any other code
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_E, _C, _B = len(ENDPOINTS), len(CODES), len(BUCKETS)
_HEADER = 4  # model_load_seconds, worker_starts, unused, unused
_COUNTS = 0
_HIST = _E * _C  # per endpoint: _B bucket counts + sum + count
_INFLIGHT = _HIST + _E * (_B + 2)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_BB = len(BATCH_BUCKETS)
_BATCH = _INFLIGHT + 1  # rows per predict: _BB bucket counts + sum + count (the count is batches_total)
_QUEUE = _BATCH + _BB + 2  # seconds from arrival to predict start: _B bucket counts + sum + count
_CONNS = _QUEUE + _B + 2  # open connections of the worker in this slot, and its last heartbeat (monotonic)
_BEAT = _CONNS + 1
_MODELS = _BEAT + 1  # per served model (several per server): _C code counts, _B buckets + sum + count, loaded
_PER_MODEL = _C + _B + 2 + 1
_CODE_INDEX = {c: i for i, c in enumerate(CODES)}
_ENDPOINT_INDEX = {e: i for i, e in enumerate(ENDPOINTS)}


def endpoint_label(path: str) -> str:
    """Map a request path onto a bounded set of labels.

    Example:
        >>> endpoint_label("/v2/models/churn/infer")
        '/v2/models/infer'
    """
    if path in _ENDPOINT_INDEX:
        return path
    if path.startswith("/v2/models/"):
        return "/v2/models/infer" if path.endswith("/infer") else "/v2/models"
    if path.startswith("/v2/health") or path == "/v2":
        return "/v2/health"
    return "other"


def _count_into(mv: Any, h: int, buckets: tuple[Any, ...], value: float) -> None:
    """Add ``value`` to the histogram at ``h``: its bucket counts (one per bound, not cumulative), sum, count."""
    for i, bound in enumerate(buckets):
        if value <= bound:
            mv[h + i] += 1
            break
    n = len(buckets)
    mv[h + n] += value
    mv[h + n + 1] += 1


class Metrics:
    """Counters in shared memory; create before forking, then call :meth:`use_slot` in each worker.

    Example:
        >>> m = Metrics(slots=1)
        >>> m.observe("/ping", 200, 0.001)
        >>> "tureen_requests_total" in m.render()
        True
    """

    def __init__(self, slots: int = 1, models: tuple[str, ...] | list[str] = ()) -> None:
        self.slots = max(1, int(slots))
        self.models = tuple(models)
        self._model_index = {m: i for i, m in enumerate(self.models)}
        self._slot = _MODELS + len(self.models) * _PER_MODEL
        size = (_HEADER + self.slots * self._slot) * 8
        self._map = mmap.mmap(-1, size)  # anonymous and MAP_SHARED: inherited by forked workers
        self._mv = memoryview(self._map).cast("d")
        self._base = _HEADER
        self._lock = threading.Lock()

    def use_slot(self, slot: int) -> None:
        """Make this process write into ``slot`` (called in each worker after fork)."""
        if not 0 <= slot < self.slots:
            slot = slot % self.slots
        self._base = _HEADER + slot * self._slot
        self._lock = threading.Lock()

    def set_model_load_seconds(self, seconds: float) -> None:
        self._mv[0] = float(seconds)

    def worker_started(self) -> None:
        with self._lock:
            self._mv[1] += 1

    def enter(self) -> None:
        with self._lock:
            self._mv[self._base + _INFLIGHT] += 1

    def leave(self) -> None:
        with self._lock:
            self._mv[self._base + _INFLIGHT] -= 1

    def observe(self, endpoint: str, code: int, seconds: float) -> None:
        """Count one answered request."""
        e = _ENDPOINT_INDEX.get(endpoint, _E - 1)
        c = _CODE_INDEX.get(code, _C - 1)
        mv = self._mv
        base = self._base
        h = base + _HIST + e * (_B + 2)
        with self._lock:
            mv[base + _COUNTS + e * _C + c] += 1
            _count_into(mv, h, BUCKETS, seconds)

    def set_connections(self, n: int) -> None:
        """Publish this worker's open connections (read by the other workers to balance accepts)."""
        self._mv[self._base + _CONNS] = float(n)

    def heartbeat(self, now: float) -> None:
        self._mv[self._base + _BEAT] = float(now)

    def fewest_elsewhere(self, now: float, fresh: float = 3.0) -> float | None:
        """The fewest open connections among the other live workers (heartbeat within ``fresh`` s), or None."""
        mv = self._mv
        best = None
        for s in range(self.slots):
            base = _HEADER + s * self._slot
            if base == self._base or now - mv[base + _BEAT] > fresh or mv[base + _BEAT] == 0:
                continue
            n = mv[base + _CONNS]
            best = n if best is None or n < best else best
        return best

    def observe_model(self, model: str, code: int, seconds: float) -> None:
        """Count one answered request for a configured model (other names are not counted)."""
        m = self._model_index.get(model)
        if m is None:
            return
        c = _CODE_INDEX.get(code, _C - 1)
        mv = self._mv
        base = self._base + _MODELS + m * _PER_MODEL
        with self._lock:
            mv[base + c] += 1
            _count_into(mv, base + _C, BUCKETS, seconds)

    def set_model_loaded(self, model: str, loaded: bool) -> None:
        """Publish whether this worker holds ``model`` in memory."""
        m = self._model_index.get(model)
        if m is not None:
            self._mv[self._base + _MODELS + m * _PER_MODEL + _C + _B + 2] = 1.0 if loaded else 0.0

    def observe_wait(self, wait: float) -> None:
        """Count the queue wait of a request the batcher sent straight through (nothing to merge it with)."""
        with self._lock:
            _count_into(self._mv, self._base + _QUEUE, BUCKETS, wait)

    def observe_batch(self, rows: int, waits: list[float]) -> None:
        """Count one predict of ``rows`` rows, made for requests that waited ``waits`` seconds each."""
        mv = self._mv
        base = self._base
        with self._lock:
            _count_into(mv, base + _BATCH, BATCH_BUCKETS, rows)
            for wait in waits:
                _count_into(mv, base + _QUEUE, BUCKETS, wait)

    def _histogram(self, lines: list[str], name: str, offset: int, buckets: tuple[Any, ...] = BUCKETS,
                   fmt: str = ".6f", label: str = "") -> None:
        """The histogram at ``offset`` (summed over every slot), with ``label`` (``key="value"``) or none."""
        n = len(buckets)
        first = label + "," if label else ""
        braced = "{" + label + "}" if label else ""
        cumulative = 0.0
        for i, bound in enumerate(buckets):
            cumulative += self._sum(offset + i)
            lines.append(f'{name}_bucket{{{first}le="{bound}"}} {cumulative:.0f}')
        count = self._sum(offset + n + 1)
        lines.append(f'{name}_bucket{{{first}le="+Inf"}} {count:.0f}')
        lines.append(f"{name}_sum{braced} {self._sum(offset + n):{fmt}}")
        lines.append(f"{name}_count{braced} {count:.0f}")

    def _codes(self, lines: list[str], name: str, offset: int, label: str) -> None:
        """The counters by status code at ``offset``, those above zero, with ``label`` beside the code."""
        for c, code in enumerate(CODES):
            n = self._sum(offset + c)
            if n:
                lines.append(f'{name}{{{label},code="{code if code else "other"}"}} {n:.0f}')

    def _sum(self, offset: int) -> float:
        mv = self._mv
        return sum(mv[_HEADER + s * self._slot + offset] for s in range(self.slots))

    def render(self) -> str:
        """The Prometheus text exposition (version 0.0.4)."""
        lines = ["# HELP tureen_requests_total HTTP requests answered, by endpoint and status code.",
                 "# TYPE tureen_requests_total counter"]
        for e, endpoint in enumerate(ENDPOINTS):
            self._codes(lines, "tureen_requests_total", _COUNTS + e * _C, f'endpoint="{endpoint}"')
        lines += ["# HELP tureen_request_duration_seconds Time from request start to the end of the answer.",
                  "# TYPE tureen_request_duration_seconds histogram"]
        for e, endpoint in enumerate(ENDPOINTS):
            h = _HIST + e * (_B + 2)
            if self._sum(h + _B + 1):
                self._histogram(lines, "tureen_request_duration_seconds", h, label=f'endpoint="{endpoint}"')
        lines += ["# HELP tureen_requests_in_flight Requests being handled right now.",
                  "# TYPE tureen_requests_in_flight gauge",
                  f"tureen_requests_in_flight {max(0.0, self._sum(_INFLIGHT)):.0f}",
                  "# HELP tureen_model_load_seconds Seconds spent loading the model.",
                  "# TYPE tureen_model_load_seconds gauge",
                  f"tureen_model_load_seconds {self._mv[0]:.6f}",
                  "# HELP tureen_worker_starts_total Worker processes started (restarts included).",
                  "# TYPE tureen_worker_starts_total counter",
                  f"tureen_worker_starts_total {self._mv[1]:.0f}"]
        if self._sum(_BATCH + _BB + 1) or self._sum(_QUEUE + _B + 1):
            lines += ["# HELP tureen_batches_total Predict calls made by the micro-batcher.",
                      "# TYPE tureen_batches_total counter",
                      f"tureen_batches_total {self._sum(_BATCH + _BB + 1):.0f}",
                      "# HELP tureen_batch_size Rows per predict call of the micro-batcher.",
                      "# TYPE tureen_batch_size histogram"]
            self._histogram(lines, "tureen_batch_size", _BATCH, BATCH_BUCKETS, ".0f")
            lines += ["# HELP tureen_batch_queue_seconds Time from a request's arrival to the start of its predict.",
                      "# TYPE tureen_batch_queue_seconds histogram"]
            self._histogram(lines, "tureen_batch_queue_seconds", _QUEUE)
        if self.models:
            self._render_models(lines)
        lines.append("")
        return "\n".join(lines)

    def _render_models(self, lines: list[str]) -> None:
        lines += ["# HELP tureen_model_requests_total Scoring requests answered for each served model, by status code.",
                  "# TYPE tureen_model_requests_total counter"]
        for m, name in enumerate(self.models):
            self._codes(lines, "tureen_model_requests_total", _MODELS + m * _PER_MODEL, f'model="{name}"')
        lines += ["# HELP tureen_model_request_duration_seconds Time to answer a request, for each served model.",
                  "# TYPE tureen_model_request_duration_seconds histogram"]
        for m, name in enumerate(self.models):
            h = _MODELS + m * _PER_MODEL + _C
            if self._sum(h + _B + 1):
                self._histogram(lines, "tureen_model_request_duration_seconds", h, label=f'model="{name}"')
        lines += ["# HELP tureen_model_loaded Worker processes holding each served model in memory.",
                  "# TYPE tureen_model_loaded gauge"]
        for m, name in enumerate(self.models):
            loaded = self._sum(_MODELS + m * _PER_MODEL + _C + _B + 2)
            lines.append(f'tureen_model_loaded{{model="{name}"}} {loaded:.0f}')

    def __getstate__(self) -> Any:  # pragma: no cover - never pickled on purpose
        raise TypeError("Metrics live in shared memory and cannot be pickled")
