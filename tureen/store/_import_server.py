"""``tureen import http://host:port``: copy what a live MLflow tracking server holds into a SQL store.

Through the server's REST API only (the ``/api/2.0/mlflow`` endpoints every MLflow server answers, plus its
``get-history-bulk`` endpoint for metric histories of up to 100 runs per request): experiments (ids kept where
free), runs of every lifecycle stage with their ids, names, users, statuses and timestamps, params, tags, the
**full** history of every metric, dataset inputs (datasets, their input tags), registered models with their
tags, descriptions and aliases, and every model version with its stage, source, run link, tags and status.

Each batch of runs is one transaction of insert-if-absent writes, and a run already in the database is not
fetched again: a second import adds nothing, and an import that was killed carries on where the last batch
committed. At the end a checksum over every imported run's params, tags and metric points, computed once from
what the server sent and once from the database, must match.

Example:
    >>> summary = import_server("http://127.0.0.1:5000", "sqlite:///tracking.db")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Callable, Iterator

from tureen.exceptions import InvalidParameterError
from tureen.store._import import ImportSummary, _digest, _stored, experiments_done, import_experiment, verify_runs

__all__ = ["import_server"]

_INT32_MAX = 2 ** 31 - 1
_BULK_RUNS = 100  # MLflow's get-history-bulk takes at most 100 run ids ...
_BULK_POINTS = 25_000  # ... and answers at most 25,000 points (more: per run, paged)


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


class _Source:
    """The REST calls of an import, on the JSON MLflow's server answers with."""

    def __init__(self, url: str) -> None:
        from tureen.tracking.stores.rest import RestStore

        self.rest = RestStore(url)
        self.http = self.rest.http

    def experiments(self) -> Iterator[dict[str, Any]]:
        return _pages(lambda t: self.rest._post("experiments/search", {"view_type": "ALL", "max_results": 1000,
                                                                      "page_token": t}), "experiments")

    def runs(self, experiment_id: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of runs (every lifecycle stage) of one experiment, oldest first."""
        token = None
        while True:
            out = self.rest._post("runs/search", {"experiment_ids": [experiment_id], "run_view_type": "ALL",
                                                  "max_results": 1000, "page_token": token,
                                                  "order_by": ["attributes.start_time ASC"]})
            yield out.get("runs") or []
            token = out.get("next_page_token")
            if not token:
                return

    def histories(self, key: str, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Every point of metric ``key`` of each run: bulk requests, and per-run paging where a bulk answer
        may have been cut at its limit."""
        out: dict[str, list[dict[str, Any]]] = {r: [] for r in run_ids}
        for i in range(0, len(run_ids), _BULK_RUNS):
            chunk = run_ids[i:i + _BULK_RUNS]
            got = self.http.call("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
                                 params={"run_id": chunk, "metric_key": key, "max_results": _BULK_POINTS})
            points = got.get("metrics") or []
            if len(points) < _BULK_POINTS:
                for p in points:
                    out[p["run_id"]].append(p)
                continue
            for rid in chunk:  # the answer may be cut: page through each run's history
                out[rid] = list(_pages(lambda t, rid=rid: self.rest._get(
                    "metrics/get-history", run_id=rid, run_uuid=rid, metric_key=key, max_results=25000,
                    page_token=t), "metrics"))
        return out

    def registered_models(self) -> Iterator[dict[str, Any]]:
        return _pages(lambda t: self.rest._get("registered-models/search", max_results=1000, page_token=t),
                      "registered_models")

    def model_versions(self, name: str) -> Iterator[dict[str, Any]]:
        quoted = name.replace("'", "\\'")
        return _pages(lambda t: self.rest._get("model-versions/search", filter=f"name='{quoted}'",
                                               max_results=10000, page_token=t), "model_versions")


def _kv(items: Any) -> list[tuple[str, str]]:
    return [(str(x.get("key")), "" if x.get("value") is None else str(x.get("value"))) for x in items or []]


def import_server(url: str, uri: str, *, batch: int = 500, progress: Callable[[int, int], None] | None = None,
                  source: Any = None) -> ImportSummary:
    """Import everything the MLflow tracking server at ``url`` holds into the SQL store at ``uri``.

    Raises:
        StoreUnavailableError: the server (or the database) cannot be reached.
        InvalidParameterError: ``url`` is not an http(s) URL.
    """
    from sqlalchemy import select

    from tureen.store import _schema as s
    from tureen.store.sql import SqlStore
    from tureen.tracking.entities import Dataset, DatasetInput, InputTag

    if not url.startswith(("http://", "https://")):
        raise InvalidParameterError(f"Not a tracking server URL: {url!r} (expected http://host:port)")
    src = source or _Source(url)
    store = SqlStore(uri)
    summary = ImportSummary()
    src_hash, run_ids = hashlib.sha256(), []
    try:
        experiments = list(src.experiments())
        with store._write() as conn:
            for meta in sorted(experiments, key=lambda m: int(m["experiment_id"]) if str(m["experiment_id"]).isdigit()
                               else _INT32_MAX):
                found = import_experiment(store, conn, str(meta["experiment_id"]), {
                    "name": meta.get("name"), "artifact_location": meta.get("artifact_location"),
                    "lifecycle_stage": meta.get("lifecycle_stage") or "active",
                    "creation_time": meta.get("creation_time"), "last_update_time": meta.get("last_update_time")},
                    _kv(meta.get("tags")))
                summary.experiments += 1
                summary.experiment_ids[str(meta["experiment_id"])] = str(found)
            experiments_done(store, conn)
        total = 0
        for meta in experiments:
            src_id = str(meta["experiment_id"])
            eid = int(summary.experiment_ids[src_id])
            for page in src.runs(src_id):
                total += len(page)
                for start in range(0, len(page), batch):
                    chunk = page[start:start + batch]
                    ids = [r["info"]["run_id"] for r in chunk]
                    with store._read() as conn:
                        present = set(conn.execute(select(s.runs.c.run_uuid).where(s.runs.c.run_uuid.in_(ids)))
                                      .scalars())
                    new = [r for r in chunk if r["info"]["run_id"] not in present]
                    runs, params, tags, metrics, latest = [], [], [], [], {}
                    inputs: dict[str, list[DatasetInput]] = {}
                    keys: dict[str, list[str]] = {}
                    for r in new:
                        for m in (r.get("data") or {}).get("metrics") or []:
                            keys.setdefault(m["key"], []).append(r["info"]["run_id"])
                    history = {k: src.histories(k, rids) for k, rids in keys.items()}
                    for r in new:  # a run already there (an earlier, committed batch) is complete
                        info, data = r["info"], r.get("data") or {}
                        run_id = info["run_id"]
                        run_ids.append(run_id)
                        items: set[tuple[Any, ...]] = set()
                        is_new = True
                        if is_new:
                            runs.append({"run_uuid": run_id, "name": info.get("run_name"), "source_type": "UNKNOWN",
                                         "source_name": "", "entry_point_name": "", "source_version": "",
                                         "user_id": info.get("user_id"), "status": info.get("status") or "FINISHED",
                                         "start_time": info.get("start_time"), "end_time": info.get("end_time"),
                                         "lifecycle_stage": info.get("lifecycle_stage") or "active",
                                         "artifact_uri": info.get("artifact_uri"), "experiment_id": eid,
                                         "deleted_time": None})
                        for k, v in _kv(data.get("params")):
                            params.append({"run_uuid": run_id, "key": k, "value": v})
                            items.add(("param", k, v))
                        for k, v in _kv(data.get("tags")):
                            tags.append({"run_uuid": run_id, "key": k, "value": v})
                            items.add(("tag", k, v))
                        seen = set()
                        for k in ([m["key"] for m in data.get("metrics") or []] if is_new else []):
                            for p in history[k].get(run_id, []):
                                stored, is_nan = _stored(_number(p.get("value")))
                                ts, step = int(p.get("timestamp") or 0), int(p.get("step") or 0)
                                point = (k, stored, ts, step, is_nan)
                                if point in seen:
                                    continue
                                seen.add(point)
                                metrics.append({"run_uuid": run_id, "key": k, "value": stored, "timestamp": ts,
                                                "step": step, "is_nan": is_nan})
                                items.add(("metric", *point))
                                cur = latest.get((run_id, k))
                                if cur is None or (step, ts, stored) > (cur["step"], cur["timestamp"], cur["value"]):
                                    latest[(run_id, k)] = metrics[-1]
                        if is_new:
                            for di in (r.get("inputs") or {}).get("dataset_inputs") or []:
                                d = di.get("dataset") or {}
                                inputs.setdefault(run_id, []).append(DatasetInput(
                                    Dataset(d.get("name"), d.get("digest"), d.get("source_type"), d.get("source"),
                                            d.get("schema"), d.get("profile")),
                                    [InputTag(k, v) for k, v in _kv(di.get("tags"))]))
                        for item in sorted(items, key=repr):  # the order the database side is hashed in
                            _digest(src_hash, run_id, *item)
                    if runs:
                        keep = {x["run_uuid"] for x in runs}
                        with store._write() as conn:
                            conn.execute(s.runs.insert(), runs)
                            for table, rows in ((s.params, params), (s.tags, tags), (s.metrics, metrics),
                                                (s.latest_metrics, list(latest.values()))):
                                rows = [x for x in rows if x["run_uuid"] in keep]
                                if rows:
                                    conn.execute(store._insert_ignore(table), rows)
                            for run_id, items_in in inputs.items():
                                store._write_dataset_inputs(conn, eid, run_id, items_in)
                    summary.runs_added += len(runs)
                    summary.runs_seen += len(chunk)
                    if progress is not None:
                        progress(summary.runs_seen, max(total, summary.runs_seen))
        _import_server_registry(store, src, summary)
        verify_runs(store, run_ids, summary, src_hash)
    finally:
        store.close()
    return summary


def _import_server_registry(store: Any, src: _Source, summary: ImportSummary) -> None:
    from tureen.store import _schema as s

    for rm in src.registered_models():
        name = rm["name"]
        versions = list(src.model_versions(name))
        with store._write() as conn:
            conn.execute(store._insert_ignore(s.registered_models), [{
                "name": name, "creation_time": rm.get("creation_timestamp"),
                "last_updated_time": rm.get("last_updated_timestamp"), "description": rm.get("description")}])
            rows = [{"name": name, "key": k, "value": v} for k, v in _kv(rm.get("tags"))]
            if rows:
                conn.execute(store._insert_ignore(s.registered_model_tags), rows)
            for mv in versions:
                number = int(mv["version"])
                conn.execute(store._insert_ignore(s.model_versions), [{
                    "name": name, "version": number, "creation_time": mv.get("creation_timestamp"),
                    "last_updated_time": mv.get("last_updated_timestamp"), "description": mv.get("description"),
                    "user_id": mv.get("user_id"), "current_stage": mv.get("current_stage") or "None",
                    "source": mv.get("source"), "run_id": mv.get("run_id"), "status": mv.get("status") or "READY",
                    "status_message": mv.get("status_message"), "run_link": mv.get("run_link"),
                    "storage_location": mv.get("storage_location") or mv.get("source")}])
                summary.model_versions += 1
                rows = [{"name": name, "version": number, "key": k, "value": v} for k, v in _kv(mv.get("tags"))]
                if rows:
                    conn.execute(store._insert_ignore(s.model_version_tags), rows)
            rows = [{"name": name, "alias": a["alias"], "version": int(a["version"])} for a in rm.get("aliases") or []]
            if rows:
                conn.execute(store._insert_ignore(s.registered_model_aliases), rows)
