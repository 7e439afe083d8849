"""``tureen import``: copy an MLflow file store or a live MLflow server into a SQL store.

One engine (:func:`run_import`) does the writing for both sources; a source only reads. The file store's
reader is here (:class:`FileStoreSource`), the server's is :mod:`tureen.store._import_server`. What a source
hands over is plain records (:class:`ExperimentRecord`, :class:`RunRecord`, :class:`ModelRecord`,
:class:`RegisteredModelRecord`) and, for ``--copy-artifacts``, each run's and logged model's files as
``(relative path, chunk factory)``.

Lossless: run ids, experiment ids (kept where free and small enough for the column, else a new id,
reported), names, users, statuses, timestamps, full metric histories (NaN and infinities included), params,
tags (nested keys such as ``a/b``), lifecycle stages and deletion times, dataset inputs with their tags,
logged models (MLflow 3) with their params, tags and metrics, the runs' model inputs and outputs, registered
models, versions, stages, aliases, descriptions and tags. Artifact locations are kept as they are, unless
``copy_artifacts``: then every file is streamed into the destination's artifact root, verified by SHA-256,
and the locations (runs, logged models, experiments made by the import, model-version sources under them)
are rewritten to the copies. A copying import after one that did not copy does the same for what the first
one left at the source's locations (rows still pointing there): their files are copied and they are
repointed, batch by batch, before which every listing of the batch is checked (a refused path copies
nothing of it).

Every write is insert-if-absent, in one transaction per batch of runs (after that batch's artifacts are
copied), so an import is idempotent (a second one adds nothing) and resumable (after a kill, the next one
carries on from the last committed batch). At the end the counts and a checksum of every imported run's
params, tags, metric points and dataset inputs, and of every logged model's params, tags and metrics, are
recomputed from the database and compared with what the source sent.

Example:
    >>> summary = import_file_store("mlruns", "sqlite:///tracking.db")  # doctest: +SKIP
    >>> summary.verified  # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from tureen.exceptions import InvalidParameterError

__all__ = ["ImportSummary", "import_file_store", "run_import", "ExperimentRecord", "RunRecord", "ModelRecord",
           "RegisteredModelRecord", "FileStoreSource"]

_RUN_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_SOURCE_TYPE = {1: "NOTEBOOK", 2: "JOB", 3: "PROJECT", 4: "LOCAL", 1000: "UNKNOWN"}
_INT32_MAX = 2 ** 31 - 1
_MAX_DOUBLE = 1.7976931348623157e308

Files = Iterator[tuple[str, Callable[[], Iterator[bytes]]]]


@dataclass
class ImportSummary:
    """What an import did, and whether the database matches the source afterwards."""

    experiments: int = 0
    runs_seen: int = 0
    runs_added: int = 0
    params: int = 0
    tags: int = 0
    metric_points: int = 0
    dataset_inputs: int = 0
    logged_models: int = 0
    logged_models_added: int = 0
    registered_models: int = 0
    model_versions: int = 0
    artifact_files: int = 0
    artifact_bytes: int = 0
    runs_relocated: int = 0  # runs imported before without copying, whose files this import copied
    logged_models_relocated: int = 0
    experiment_ids: dict[str, str] = field(default_factory=dict)
    source_checksum: str = ""
    database_checksum: str = ""
    artifacts_source_checksum: str = ""
    artifacts_copy_checksum: str = ""

    @property
    def verified(self) -> bool:
        return (self.source_checksum == self.database_checksum
                and self.artifacts_source_checksum == self.artifacts_copy_checksum)


@dataclass
class ExperimentRecord:
    src_id: str
    name: str
    artifact_location: str | None
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None
    tags: list[tuple[str, str]]
    handle: Any = None


@dataclass
class RunRecord:
    """One run as a source read it: ``row`` holds the ``runs`` columns but ``experiment_id``; ``points`` are
    ``(key, value, timestamp, step)`` as logged (NaN and infinities as floats)."""

    run_id: str
    row: dict[str, Any]
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    points: list[tuple[str, float, int, int]] = field(default_factory=list)
    datasets: list[Any] = field(default_factory=list)  # DatasetInput
    outputs: list[tuple[str, int]] = field(default_factory=list)  # (logged model id, step)
    model_inputs: list[str] = field(default_factory=list)
    handle: Any = None  # the source's own reference (a directory, the server's JSON)


@dataclass
class ModelRecord:
    """One MLflow 3 logged model: ``row`` holds the ``logged_models`` columns but ``experiment_id``;
    ``metrics`` are dicts of ``logged_model_metrics`` columns but ``model_id``/``experiment_id``."""

    model_id: str
    row: dict[str, Any]
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    handle: Any = None


@dataclass
class RegisteredModelRecord:
    row: dict[str, Any]
    tags: list[tuple[str, str]]
    versions: list[tuple[dict[str, Any], list[tuple[str, str]]]]
    aliases: dict[str, int]


def _digest(h: Any, owner: str, kind: str, key: str, *values: Any) -> None:
    h.update(repr((owner, kind, key, *values)).encode())


def _stored(value: float) -> tuple[float, bool]:
    """A metric value as MLflow's SQL store keeps it: NaN as 0 with is_nan, infinities as the largest doubles."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (_MAX_DOUBLE if value > 0 else -_MAX_DOUBLE), False
    return value, False


def _relocate(uri: Any, moved: dict[str, str]) -> Any:
    """``uri`` with the longest moved prefix replaced by its copy's location (other URIs as they are)."""
    if not isinstance(uri, str):
        return uri
    best = ""
    for old in moved:
        if (uri == old or uri.startswith(old.rstrip("/") + "/")) and len(old) > len(best):
            best = old
    return moved[best] + uri[len(best):] if best else uri


# ==========================================================================================================
# the engine
# ==========================================================================================================
class _Importer:
    def __init__(self, store: Any, src: Any, summary: ImportSummary, *, batch: int,
                 progress: Callable[[int, int], None] | None, copy_artifacts: bool) -> None:
        self.store, self.src, self.summary = store, src, summary
        self.batch, self.progress, self.copy = batch, progress, copy_artifacts
        self.hash, self.art_src, self.art_dst = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
        self.run_ids: list[str] = []
        self.model_ids: list[str] = []
        self.locations: dict[int, str] = {}  # target experiment id -> its artifact location
        self.moved: dict[str, str] = {}  # source artifact location -> the copy's

    # -- experiments ---------------------------------------------------------------------------------------
    def experiments(self, records: Sequence[ExperimentRecord]) -> dict[str, int]:
        from sqlalchemy import update

        from tureen.store import _schema as s

        ids: dict[str, int] = {}
        with self.store._write() as conn:
            for rec in sorted(records, key=lambda m: int(m.src_id) if m.src_id.isdigit() else _INT32_MAX):
                found, made = import_experiment(self.store, conn, rec.src_id, {
                    "name": rec.name, "artifact_location": rec.artifact_location,
                    "lifecycle_stage": rec.lifecycle_stage or "active", "creation_time": rec.creation_time,
                    "last_update_time": rec.last_update_time}, rec.tags)
                location = conn.execute(s.experiments.select().with_only_columns(s.experiments.c.artifact_location)
                                        .where(s.experiments.c.experiment_id == found)).scalar()
                # a copying import's experiment lives in the destination's root: a new one, and one an import
                # without copying made before (it kept the source's location)
                if self.copy and (made or rec.artifact_location and location == rec.artifact_location):
                    default = self.store._default_location(found)
                    if default != location:
                        conn.execute(update(s.experiments).where(s.experiments.c.experiment_id == found)
                                     .values(artifact_location=default))
                        location = default
                self.locations[found] = location or self.store._default_location(found)
                ids[rec.src_id] = found
                self.summary.experiments += 1
                self.summary.experiment_ids[rec.src_id] = str(found)
            experiments_done(self.store, conn)
        return ids

    # -- runs ----------------------------------------------------------------------------------------------
    def runs(self, experiments: Sequence[ExperimentRecord], ids: dict[str, int]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from sqlalchemy import select

        from tureen.store import _schema as s

        # reading the next batch (from disk, or over HTTP) overlaps writing this one
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tureen-import-read")
        pending: deque[tuple[Any, int, int]] = deque()
        total = 0
        try:
            for rec in experiments:
                eid = ids[rec.src_id]
                for page in self.src.run_pages(rec):
                    total += len(page)
                    for start in range(0, len(page), self.batch):
                        chunk = page[start:start + self.batch]
                        wanted = [x.run_id for x in chunk]
                        with self.store._read() as conn:
                            there = dict(conn.execute(select(s.runs.c.run_uuid, s.runs.c.artifact_uri)
                                                      .where(s.runs.c.run_uuid.in_(wanted))).all())
                        for stub in chunk:  # where a run imported before by a copying import has its files
                            self._moved(stub.artifact_uri, there.get(stub.run_id))
                        # a run imported before is read again only to copy its files (an import without
                        # copying left it at the source's location), unless reading it is cheap
                        load = chunk if self.src.reload_present else [
                            x for x in chunk if x.run_id not in there
                            or self.copy and x.artifact_uri and there[x.run_id] == x.artifact_uri]
                        pending.append((pool.submit(self.src.load_runs, load), eid, len(chunk)))
                        while len(pending) > 1:
                            self._write_runs(*pending.popleft(), total)
            while pending:
                self._write_runs(*pending.popleft(), total)
        finally:
            for fut, _, _ in pending:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def _write_runs(self, future: Any, eid: int, seen: int, total: int) -> None:
        from sqlalchemy import select

        from tureen.store import _schema as s

        records: list[RunRecord] = future.result()
        with self.store._read() as conn:
            there = dict(conn.execute(select(s.runs.c.run_uuid, s.runs.c.artifact_uri).where(
                s.runs.c.run_uuid.in_([r.run_id for r in records]))).all()) if records else {}
        new = [r for r in records if r.run_id not in there]
        for r in records:
            self._moved(r.row.get("artifact_uri"), there.get(r.run_id))
            self.run_ids.append(r.run_id)
            self._hash_run(r)
        later: list[tuple[RunRecord, str]] = []  # (run imported before without copying, its source location)
        if self.copy:  # files first: a batch whose rows are committed (or repointed) has all its artifacts
            todo = [(r, f"{self.locations[eid].rstrip('/')}/{r.run_id}/artifacts") for r in records
                    if r.run_id not in there or self._left_behind(r.row.get("artifact_uri"), there[r.run_id])]
            todo = [(r, dest) for r, dest in todo if r.run_id not in there or dest != there[r.run_id]]
            later = [(r, there[r.run_id]) for r, _ in todo if r.run_id in there]
            self._copy_all([(f"run {r.run_id}", self.src.run_artifacts(r), r.row, "artifact_uri", dest)
                            for r, dest in todo])
        if new:
            self._insert_runs(eid, new)
        if later:
            self._repoint(s.runs, s.runs.c.run_uuid, s.runs.c.artifact_uri,
                          [(r.run_id, old, r.row["artifact_uri"]) for r, old in later])
        self.summary.runs_added += len(new)
        self.summary.runs_relocated += len(later)
        self.summary.runs_seen += seen
        if self.progress is not None:
            self.progress(self.summary.runs_seen, max(total, self.summary.runs_seen))

    def _hash_run(self, r: RunRecord) -> None:
        items: set[tuple[Any, ...]] = set()
        for k, v in r.params:
            items.add(("param", k, v))
        for k, v in r.tags:
            items.add(("tag", k, v))
        for k, value, ts, step in r.points:
            stored, is_nan = _stored(value)
            items.add(("metric", k, stored, ts, step, is_nan))
        for d in r.datasets:
            items.add(("dataset", d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source,
                       d.dataset.schema, d.dataset.profile, tuple(sorted((t.key, t.value) for t in d.tags))))
        for model_id, step in r.outputs:
            items.add(("output", model_id, int(step or 0)))
        for model_id in r.model_inputs:
            items.add(("model-input", model_id))
        for item in sorted(items, key=repr):  # the same order the database side is hashed in
            _digest(self.hash, r.run_id, *item)

    def _insert_runs(self, eid: int, new: list[RunRecord]) -> None:
        import uuid

        from tureen.store import _schema as s

        store = self.store
        runs, params, tags, metrics, latest, edges = [], [], [], [], {}, []
        for r in new:
            runs.append({**r.row, "run_uuid": r.run_id, "experiment_id": eid})
            params += [{"run_uuid": r.run_id, "key": k, "value": v} for k, v in r.params]
            tags += [{"run_uuid": r.run_id, "key": k, "value": v} for k, v in r.tags]
            seen = set()
            for k, value, ts, step in r.points:
                stored, is_nan = _stored(value)
                point = (k, stored, ts, step, is_nan)
                if point in seen:  # MLflow's SQL key is the whole point: a repeat is one row
                    continue
                seen.add(point)
                row = {"run_uuid": r.run_id, "key": k, "value": stored, "timestamp": ts, "step": step,
                       "is_nan": is_nan}
                metrics.append(row)
                cur = latest.get((r.run_id, k))
                if cur is None or (step, ts, stored) > (cur["step"], cur["timestamp"], cur["value"]):
                    latest[(r.run_id, k)] = row
            edges += [{"input_uuid": uuid.uuid4().hex, "source_type": "RUN_OUTPUT", "source_id": r.run_id,
                       "destination_type": "MODEL_OUTPUT", "destination_id": m, "step": int(step or 0)}
                      for m, step in dict(r.outputs).items()]
            edges += [{"input_uuid": uuid.uuid4().hex, "source_type": "RUN_INPUT", "source_id": r.run_id,
                       "destination_type": "MODEL_INPUT", "destination_id": m, "step": 0}
                      for m in dict.fromkeys(r.model_inputs)]
        with store._write() as conn:
            conn.execute(s.runs.insert(), runs)
            for table, rows in ((s.params, params), (s.tags, tags), (s.metrics, metrics),
                                (s.latest_metrics, list(latest.values())), (s.inputs, edges)):
                if rows:
                    conn.execute(store._insert_ignore(table), rows)
            for r in new:
                if r.datasets:
                    store._write_dataset_inputs(conn, eid, r.run_id, r.datasets)

    # -- logged models -------------------------------------------------------------------------------------
    def models(self, experiments: Sequence[ExperimentRecord], ids: dict[str, int]) -> None:
        from sqlalchemy import select

        from tureen.store import _schema as s

        lm = s.logged_models
        for rec in experiments:
            eid = ids[rec.src_id]
            for page in self.src.logged_models(rec):
                with self.store._read() as conn:
                    there = dict(conn.execute(select(lm.c.model_id, lm.c.artifact_location).where(
                        lm.c.model_id.in_([m.model_id for m in page]))).all()) if page else {}
                new = [m for m in page if m.model_id not in there]
                for m in page:
                    self._moved(m.row.get("artifact_location"), there.get(m.model_id))
                    self.model_ids.append(m.model_id)
                    self._hash_model(m)
                later: list[tuple[ModelRecord, str]] = []
                if self.copy:
                    todo = [(m, f"{self.locations[eid].rstrip('/')}/models/{m.model_id}/artifacts") for m in page
                            if m.model_id not in there
                            or self._left_behind(m.row.get("artifact_location"), there[m.model_id])]
                    todo = [(m, dest) for m, dest in todo if m.model_id not in there or dest != there[m.model_id]]
                    later = [(m, there[m.model_id]) for m, _ in todo if m.model_id in there]
                    self._copy_all([(f"logged model {m.model_id}", self.src.model_artifacts(m), m.row,
                                     "artifact_location", dest) for m, dest in todo])
                if new:
                    self._insert_models(eid, new)
                if later:
                    self._repoint(lm, lm.c.model_id, lm.c.artifact_location,
                                  [(m.model_id, old, m.row["artifact_location"]) for m, old in later])
                self.summary.logged_models += len(page)
                self.summary.logged_models_added += len(new)
                self.summary.logged_models_relocated += len(later)

    def _hash_model(self, m: ModelRecord) -> None:
        items: set[tuple[Any, ...]] = set()
        for k, v in m.params:
            items.add(("model-param", k, v))
        for k, v in m.tags:
            items.add(("model-tag", k, v))
        for x in m.metrics:
            items.add(("model-metric", x["metric_name"], x["metric_timestamp_ms"], x["metric_step"],
                       x["metric_value"], x["run_id"], x.get("dataset_name"), x.get("dataset_digest")))
        for item in sorted(items, key=repr):
            _digest(self.hash, m.model_id, *item)

    def _insert_models(self, eid: int, new: list[ModelRecord]) -> None:
        from sqlalchemy import select

        from tureen.store import _schema as s

        store = self.store
        with store._write() as conn:
            conn.execute(store._insert_ignore(s.logged_models),
                         [{**m.row, "model_id": m.model_id, "experiment_id": eid} for m in new])
            rows = [{"model_id": m.model_id, "experiment_id": eid, "tag_key": k, "tag_value": v}
                    for m in new for k, v in m.tags]
            if rows:
                conn.execute(store._insert_ignore(s.logged_model_tags), rows)
            rows = [{"model_id": m.model_id, "experiment_id": eid, "param_key": k, "param_value": v}
                    for m in new for k, v in m.params]
            if rows:
                conn.execute(store._insert_ignore(s.logged_model_params), rows)
            rows = [{**x, "model_id": m.model_id, "experiment_id": eid} for m in new for x in m.metrics]
            if rows:
                ds = s.datasets  # a metric's dataset is named by (name, digest); its uuid is this database's
                named = {(x["dataset_name"], x["dataset_digest"]) for x in rows if x.get("dataset_name")}
                uuids = {}
                if named:
                    uuids = {(a, b): u for a, b, u in conn.execute(select(ds.c.name, ds.c.digest, ds.c.dataset_uuid)
                             .where(ds.c.name.in_({n for n, _ in named}))).all()}
                for x in rows:
                    x["dataset_uuid"] = uuids.get((x.get("dataset_name"), x.get("dataset_digest")))
                conn.execute(store._insert_ignore(s.logged_model_metrics), rows)

    # -- artifacts -----------------------------------------------------------------------------------------
    def _moved(self, old: str | None, stored: str | None) -> None:
        """Remember that what the source keeps at ``old`` is at ``stored`` in the database (model versions
        under it are pointed there too)."""
        if old and stored and old != stored:
            self.moved[old] = stored

    @staticmethod
    def _left_behind(source: str | None, stored: str | None) -> bool:
        """Whether a run or logged model in the database still points where the source keeps its files (an
        import without copying kept the location): a copying import copies those too."""
        return bool(source) and stored == source

    def _copy_all(self, jobs: list[tuple[str, Files, dict[str, Any], str, str]]) -> None:
        """Copy the files of a batch's runs (or logged models) and point their records at the copies. Every
        listing is read and every path checked first: a path refused leaves nothing of the batch copied."""
        from tureen.store._import_artifacts import safe_relative

        listed = [(where, [(safe_relative(rel, where), chunks) for rel, chunks in files], row, column, dest)
                  for where, files, row, column, dest in jobs]
        for where, files, row, column, dest in listed:
            self._copy_files(where, files, dest)
            self._moved(row.get(column), dest)
            row[column] = dest

    def _repoint(self, table: Any, key: Any, column: Any, moves: list[tuple[str, str, str]]) -> None:
        """Point rows imported before at their copies, in one transaction: ``(id, old location, copy)``;
        a row whose location changed meanwhile is left as it is."""
        from sqlalchemy import bindparam, update

        with self.store._write() as conn:
            conn.execute(update(table).where(key == bindparam("_id"), column == bindparam("_old"))
                         .values({column.name: bindparam("_new")}),
                         [{"_id": i, "_old": old, "_new": new} for i, old, new in moves])

    def _copy_files(self, where: str, files: list[tuple[str, Callable[[], Iterator[bytes]]]], dest: str) -> None:
        from tureen.store._import_artifacts import ArtifactSink

        sink = ArtifactSink(dest)
        for rel, chunks in files:
            sent, written, size = sink.copy(rel, chunks)
            self.summary.artifact_files += 1
            self.summary.artifact_bytes += size
            self.art_src.update(f"{where}\0{rel}\0{sent}\n".encode())
            self.art_dst.update(f"{where}\0{rel}\0{written}\n".encode())

    # -- registry ------------------------------------------------------------------------------------------
    def registry(self) -> None:
        from sqlalchemy import update

        from tureen.store import _schema as s

        store = self.store
        for rm in self.src.registered_models():
            name = rm.row["name"]
            with store._write() as conn:
                conn.execute(store._insert_ignore(s.registered_models), [rm.row])
                rows = [{"name": name, "key": k, "value": v} for k, v in rm.tags]
                if rows:
                    conn.execute(store._insert_ignore(s.registered_model_tags), rows)
                for row, vtags in rm.versions:
                    was = row
                    row = {**row, "source": _relocate(row.get("source"), self.moved),
                           "storage_location": _relocate(row.get("storage_location"), self.moved)}
                    conn.execute(store._insert_ignore(s.model_versions), [row])
                    if self.copy:  # a version imported before, still under a location whose files moved
                        mv = s.model_versions
                        for col in ("source", "storage_location"):
                            if was.get(col) and row[col] != was[col]:
                                conn.execute(update(mv).where(mv.c.name == name, mv.c.version == row["version"],
                                                              mv.c[col] == was[col]).values({col: row[col]}))
                    self.summary.model_versions += 1
                    rows = [{"name": name, "version": row["version"], "key": k, "value": v} for k, v in vtags]
                    if rows:
                        conn.execute(store._insert_ignore(s.model_version_tags), rows)
                rows = [{"name": name, "alias": a, "version": int(v)} for a, v in rm.aliases.items()]
                if rows:
                    conn.execute(store._insert_ignore(s.registered_model_aliases), rows)

    # -- verification --------------------------------------------------------------------------------------
    def verify(self) -> None:
        """Recompute from the database what the source sent (counts and a checksum)."""
        from sqlalchemy import func, select

        from tureen.store import _schema as s

        db_hash, summary = hashlib.sha256(), self.summary
        with self.store._read() as conn:
            for i in range(0, len(self.run_ids), 500):
                ids = self.run_ids[i:i + 500]
                got: dict[str, list[tuple[Any, ...]]] = {r: [] for r in ids}
                for row in conn.execute(select(s.params.c.run_uuid, s.params.c.key, s.params.c.value)
                                        .where(s.params.c.run_uuid.in_(ids))):
                    got[row[0]].append(("param", row[1], row[2]))
                for row in conn.execute(select(s.tags.c.run_uuid, s.tags.c.key, s.tags.c.value)
                                        .where(s.tags.c.run_uuid.in_(ids))):
                    got[row[0]].append(("tag", row[1], row[2]))
                m = s.metrics
                for row in conn.execute(select(m.c.run_uuid, m.c.key, m.c.value, m.c.timestamp, m.c.step,
                                               m.c.is_nan).where(m.c.run_uuid.in_(ids))):
                    got[row[0]].append(("metric", row[1], row[2], row[3], row[4], bool(row[5])))
                inputs = self.store._run_inputs(conn, ids)
                for r in ids:
                    for d in inputs[r].dataset_inputs:
                        got[r].append(("dataset", d.dataset.name, d.dataset.digest, d.dataset.source_type,
                                       d.dataset.source, d.dataset.schema, d.dataset.profile,
                                       tuple(sorted((t.key, t.value) for t in d.tags))))
                    for mi in inputs[r].model_inputs:
                        got[r].append(("model-input", mi.model_id))
                i_ = s.inputs
                for row in conn.execute(select(i_.c.source_id, i_.c.destination_id, i_.c.step).where(
                        i_.c.source_type == "RUN_OUTPUT", i_.c.source_id.in_(ids),
                        i_.c.destination_type == "MODEL_OUTPUT")):
                    got[row[0]].append(("output", row[1], int(row[2] or 0)))
                for r in ids:
                    summary.params += sum(1 for x in got[r] if x[0] == "param")
                    summary.tags += sum(1 for x in got[r] if x[0] == "tag")
                    summary.metric_points += sum(1 for x in got[r] if x[0] == "metric")
                    summary.dataset_inputs += sum(1 for x in got[r] if x[0] == "dataset")
                    for item in sorted(set(got[r]), key=repr):
                        _digest(db_hash, r, *item)
            for i in range(0, len(self.model_ids), 500):
                ids = self.model_ids[i:i + 500]
                mgot: dict[str, list[tuple[Any, ...]]] = {r: [] for r in ids}
                t, p, mm = s.logged_model_tags, s.logged_model_params, s.logged_model_metrics
                for row in conn.execute(select(p.c.model_id, p.c.param_key, p.c.param_value)
                                        .where(p.c.model_id.in_(ids))):
                    mgot[row[0]].append(("model-param", row[1], row[2]))
                for row in conn.execute(select(t.c.model_id, t.c.tag_key, t.c.tag_value)
                                        .where(t.c.model_id.in_(ids))):
                    mgot[row[0]].append(("model-tag", row[1], row[2]))
                for row in conn.execute(select(mm.c.model_id, mm.c.metric_name, mm.c.metric_timestamp_ms,
                                               mm.c.metric_step, mm.c.metric_value, mm.c.run_id, mm.c.dataset_name,
                                               mm.c.dataset_digest).where(mm.c.model_id.in_(ids))):
                    mgot[row[0]].append(("model-metric", *row[1:]))
                for r in ids:
                    for item in sorted(set(mgot[r]), key=repr):
                        _digest(db_hash, r, *item)
            summary.registered_models = conn.execute(select(func.count()).select_from(s.registered_models)).scalar()
        summary.source_checksum = self.hash.hexdigest()
        summary.database_checksum = db_hash.hexdigest()
        summary.artifacts_source_checksum = self.art_src.hexdigest()  # of the bytes the source sent
        summary.artifacts_copy_checksum = self.art_dst.hexdigest()  # of the copies, read back after writing


def run_import(src: Any, uri: str, *, batch: int = 500, progress: Callable[[int, int], None] | None = None,
               copy_artifacts: bool = False) -> ImportSummary:
    """Import everything ``src`` (a :class:`FileStoreSource` or the server's source) reads into ``uri``."""
    from tureen.store.sql import SqlStore

    if not isinstance(batch, int) or batch < 1:
        raise InvalidParameterError(f"Invalid batch size {batch!r}: it must be a positive integer")
    store = SqlStore(uri)
    summary = ImportSummary()
    try:
        imp = _Importer(store, src, summary, batch=batch, progress=progress, copy_artifacts=copy_artifacts)
        experiments = list(src.experiments())
        ids = imp.experiments(experiments)
        imp.runs(experiments, ids)
        imp.models(experiments, ids)  # after every run: a model's metrics point at runs
        imp.registry()
        imp.verify()
    finally:
        store.close()
        close = getattr(src, "close", None)
        if close is not None:
            close()
    return summary


def import_experiment(store: Any, conn: Any, src_id: str, values: dict[str, Any],
                      tags: list[tuple[str, str]]) -> tuple[int, bool]:
    """The target id of a source experiment and whether the import made it: the one of that name if there,
    else a new row (keeping the source's id when it is free and fits the column) with its tags."""
    from sqlalchemy import select

    from tureen.store import _schema as s

    e = s.experiments
    found = conn.execute(select(e.c.experiment_id).where(e.c.name == values["name"])).scalar()
    if found is not None:
        return int(found), False
    values = dict(values)
    wanted = int(src_id) if src_id.isdigit() else None
    free = wanted is not None and wanted <= _INT32_MAX and conn.execute(
        select(e.c.experiment_id).where(e.c.experiment_id == wanted)).first() is None
    if free:
        values["experiment_id"] = wanted
    if free and wanted == 0 and store.dialect in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET SESSION sql_mode = CONCAT_WS(',', @@SESSION.sql_mode, 'NO_AUTO_VALUE_ON_ZERO')")
    found = conn.execute(e.insert().values(**values)).inserted_primary_key[0]
    rows = [{"experiment_id": found, "key": k, "value": v} for k, v in tags]
    if rows:
        conn.execute(s.experiment_tags.insert(), rows)
    return int(found), True


def experiments_done(store: Any, conn: Any) -> None:
    """After inserting experiments with explicit ids: PostgreSQL's sequence moves past them."""
    if store.dialect == "postgresql":
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
                             "COALESCE((SELECT MAX(experiment_id) FROM experiments), 0) + 1, false)")


# ==========================================================================================================
# the file store
# ==========================================================================================================
def _yaml(path: Path) -> dict[str, Any]:
    from tureen.exceptions import ModelFormatError
    from tureen.models._yaml import load_untrusted_yaml  # bounded size, depth and alias expansion

    try:
        with open(path, "rb") as f:
            data = load_untrusted_yaml(f.read(), what=str(path))
    except OSError as exc:
        raise InvalidParameterError(f"Cannot read {path}: {exc}") from None
    except ModelFormatError as exc:
        raise InvalidParameterError(f"Cannot read {path}: {exc.message}") from None
    if not isinstance(data, dict):
        raise InvalidParameterError(f"{path} is not an MLflow meta.yaml (expected a mapping)")
    return data


def _kv_dir(root: Path) -> Iterator[tuple[str, str]]:
    """Key/value files under ``root``; a nested path is the key (``tags/a/b`` -> ``a/b``)."""
    try:
        entries = list(os.scandir(root))
    except (FileNotFoundError, NotADirectoryError):
        return
    yield from _kv_entries(entries, "")


def _kv_entries(entries: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
    # os.scandir: the entry types come with the listing, no stat per file (most of an import's time)
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.is_symlink():
            raise InvalidParameterError(f"Refusing a symlink inside the file store: {entry.path}")
        if entry.is_dir():
            yield from _kv_entries(list(os.scandir(entry.path)), f"{prefix}{entry.name}/")
        else:
            with open(entry.path, encoding="utf-8") as f:
                yield prefix + entry.name, f.read()


def _metric_lines(root: Path) -> Iterator[tuple[str, list[str], int]]:
    """``(key, fields, line number)`` of every metric file's lines under ``root``."""
    for key, text in _kv_dir(root):
        for n, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if parts:
                yield key, parts, n


def _metric_points(root: Path) -> Iterator[tuple[str, float, int, int]]:
    """``(key, value, timestamp, step)`` of every metric file (lines ``timestamp value [step [dataset name
    and digest]]``; a run's SQL metrics have no dataset columns, MLflow's SQL store keeps none either)."""
    for key, parts, n in _metric_lines(root):
        if len(parts) not in (2, 3, 5):
            raise InvalidParameterError(f"Malformed metric line {n} of {root / key}: {' '.join(parts)!r}")
        try:
            yield key, float(parts[1]), int(parts[0]), int(parts[2]) if len(parts) > 2 else 0
        except ValueError:
            raise InvalidParameterError(f"Malformed metric line {n} of {root / key}: {' '.join(parts)!r}") from None


def _experiment_dirs(root: Path) -> Iterator[Path]:
    for base in (root, root / ".trash"):
        if not base.is_dir():
            continue
        for d in sorted(base.iterdir()):
            if d.is_dir() and (d / "meta.yaml").is_file() and d.name not in ("models", ".trash"):
                yield d


def _subdirs(root: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(root) if e.is_dir(follow_symlinks=False))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class _RunDir:
    __slots__ = ("path", "run_id")
    artifact_uri = None

    def __init__(self, path: Path) -> None:
        self.path, self.run_id = path, path.name


class FileStoreSource:
    """Reads an MLflow file store (``mlruns/``): experiments, runs, dataset inputs, logged models, the
    ``models/`` registry, and (for ``--copy-artifacts``) local artifact files inside the store."""

    reload_present = True  # reading a run again is cheap here: verify every run, not only the new ones

    def __init__(self, source: str | os.PathLike[str]) -> None:
        text = os.fspath(source)
        if text.startswith("file:"):  # file:///abs/mlruns or file:mlruns
            from urllib.parse import unquote, urlparse

            text = unquote(urlparse(text).path) or text[len("file:"):]
        root = Path(text).expanduser()
        if not root.is_dir() or not any(_experiment_dirs(root)) and not (root / "models").is_dir():
            raise InvalidParameterError(f"{root} is not an MLflow file store (no <experiment>/meta.yaml and no "
                                        "models/ directory)")
        self.root = root
        self._datasets: dict[Path, dict[str, dict[str, Any]]] = {}

    # -- experiments and runs ------------------------------------------------------------------------------
    def experiments(self) -> list[ExperimentRecord]:
        out = []
        for d in _experiment_dirs(self.root):
            meta = _yaml(d / "meta.yaml")
            out.append(ExperimentRecord(
                src_id=str(meta.get("experiment_id", d.name)), name=str(meta.get("name")),
                artifact_location=meta.get("artifact_location"),
                lifecycle_stage=meta.get("lifecycle_stage") or "active", creation_time=meta.get("creation_time"),
                last_update_time=meta.get("last_update_time"), tags=list(_kv_dir(d / "tags")), handle=d))
        return out

    def run_pages(self, exp: ExperimentRecord) -> Iterator[list[_RunDir]]:
        d: Path = exp.handle
        yield [_RunDir(r) for r in _subdirs(d) if r.name not in ("models", "datasets") and (r / "meta.yaml").is_file()]

    def load_runs(self, dirs: Sequence[_RunDir]) -> list[RunRecord]:
        return [self._run(r.path) for r in dirs]

    def _run(self, r: Path) -> RunRecord:
        meta = _yaml(r / "meta.yaml")
        run_id = str(meta.get("run_id") or meta.get("run_uuid") or r.name)
        if run_id != r.name:
            raise InvalidParameterError(f"The run in {r} names itself {run_id!r}: a file store keeps a run in a "
                                        "directory of its id")
        row = {"name": meta.get("run_name"), "source_type": _SOURCE_TYPE.get(meta.get("source_type"), "UNKNOWN"),
               "source_name": meta.get("source_name") or "", "entry_point_name": meta.get("entry_point_name") or "",
               "user_id": meta.get("user_id"), "status": _RUN_STATUS.get(meta.get("status"), "FINISHED"),
               "start_time": meta.get("start_time"), "end_time": meta.get("end_time"),
               "source_version": meta.get("source_version") or "",
               "lifecycle_stage": meta.get("lifecycle_stage") or "active", "artifact_uri": meta.get("artifact_uri"),
               "deleted_time": meta.get("deleted_time")}
        rec = RunRecord(run_id, row, params=list(_kv_dir(r / "params")), tags=list(_kv_dir(r / "tags")),
                        points=list(_metric_points(r / "metrics")), handle=r)
        self._run_inputs(r, rec)
        return rec

    def _dataset_metas(self, exp_dir: Path) -> dict[str, dict[str, Any]]:
        if exp_dir not in self._datasets:
            found = {}
            for d in _subdirs(exp_dir / "datasets"):
                if (d / "meta.yaml").is_file():
                    found[d.name] = _yaml(d / "meta.yaml")
            self._datasets[exp_dir] = found
        return self._datasets[exp_dir]

    def _run_inputs(self, r: Path, rec: RunRecord) -> None:
        """``inputs/<id>/meta.yaml`` (a dataset of the experiment's ``datasets/``, or a logged model) and
        ``outputs/<model id>/meta.yaml`` (a logged model the run produced, at a step)."""
        from tureen.tracking.entities import Dataset, DatasetInput, InputTag

        for d in _subdirs(r / "inputs"):
            if not (d / "meta.yaml").is_file():
                continue
            meta = _yaml(d / "meta.yaml")
            kind, source_id = meta.get("source_type"), str(meta.get("source_id") or "")
            if kind == "DATASET":
                ds = self._dataset_metas(r.parent).get(source_id)
                if ds is None:
                    raise InvalidParameterError(f"The input {d} of run {rec.run_id} names dataset {source_id!r}, "
                                                "which its experiment does not have")
                tags = meta.get("tags") or {}
                if not isinstance(tags, dict):
                    raise InvalidParameterError(f"Malformed tags in {d / 'meta.yaml'}")
                rec.datasets.append(DatasetInput(Dataset(
                    str(ds.get("name")), str(ds.get("digest")), ds.get("source_type"), ds.get("source"),
                    ds.get("schema"), ds.get("profile")), [InputTag(str(k), str(v)) for k, v in tags.items()]))
            elif kind == "MODEL":
                rec.model_inputs.append(source_id)
            else:
                raise InvalidParameterError(f"Unknown input type {kind!r} in {d / 'meta.yaml'}")
        for d in _subdirs(r / "outputs"):
            if (d / "meta.yaml").is_file():
                meta = _yaml(d / "meta.yaml")
                rec.outputs.append((str(meta.get("source_id") or d.name), _int(meta.get("step"), 0) or 0))

    def run_artifacts(self, rec: RunRecord) -> Files:
        return self._local_artifacts(rec.row.get("artifact_uri"), f"run {rec.run_id}")

    def _local_artifacts(self, uri: Any, where: str) -> Files:
        from tureen.artifacts.local import local_path_of
        from tureen.store._import_artifacts import local_files
        from tureen.uri import split_scheme

        if not uri:
            return iter(())
        scheme, _ = split_scheme(str(uri))
        if scheme not in ("", "file"):
            raise InvalidParameterError(f"Cannot copy the artifacts of {where} from {uri!r}: a file store's "
                                        "artifacts are copied from local directories only")
        return local_files(local_path_of(str(uri)), where, confine=self.root)

    # -- logged models -------------------------------------------------------------------------------------
    def logged_models(self, exp: ExperimentRecord) -> Iterator[list[ModelRecord]]:
        d: Path = exp.handle
        page = [self._model(m) for m in _subdirs(d / "models") if (m / "meta.yaml").is_file()]
        if page:
            yield page

    def _model(self, d: Path) -> ModelRecord:
        from tureen.store import _schema as s

        meta = _yaml(d / "meta.yaml")
        model_id = str(meta.get("model_id") or d.name)
        if model_id != d.name:
            raise InvalidParameterError(f"The logged model in {d} names itself {model_id!r}")
        status = meta.get("status")
        if isinstance(status, str):
            status = s.LOGGED_MODEL_STATUS_TO_INT.get(status, 0)
        row = {"name": meta.get("name"), "artifact_location": meta.get("artifact_location"),
               "creation_timestamp_ms": meta.get("creation_timestamp"),
               "last_updated_timestamp_ms": meta.get("last_updated_timestamp"), "status": int(status or 0),
               "lifecycle_stage": meta.get("lifecycle_stage") or "active", "model_type": meta.get("model_type"),
               "source_run_id": meta.get("source_run_id"), "status_message": meta.get("status_message")}
        metrics = []
        for key, parts, n in _metric_lines(d / "metrics"):
            # MLflow's file store: "timestamp value step run_id [dataset_name dataset_digest]"
            if len(parts) not in (4, 6):
                raise InvalidParameterError(f"Malformed metric line {n} of {d / 'metrics' / key}")
            try:
                value = float(parts[1])
                metrics.append({"metric_name": key, "metric_timestamp_ms": int(parts[0]),
                                "metric_step": int(parts[2]), "run_id": parts[3],
                                "metric_value": None if math.isnan(value) else value,
                                "dataset_name": parts[4] if len(parts) == 6 else None,
                                "dataset_digest": parts[5] if len(parts) == 6 else None})
            except ValueError:
                raise InvalidParameterError(f"Malformed metric line {n} of {d / 'metrics' / key}") from None
        return ModelRecord(model_id, row, params=list(_kv_dir(d / "params")), tags=list(_kv_dir(d / "tags")),
                           metrics=metrics, handle=d)

    def model_artifacts(self, rec: ModelRecord) -> Files:
        return self._local_artifacts(rec.row.get("artifact_location"), f"logged model {rec.model_id}")

    # -- registry ------------------------------------------------------------------------------------------
    def registered_models(self) -> Iterator[RegisteredModelRecord]:
        models = self.root / "models"
        if not models.is_dir():
            return
        for d in sorted(models.iterdir()):
            if not (d / "meta.yaml").is_file():
                continue
            meta = _yaml(d / "meta.yaml")
            name = str(meta.get("name") or d.name)
            versions = []
            for vdir in sorted(d.glob("version-*")):
                vm = _yaml(vdir / "meta.yaml")
                number = int(vm.get("version") or vdir.name.split("-", 1)[1])
                versions.append(({
                    "name": name, "version": number, "creation_time": vm.get("creation_timestamp"),
                    "last_updated_time": vm.get("last_updated_timestamp"), "description": vm.get("description"),
                    "user_id": vm.get("user_id"), "current_stage": vm.get("current_stage") or "None",
                    "source": vm.get("source"), "run_id": vm.get("run_id"), "status": vm.get("status") or "READY",
                    "status_message": vm.get("status_message"), "run_link": vm.get("run_link"),
                    "storage_location": vm.get("storage_location")}, list(_kv_dir(vdir / "tags"))))
            aliases = dict(meta.get("aliases") or {})
            aliases.update({k: v.strip() for k, v in _kv_dir(d / "aliases")})
            yield RegisteredModelRecord(
                {"name": name, "creation_time": meta.get("creation_timestamp"),
                 "last_updated_time": meta.get("last_updated_timestamp"), "description": meta.get("description")},
                list(_kv_dir(d / "tags")), versions, {a: int(v) for a, v in aliases.items()})


def import_file_store(source: str | os.PathLike[str], uri: str, *, batch: int = 500,
                      progress: Callable[[int, int], None] | None = None,
                      copy_artifacts: bool = False) -> ImportSummary:
    """Import the MLflow file store at ``source`` into the SQL store at ``uri`` (see the module docstring).

    Raises:
        InvalidParameterError: ``source`` is not an MLflow file store, a file in it is malformed, or (with
            ``copy_artifacts``) an artifact path escapes its root.
    """
    return run_import(FileStoreSource(source), uri, batch=batch, progress=progress, copy_artifacts=copy_artifacts)
