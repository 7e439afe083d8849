"""Adaptive micro-batching: concurrent ``/invocations`` requests merged into one predict, answers split back.

The loop worker's dispatcher (:mod:`tureen.serving.worker`) hands each model request to :class:`Batcher`,
which is active when ``max_batch_size`` is above 1 (``--max-batch-size``; off by default, because a model
whose answer for one row depends on the other rows of its input would change its answers when merged).

Semantics:

* **Opportunistic.** When the dispatcher takes a request, nothing else is queued and no other connection is
  about to send a request, the request is predicted alone, at once: no added latency at low load. A
  connection is "about to send" for ``max_latency_ms`` after it opened or was answered a model request (a
  client in a request loop sends its next one at once), or after it began sending a request; an idle
  keep-alive connection, a slow client and a connection whose request is already queued are not.
* **Under load** (other requests are queued, or about to be sent) the batch takes every queued request,
  then stays open for the requests about to be sent until it holds ``max_batch_size`` rows, no connection
  is about to send any more, or ``max_latency_ms`` have passed since it opened, whichever comes first. So a
  batch that already holds a request from every busy connection is predicted at once instead of waiting.
* **Each request is parsed and checked against the signature on its own**, before merging: a bad request
  gets its own 400 and never fails its neighbours.
* Only requests that can be merged exactly are: the same params, the same kind of input (DataFrames with the
  same columns and dtypes and a default index; the signature's one-dtype 2-D arrays; tensors of the same
  dtype and trailing shape, stacked on axis 0; dicts of equally long arrays with the same keys); anything
  else is predicted alone. A request larger than ``max_batch_size`` rows is predicted alone.
* The merged prediction is split back by rows, in order. When the model's output cannot be split by rows (a
  scalar, a string, a dict whose values do not all have one entry per row), each request of the batch is
  predicted again on its own, so answers never depend on batching.
* A model error (or the deadline) fails only that batch's requests, each with the error.

Metrics: ``tureen_batch_size`` (rows per predict, histogram), ``tureen_batch_queue_seconds`` (time from a
request's arrival to the start of its predict, histogram) and ``tureen_batches_total``.

Example:
    >>> split_rows([1, 2, 3], [2, 1])
    [[1, 2], [3]]
"""

from __future__ import annotations

import json
import logging
import queue
import time
import traceback
from typing import Any, Callable

from tureen.exceptions import TureenError

__all__ = ["Batcher", "merge_inputs", "split_rows"]

_log = logging.getLogger("tureen.serving")


def _rows(data: Any) -> int | None:
    """Rows of a mergeable model input, or None when it cannot be merged."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        idx = data.index
        if isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1:
            return len(data)
        return None
    if isinstance(data, np.ndarray):
        return data.shape[0] if data.ndim >= 1 else None
    if isinstance(data, dict) and data:
        lengths = set()
        for v in data.values():
            if not isinstance(v, np.ndarray) or v.ndim < 1:
                return None
            lengths.add(v.shape[0])
        return lengths.pop() if len(lengths) == 1 else None
    return None


def _rows_of(parsed: Any) -> int | None:
    """Rows of a parsed request's input (without building a DataFrame it does not need yet)."""
    if parsed.block is not None:
        return _rows(parsed.block)
    columns = parsed.columns
    if columns is not None:
        return len(next(iter(columns.values())))
    return _rows(parsed.data)


def _column_kind(values: Any) -> str | None:
    """A column's dtype, or None for an object column that is not all strings (pandas may infer it
    differently alone and merged)."""
    kind = values.dtype
    if kind.kind != "O":
        return kind.str
    return "str" if all(type(v) is str for v in values) else None


def _kind(parsed: Any) -> Any:
    """A key equal for two parsed requests exactly when their inputs (and params) can be merged."""
    import numpy as np
    import pandas as pd

    try:
        params = json.dumps(parsed.params, sort_keys=True, default=repr) if parsed.params else ""
    except (TypeError, ValueError):
        return None
    if parsed.block is not None:
        return ("block", parsed.block.dtype.str, parsed.block.shape[1:], params)
    if parsed.columns is not None:
        kinds = tuple(_column_kind(v) for v in parsed.columns.values())
        if None in kinds:
            return None
        return ("columns", tuple(map(str, parsed.columns)), kinds, params)
    data = parsed.data
    if isinstance(data, pd.DataFrame):
        return ("frame", tuple(map(str, data.columns)), tuple(str(t) for t in data.dtypes), params)
    if isinstance(data, np.ndarray):
        return ("array", data.dtype.str, data.shape[1:], params)
    if isinstance(data, dict):
        return ("dict", tuple((k, v.dtype.str, v.shape[1:]) for k, v in sorted(data.items())), params)
    return None


def merge_inputs(items: list[Any], use_block: bool = False) -> tuple[Any, Any]:
    """Merge the parsed requests of one kind: (model input, block or None). With ``use_block``, requests that
    carry a block (the signature's one-dtype 2-D array) are merged as that block only.

    Example:
        >>> import numpy as np
        >>> from tureen.serving.scoring_codec import ParsedRequest
        >>> merge_inputs([ParsedRequest(np.ones((1, 2)), None), ParsedRequest(np.zeros((2, 2)), None)])[0].shape
        (3, 2)
    """
    import numpy as np
    import pandas as pd

    first = items[0]
    if first.block is not None and use_block:
        return None, np.concatenate([p.block for p in items], axis=0)
    if first.columns is not None:
        from tureen.serving.scoring_codec import frame_of_columns

        return frame_of_columns({c: np.concatenate([p.columns[c] for p in items]) for c in first.columns}), None
    data = first.data
    if isinstance(data, pd.DataFrame):
        # column by column: faster than pd.concat for many small frames, and keeps each column's dtype
        cols = {c: np.concatenate([p.data[c].to_numpy() for p in items]) for c in data.columns}
        return pd.DataFrame(cols, columns=data.columns), None
    if isinstance(data, np.ndarray):
        return np.concatenate([p.data for p in items], axis=0), None
    return {k: np.concatenate([p.data[k] for p in items], axis=0) for k in data}, None


def split_rows(pred: Any, sizes: list[int]) -> list[Any] | None:
    """Cut a prediction for the merged rows back into one per request, or None when it has no row axis."""
    total = sum(sizes)
    bounds = []
    start = 0
    for n in sizes:
        bounds.append((start, start + n))
        start += n
    name = type(pred).__name__
    if name in ("DataFrame", "Series") and len(pred) == total:
        return [pred.iloc[a:b] for a, b in bounds]
    if isinstance(pred, dict):
        if pred and all(hasattr(v, "__len__") and not isinstance(v, (str, bytes)) and len(v) == total
                        for v in pred.values()):
            return [{k: v[a:b] for k, v in pred.items()} for a, b in bounds]
        return None
    if isinstance(pred, (list, tuple)) and len(pred) == total:
        return [list(pred[a:b]) for a, b in bounds]
    shape = getattr(pred, "shape", None)
    if shape is not None and len(shape) >= 1 and shape[0] == total:
        return [pred[a:b] for a, b in bounds]
    return None


class Batcher:
    """Runs model requests for one served model, merging concurrent ones (see the module docstring)."""

    def __init__(self, state: Any, server: Any, record: Callable[..., None], metrics: Any = None, *,
                 settings: Any = None, path: str = "/invocations") -> None:
        from tureen.serving.responses import encode_predictions

        # ``state``: the model's ServingState, or (several models per server) a function returning it, which
        # may load the model first or raise the TureenError its requests get
        self._state = state
        self.server = server
        self.record = record  # record(req, status, body): metrics and the access log of one answered request
        settings = settings if settings is not None else state.settings
        self.path = path
        self.max_rows = int(settings.max_batch_size)
        self.max_wait = float(settings.max_latency_ms) / 1000.0
        self.strict = bool(settings.strict_json)
        self.debug = bool(settings.debug)
        self.max_body = int(settings.max_request_bytes)
        self.encode = encode_predictions
        self.metrics = metrics

    @property
    def state(self) -> Any:
        state = self._state
        return state() if callable(state) else state

    # -- entry point: the dispatcher took ``first`` off the queue -------------------------------------
    def run(self, first: Any, other: Callable[[Any], None], alone: Callable[[Any], None] | None = None) -> None:
        """Answer ``first`` and whatever it is merged with; requests that are not for this batcher go to
        ``other`` (after the batch). When nothing else is queued, ``first`` goes to ``alone`` (default
        ``other``): the path of a server without batching, so a lone request costs exactly what it costs there."""
        jobs = self.server.jobs
        try:
            queued = jobs.get_nowait()
        except queue.Empty:
            queued = None
        opened = time.monotonic()
        if queued is None and not self._expected_until(opened):
            if self.metrics is not None:
                self.metrics.observe_wait(opened - first.arrived)
            (alone or other)(first)
            return
        entries: list[tuple[Any, Any]] = []  # (request, parsed)
        later: list[Any] = []
        rows = 0
        parsed = self._parse(first)
        if parsed is not None:
            entries.append((first, parsed))
            rows = _rows_of(parsed) or 0
        taken = [] if queued is None else [queued]
        close = opened + self.max_wait
        # take what is queued already, then wait for the requests connections are about to send
        while rows < self.max_rows:
            if taken:
                req = taken.pop()
            else:
                try:
                    req = jobs.get_nowait()
                except queue.Empty:
                    now = time.monotonic()
                    remaining = min(close, self._expected_until(now)) - now
                    if remaining <= 0:
                        break
                    try:
                        req = jobs.get(timeout=remaining)
                    except queue.Empty:
                        continue  # look again: a connection may have become about to send meanwhile
            if req is None:
                continue
            if not self.accepts(req):
                later.append(req)
                continue
            p = self._parse(req)
            if p is not None:
                entries.append((req, p))
                rows += _rows_of(p) or self.max_rows
        self._predict_groups(entries)
        for req in taken + later:
            other(req)

    def _expected_until(self, now: float) -> float:
        """Until when a request is worth waiting for: ``max_latency_ms`` after the latest moment a connection
        became about to send one (0.0 when none is; see the module docstring)."""
        expected = getattr(self.server, "expected_since", None)
        if expected is None or self.max_wait <= 0:
            return 0.0
        latest = expected(now - self.max_wait)
        return latest + self.max_wait if latest else 0.0

    def accepts(self, req: Any) -> bool:
        env = req.environ
        return env.get("PATH_INFO") == self.path and env.get("REQUEST_METHOD") == "POST"

    # -- steps ------------------------------------------------------------------------------------------
    def _parse(self, req: Any) -> Any:
        """Parse and check one request; answer it at once (and return None) when it is bad."""
        from tureen.serving.app import _read_body

        try:
            state = self.state
            if not state.ready:
                message = (f"The model failed to load: {state.load_error}" if state.load_error
                           else "The model is still loading; retry when /ready is 200")
                raise TureenError(message, error_code="TEMPORARILY_UNAVAILABLE", http_status=503)
            body = _read_body(req.environ, self.max_body)
            ctype = req.environ.get("CONTENT_TYPE")
            return state.call_with_timeout(lambda: state.codec.parse(body, ctype))
        except TureenError as exc:
            self._fail([req], exc)
        except Exception as exc:  # noqa: BLE001 - never a stack trace unless debug
            _log.exception("unexpected error parsing a request")
            self._fail([req], TureenError(f"Internal server error: {type(exc).__name__}: {exc}"))
        return None

    def _predict_groups(self, entries: list[tuple[Any, Any]]) -> None:
        groups: dict[Any, list[tuple[Any, Any]]] = {}
        alone: list[tuple[Any, Any]] = []
        for req, parsed in entries:
            key = _kind(parsed) if not parsed.unwrap else None
            n = _rows_of(parsed)
            if key is None or n is None or n == 0 or n > self.max_rows or len(entries) == 1:
                alone.append((req, parsed))
            else:
                groups.setdefault(key, []).append((req, parsed))
        for members in groups.values():
            if len(members) == 1:
                alone.extend(members)
            else:
                self._predict_merged(members)
        for req, parsed in alone:
            self._predict_one(req, parsed)

    def _observe(self, reqs: list[Any], rows: int) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        now = time.monotonic()
        metrics.observe_batch(rows, [now - r.arrived for r in reqs])

    def _predict_one(self, req: Any, parsed: Any) -> None:
        state = self.state
        self._observe([req], _rows_of(parsed) or 1)
        try:
            pred = state.call_with_timeout(lambda: state.predict(parsed.data, parsed.params, parsed.block))
            body = self.encode(pred, unwrap=parsed.unwrap, strict=self.strict)
        except TureenError as exc:
            self._fail([req], exc)
            return
        except (TypeError, ValueError) as exc:
            self._fail([req], _encoding_error(exc))
            return
        except Exception as exc:  # noqa: BLE001
            _log.exception("unexpected error in a prediction")
            self._fail([req], TureenError(f"Internal server error: {type(exc).__name__}: {exc}"))
            return
        self._answer(req, 200, body)

    def _predict_merged(self, members: list[tuple[Any, Any]]) -> None:
        state = self.state
        reqs = [r for r, _ in members]
        items = [p for _, p in members]
        sizes = [_rows_of(p) or 0 for p in items]
        self._observe(reqs, sum(sizes))
        params = items[0].params
        try:
            data, block = merge_inputs(items, use_block=state.block_predict is not None and not params)
            pred = state.call_with_timeout(lambda: state.predict(data, params, block))
        except TureenError as exc:
            self._fail(reqs, exc)
            return
        except Exception as exc:  # noqa: BLE001
            _log.exception("unexpected error in a batched prediction")
            self._fail(reqs, TureenError(f"Internal server error: {type(exc).__name__}: {exc}"))
            return
        parts = split_rows(pred, sizes)
        if parts is None:  # no row axis: answers must not depend on batching, so predict each on its own
            for req, parsed in members:
                self._predict_one(req, parsed)
            return
        ok = []
        for req, part in zip(reqs, parts):
            try:
                body = self.encode(part, unwrap=False, strict=self.strict)
            except (TypeError, ValueError) as exc:
                self._fail([req], _encoding_error(exc))
                continue
            ok.append((req, body))
        many = getattr(self.server, "answer_many", None)
        if many is None:
            for req, body in ok:
                self._answer(req, 200, body)
            return
        head = f"200 {_REASON_200}"
        many([(req, head, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)
              for req, body in ok])
        for req, body in ok:
            self.record(req, 200, len(body))

    # -- answers ------------------------------------------------------------------------------------------
    def _fail(self, reqs: list[Any], exc: TureenError) -> None:
        err = exc.to_json()
        if not self.debug:
            err.pop("stack_trace", None)
        elif "stack_trace" not in err:
            err["stack_trace"] = traceback.format_exc()
        body = json.dumps(err).encode()
        for req in reqs:
            self._answer(req, exc.http_status, body)

    def _answer(self, req: Any, status: int, body: bytes) -> None:
        from tureen.serving.app import _REASONS

        self.server.answer(req, f"{status} {_REASONS.get(status, 'ERROR')}",
                           [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)
        self.record(req, status, len(body))


_REASON_200 = "OK"


def _encoding_error(exc: Exception) -> TureenError:
    from tureen.exceptions import ModelPredictionError

    return ModelPredictionError(f"The model's output cannot be encoded as JSON: {exc}")
