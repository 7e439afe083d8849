"""``tureen import http://host:port``: the reading side of an import from a live MLflow tracking server.

Through the server's REST API only (the ``/api/2.0/mlflow`` endpoints every MLflow server answers, plus its
``get-history-bulk`` endpoint for metric histories of up to 100 runs per request): experiments (ids kept where
free), runs of every lifecycle stage with their ids, names, users, statuses and timestamps, params, tags, the
**full** history of every metric, dataset inputs (datasets, their input tags), the runs' logged-model inputs
and outputs, logged models (``logged-models/search``: params, tags, metrics), registered models with their
tags, descriptions and aliases, and every model version with its stage, source, run link, tags and status.
With ``copy_artifacts`` the files come through the server's artifact API (``artifacts/list`` and
``get-artifact`` for runs, the logged-model artifact routes for logged models), which serves the server's own
artifact store and its ``mlflow-artifacts`` proxy alike.

The writing (batches, idempotence, resuming, verification) is :func:`tureen.store._import.run_import`'s.
The histories of a batch are fetched by a few concurrent requests while the previous batch is written, and
the next page of runs is asked for while the current one is processed.

Example:
    >>> summary = import_server("http://127.0.0.1:5000", "sqlite:///tracking.db")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator, Sequence

from tureen.exceptions import InvalidParameterError
from tureen.store._import import (
    ExperimentRecord,
    Files,
    ImportSummary,
    ModelRecord,
    RegisteredModelRecord,
    RunRecord,
    run_import,
)
from tureen.tracking._filter import encode_page_token

__all__ = ["import_server", "ServerSource"]

_BULK_RUNS = 100  # MLflow's get-history-bulk takes at most 100 run ids ...
_BULK_POINTS = 25_000  # ... and answers at most 25,000 points (more: per run, paged)
_RUNS_PAGE = 1000
_SEARCH_AHEAD = 3  # pages of runs asked for at once (MLflow's offset tokens)


def _offset_of(token: str) -> int | None:
    """The offset of an MLflow page token (base64 of ``{"offset": N}``), or None for any other token."""
    import base64
    import binascii
    import json

    try:
        got = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, TypeError):
        return None
    if isinstance(got, dict) and set(got) == {"offset"} and isinstance(got["offset"], int) \
            and not isinstance(got["offset"], bool) and got["offset"] > 0:
        return got["offset"]
    return None


def _pages(fetch: Callable[[str | None], dict[str, Any]], key: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        out = fetch(token)
        yield from out.get(key) or []
        token = out.get("next_page_token")
        if not token:
            return


def _number(value: Any) -> float:
    """A metric value as MLflow's JSON gives it (a number, or "NaN"/"Infinity" strings from some servers)."""
    if isinstance(value, str):
        return float(value)
    return float(value) if value is not None else math.nan


def _kv(items: Any) -> list[tuple[str, str]]:
    return [(str(x.get("key")), "" if x.get("value") is None else str(x.get("value"))) for x in items or []]


class _Stub:
    """A run as ``runs/search`` listed it (everything but the full metric histories)."""

    __slots__ = ("run_id", "artifact_uri", "data")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.run_id = str(data["info"]["run_id"])
        self.artifact_uri = data["info"].get("artifact_uri")


class ServerSource:
    """Reads a live MLflow tracking server for :func:`tureen.store._import.run_import`."""

    reload_present = False  # a run already imported is not fetched again (its histories cost requests)

    def __init__(self, url: str, *, workers: int | None = None) -> None:
        from tureen.tracking.stores.rest import RestStore

        if not url.startswith(("http://", "https://")):
            raise InvalidParameterError(f"Not a tracking server URL: {url!r} (expected http://host:port)")
        self.rest = RestStore(url)
        self.http = self.rest.http  # one requests session per thread (HttpClient keeps them thread-local)
        self.workers = workers or int(os.environ.get("TUREEN_IMPORT_WORKERS", "8"))
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="tureen-import-http")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- experiments and runs ------------------------------------------------------------------------------
    def experiments(self) -> list[ExperimentRecord]:
        out = []
        for meta in _pages(lambda t: self.rest._post("experiments/search", {
                "view_type": "ALL", "max_results": 1000, "page_token": t}), "experiments"):
            out.append(ExperimentRecord(
                src_id=str(meta["experiment_id"]), name=meta.get("name"),
                artifact_location=meta.get("artifact_location"), lifecycle_stage=meta.get("lifecycle_stage") or
                "active", creation_time=meta.get("creation_time"), last_update_time=meta.get("last_update_time"),
                tags=_kv(meta.get("tags"))))
        return out

    def _search(self, experiment_id: str, token: str | None) -> dict[str, Any]:
        return self.rest._post("runs/search", {"experiment_ids": [experiment_id], "run_view_type": "ALL",
                                               "max_results": _RUNS_PAGE, "page_token": token,
                                               "order_by": ["attributes.start_time ASC"]})

    def run_pages(self, exp: ExperimentRecord) -> Iterator[list[_Stub]]:
        """Pages of runs (every lifecycle stage) of one experiment, oldest first, while the caller works on
        the page before. MLflow's page tokens are offsets (``{"offset": N}``, base64): once the first page
        shows that form, the next ``_SEARCH_AHEAD`` pages are asked for at once, so the server's workers
        answer them side by side instead of one after the other; a page without a next token ends the
        experiment (pages asked for beyond it are dropped). Any other token form is followed one page at a
        time."""
        out = self._search(exp.src_id, None)
        token = out.get("next_page_token")
        yield [_Stub(r) for r in out.get("runs") or []]
        step = _offset_of(token) if token else None
        if not token:
            return
        if not step:  # not MLflow's offset form: follow the tokens
            nxt: Future[Any] = self._pool.submit(self._search, exp.src_id, token)
            while True:
                out = nxt.result()
                token = out.get("next_page_token")
                if token:
                    nxt = self._pool.submit(self._search, exp.src_id, token)
                yield [_Stub(r) for r in out.get("runs") or []]
                if not token:
                    return
        ahead: deque[Future[Any]] = deque()
        offset = step
        try:
            while True:
                while len(ahead) < _SEARCH_AHEAD:
                    ahead.append(self._pool.submit(self._search, exp.src_id, encode_page_token(offset)))
                    offset += step
                out = ahead.popleft().result()
                yield [_Stub(r) for r in out.get("runs") or []]
                if not out.get("next_page_token"):
                    return
        finally:
            for fut in ahead:
                fut.cancel()

    def _bulk(self, key: str, chunk: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Every point of metric ``key`` of up to 100 runs: one bulk request, or per-run paging where the
        bulk answer may have been cut at its limit."""
        got = self.http.call("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
                             params={"run_id": chunk, "metric_key": key, "max_results": _BULK_POINTS})
        points = got.get("metrics") or []
        out: dict[str, list[dict[str, Any]]] = {r: [] for r in chunk}
        if len(points) < _BULK_POINTS:
            for p in points:
                if p.get("run_id") in out:
                    out[p["run_id"]].append(p)
            return out
        for rid in chunk:
            out[rid] = list(_pages(lambda t, rid=rid: self.rest._get(
                "metrics/get-history", run_id=rid, run_uuid=rid, metric_key=key, max_results=_BULK_POINTS,
                page_token=t), "metrics"))
        return out

    def load_runs(self, stubs: Sequence[_Stub]) -> list[RunRecord]:
        from tureen.tracking.entities import Dataset, DatasetInput, InputTag

        keys: dict[str, list[str]] = {}
        for stub in stubs:
            for m in (stub.data.get("data") or {}).get("metrics") or []:
                keys.setdefault(str(m["key"]), []).append(stub.run_id)
        # the histories of the batch: up to 100 runs and one key per request, several requests at once
        jobs = [(k, rids[i:i + _BULK_RUNS]) for k, rids in keys.items() for i in range(0, len(rids), _BULK_RUNS)]
        history: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for (k, _), fut in zip(jobs, [self._pool.submit(self._bulk, k, c) for k, c in jobs]):
            for rid, pts in fut.result().items():
                history[(k, rid)] = pts
        out = []
        for stub in stubs:
            info, data = stub.data["info"], stub.data.get("data") or {}
            rec = RunRecord(stub.run_id, {
                "name": info.get("run_name"), "source_type": "UNKNOWN", "source_name": "", "entry_point_name": "",
                "source_version": "", "user_id": info.get("user_id"), "status": info.get("status") or "FINISHED",
                "start_time": info.get("start_time"), "end_time": info.get("end_time"),
                "lifecycle_stage": info.get("lifecycle_stage") or "active", "artifact_uri": info.get("artifact_uri"),
                "deleted_time": None}, params=_kv(data.get("params")), tags=_kv(data.get("tags")), handle=stub)
            for m in data.get("metrics") or []:
                for p in history.get((str(m["key"]), stub.run_id), []):
                    rec.points.append((str(m["key"]), _number(p.get("value")), int(p.get("timestamp") or 0),
                                       int(p.get("step") or 0)))
            inputs = stub.data.get("inputs") or {}
            for di in inputs.get("dataset_inputs") or []:
                d = di.get("dataset") or {}
                rec.datasets.append(DatasetInput(
                    Dataset(d.get("name"), d.get("digest"), d.get("source_type"), d.get("source"), d.get("schema"),
                            d.get("profile")), [InputTag(k, v) for k, v in _kv(di.get("tags"))]))
            rec.model_inputs = [str(x["model_id"]) for x in inputs.get("model_inputs") or [] if x.get("model_id")]
            rec.outputs = [(str(x["model_id"]), int(x.get("step") or 0))
                           for x in (stub.data.get("outputs") or {}).get("model_outputs") or [] if x.get("model_id")]
            out.append(rec)
        return out

    # -- logged models -------------------------------------------------------------------------------------
    def logged_models(self, exp: ExperimentRecord) -> Iterator[list[ModelRecord]]:
        from tureen.store import _schema as s

        token = None
        while True:
            got = self.rest._post("logged-models/search", {"experiment_ids": [exp.src_id], "max_results": 100,
                                                          "page_token": token})
            page = []
            for m in got.get("models") or []:
                info, data = m.get("info") or {}, m.get("data") or {}
                status = info.get("status")
                page.append(ModelRecord(str(info["model_id"]), {
                    "name": info.get("name"), "artifact_location": info.get("artifact_uri"),
                    "creation_timestamp_ms": info.get("creation_timestamp_ms"),
                    "last_updated_timestamp_ms": info.get("last_updated_timestamp_ms"),
                    "status": s.LOGGED_MODEL_STATUS_TO_INT.get(status, 0) if isinstance(status, str) else
                    int(status or 0), "lifecycle_stage": "active", "model_type": info.get("model_type"),
                    "source_run_id": info.get("source_run_id"), "status_message": info.get("status_message")},
                    params=_kv(data.get("params")), tags=_kv(info.get("tags")),
                    metrics=[{"metric_name": str(x.get("key")), "metric_timestamp_ms": int(x.get("timestamp") or 0),
                              "metric_step": int(x.get("step") or 0), "run_id": x.get("run_id"),
                              "metric_value": None if math.isnan(_number(x.get("value"))) else _number(x.get("value")),
                              "dataset_name": x.get("dataset_name"), "dataset_digest": x.get("dataset_digest")}
                             for x in data.get("metrics") or []]))
            if page:
                yield page
            token = got.get("next_page_token")
            if not token:
                return

    # -- artifacts -----------------------------------------------------------------------------------------
    def _walk(self, list_dir: Callable[[str | None, str | None], dict[str, Any]], where: str) -> Iterator[str]:
        from tureen.store._import_artifacts import safe_relative

        todo: list[str | None] = [None]
        while todo:
            directory = todo.pop()
            token = None
            while True:
                got = list_dir(directory, token)
                for f in got.get("files") or []:
                    path = safe_relative(f.get("path"), where)
                    if directory and not path.startswith(directory + "/"):
                        raise InvalidParameterError(f"Refusing an artifact path of {where} outside the directory "
                                                    f"listed: {path!r} under {directory!r}")
                    if f.get("is_dir"):
                        todo.append(path)
                    else:
                        yield path
                token = got.get("next_page_token")
                if not token:
                    break

    def _download(self, path: str, params: dict[str, Any]) -> Iterator[bytes]:
        from tureen.store._import_artifacts import CHUNK

        resp = self.http.request("GET", path, params=params, stream=True)
        try:
            if resp.status_code != 200:
                raise self.http.error(resp, "GET", path)
            yield from resp.iter_content(CHUNK)
        finally:
            resp.close()

    def run_artifacts(self, rec: RunRecord) -> Files:
        rid, where = rec.run_id, f"run {rec.run_id}"

        def list_dir(d: str | None, t: str | None) -> dict[str, Any]:
            params = {"run_id": rid, "run_uuid": rid, "path": d, "page_token": t}
            return self.http.call("GET", "/api/2.0/mlflow/artifacts/list",
                                  params={k: v for k, v in params.items() if v is not None})

        for rel in self._walk(list_dir, where):
            yield rel, (lambda rel=rel: self._download("/get-artifact", {"path": rel, "run_uuid": rid,
                                                                         "run_id": rid}))

    def model_artifacts(self, rec: ModelRecord) -> Files:
        mid, where = rec.model_id, f"logged model {rec.model_id}"

        def list_dir(d: str | None, t: str | None) -> dict[str, Any]:
            return self.rest._get(f"logged-models/{mid}/artifacts/directories", artifact_directory_path=d,
                                  page_token=t)

        for rel in self._walk(list_dir, where):
            yield rel, (lambda rel=rel: self._download(f"/ajax-api/2.0/mlflow/logged-models/{mid}/artifacts/files",
                                                       {"artifact_file_path": rel}))

    # -- registry ------------------------------------------------------------------------------------------
    def registered_models(self) -> Iterator[RegisteredModelRecord]:
        for rm in _pages(lambda t: self.rest._get("registered-models/search", max_results=1000, page_token=t),
                         "registered_models"):
            name = rm["name"]
            quoted = name.replace("'", "\\'")
            versions = []
            for mv in _pages(lambda t: self.rest._get("model-versions/search", filter=f"name='{quoted}'",
                                                      max_results=10000, page_token=t), "model_versions"):
                versions.append(({
                    "name": name, "version": int(mv["version"]), "creation_time": mv.get("creation_timestamp"),
                    "last_updated_time": mv.get("last_updated_timestamp"), "description": mv.get("description"),
                    "user_id": mv.get("user_id"), "current_stage": mv.get("current_stage") or "None",
                    "source": mv.get("source"), "run_id": mv.get("run_id"), "status": mv.get("status") or "READY",
                    "status_message": mv.get("status_message"), "run_link": mv.get("run_link"),
                    "storage_location": mv.get("storage_location") or mv.get("source")}, _kv(mv.get("tags"))))
            yield RegisteredModelRecord(
                {"name": name, "creation_time": rm.get("creation_timestamp"),
                 "last_updated_time": rm.get("last_updated_timestamp"), "description": rm.get("description")},
                _kv(rm.get("tags")), versions, {a["alias"]: int(a["version"]) for a in rm.get("aliases") or []})


def import_server(url: str, uri: str, *, batch: int = 500, progress: Callable[[int, int], None] | None = None,
                  copy_artifacts: bool = False, source: Any = None) -> ImportSummary:
    """Import everything the MLflow tracking server at ``url`` holds into the SQL store at ``uri``.

    Raises:
        StoreUnavailableError: the server (or the database) cannot be reached.
        InvalidParameterError: ``url`` is not an http(s) URL, or (with ``copy_artifacts``) the server names an
            artifact path that escapes its root.
    """
    src = source or ServerSource(url)
    return run_import(src, uri, batch=batch, progress=progress, copy_artifacts=copy_artifacts)
