"""``tureen import``: copy an MLflow file store (``mlruns/``, with its ``models/`` registry) into a SQL store.

Lossless for what it copies: run ids, experiment ids (kept where free and small enough for the column,
else a new id, reported), names, timestamps, full metric histories (NaN and infinities included), params,
tags (nested keys such as ``a/b``), lifecycle stages and deletion times; registered models, versions,
stages, aliases, descriptions and tags. Artifact locations are kept as they are (the files stay where they
are). Every write is insert-if-absent, in one transaction per batch of runs, so an import is idempotent
(a second one adds nothing) and resumable (after a kill, the next one carries on from the last committed
batch). At the end, counts and a checksum of every run's params, tags and metric points are recomputed
from the database and compared with the source's.

Not copied (said so in the summary): dataset inputs and logged models of the file store.

Example:
    >>> summary = import_file_store("mlruns", "sqlite:///tracking.db")  # doctest: +SKIP
    >>> summary.verified  # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from tureen.exceptions import InvalidParameterError

__all__ = ["ImportSummary", "import_file_store"]

_RUN_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_SOURCE_TYPE = {1: "NOTEBOOK", 2: "JOB", 3: "PROJECT", 4: "LOCAL", 1000: "UNKNOWN"}
_INT32_MAX = 2 ** 31 - 1
_MAX_DOUBLE = 1.7976931348623157e308


@dataclass
class ImportSummary:
    """What an import did, and whether the database matches the source afterwards."""

    experiments: int = 0
    runs_seen: int = 0
    runs_added: int = 0
    params: int = 0
    tags: int = 0
    metric_points: int = 0
    registered_models: int = 0
    model_versions: int = 0
    experiment_ids: dict[str, str] = field(default_factory=dict)
    source_checksum: str = ""
    database_checksum: str = ""
    skipped: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.source_checksum == self.database_checksum


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


def _metric_points(root: Path) -> Iterator[tuple[str, float, int, int]]:
    """``(key, value, timestamp, step)`` of every metric file (lines ``timestamp value [step]``)."""
    for key, text in _kv_dir(root):
        for n, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) not in (2, 3):
                raise InvalidParameterError(f"Malformed metric line {n} of {root / key}: {line!r}")
            try:
                yield key, float(parts[1]), int(parts[0]), int(parts[2]) if len(parts) == 3 else 0
            except ValueError:
                raise InvalidParameterError(f"Malformed metric line {n} of {root / key}: {line!r}") from None


def _stored(value: float) -> tuple[float, bool]:
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (_MAX_DOUBLE if value > 0 else -_MAX_DOUBLE), False
    return value, False


def _experiment_dirs(root: Path) -> Iterator[Path]:
    for base in (root, root / ".trash"):
        if not base.is_dir():
            continue
        for d in sorted(base.iterdir()):
            if d.is_dir() and (d / "meta.yaml").is_file() and d.name not in ("models", ".trash"):
                yield d


def _digest(h: Any, run_id: str, kind: str, key: str, *values: Any) -> None:
    h.update(repr((run_id, kind, key, *values)).encode())


def import_file_store(source: str | os.PathLike[str], uri: str, *, batch: int = 500,
                      progress: Callable[[int, int], None] | None = None) -> ImportSummary:
    """Import the MLflow file store at ``source`` into the SQL store at ``uri`` (see the module docstring).

    Raises:
        InvalidParameterError: ``source`` is not an MLflow file store, or a file in it is malformed.
    """
    from sqlalchemy import func, select

    from tureen.store import _schema as s
    from tureen.store.sql import SqlStore

    text = os.fspath(source)
    if text.startswith("file:"):  # file:///abs/mlruns or file:mlruns
        from urllib.parse import unquote, urlparse

        text = unquote(urlparse(text).path) or text[len("file:"):]
    root = Path(text).expanduser()
    if not root.is_dir() or not any(_experiment_dirs(root)) and not (root / "models").is_dir():
        raise InvalidParameterError(f"{root} is not an MLflow file store (no <experiment>/meta.yaml and no "
                                    "models/ directory)")
    store = SqlStore(uri)
    summary = ImportSummary()
    src_hash, run_ids = hashlib.sha256(), []
    try:
        run_dirs: list[tuple[Path, int]] = []
        with store._write() as conn:  # experiments first: few, and runs need their ids
            for d in _experiment_dirs(root):
                meta = _yaml(d / "meta.yaml")
                name, src_id = str(meta.get("name")), str(meta.get("experiment_id", d.name))
                found = import_experiment(store, conn, src_id, {
                    "name": name, "artifact_location": meta.get("artifact_location"),
                    "lifecycle_stage": meta.get("lifecycle_stage") or "active",
                    "creation_time": meta.get("creation_time"), "last_update_time": meta.get("last_update_time")},
                    list(_kv_dir(d / "tags")))
                summary.experiments += 1
                summary.experiment_ids[src_id] = str(found)
                for r in sorted(d.iterdir()):
                    if r.is_dir() and (r / "meta.yaml").is_file():
                        run_dirs.append((r, int(found)))
            experiments_done(store, conn)
        total = len(run_dirs)
        for start in range(0, total, batch):
            chunk = run_dirs[start:start + batch]
            runs, params, tags, metrics, latest = [], [], [], [], {}
            for r, eid in chunk:
                meta = _yaml(r / "meta.yaml")
                run_id = str(meta.get("run_id") or meta.get("run_uuid") or r.name)
                run_ids.append(run_id)
                runs.append({"run_uuid": run_id, "name": meta.get("run_name"),
                             "source_type": _SOURCE_TYPE.get(meta.get("source_type"), "UNKNOWN"),
                             "source_name": meta.get("source_name") or "",
                             "entry_point_name": meta.get("entry_point_name") or "",
                             "user_id": meta.get("user_id"), "status": _RUN_STATUS.get(meta.get("status"), "FINISHED"),
                             "start_time": meta.get("start_time"), "end_time": meta.get("end_time"),
                             "source_version": meta.get("source_version") or "",
                             "lifecycle_stage": meta.get("lifecycle_stage") or "active",
                             "artifact_uri": meta.get("artifact_uri"), "experiment_id": eid,
                             "deleted_time": meta.get("deleted_time")})
                items: set[tuple[Any, ...]] = set()
                for k, v in _kv_dir(r / "params"):
                    params.append({"run_uuid": run_id, "key": k, "value": v})
                    items.add(("param", k, v))
                for k, v in _kv_dir(r / "tags"):
                    tags.append({"run_uuid": run_id, "key": k, "value": v})
                    items.add(("tag", k, v))
                seen = set()
                for k, value, ts, step in _metric_points(r / "metrics"):
                    stored, is_nan = _stored(value)
                    point = (k, stored, ts, step, is_nan)
                    if point in seen:  # MLflow's SQL key is the whole point: a repeat is one row
                        continue
                    seen.add(point)
                    metrics.append({"run_uuid": run_id, "key": k, "value": stored, "timestamp": ts, "step": step,
                                    "is_nan": is_nan})
                    items.add(("metric", k, stored, ts, step, is_nan))
                    cur = latest.get((run_id, k))
                    if cur is None or (step, ts, stored) > (cur["step"], cur["timestamp"], cur["value"]):
                        latest[(run_id, k)] = metrics[-1]
                for item in sorted(items, key=repr):  # the same order the database side is hashed in
                    _digest(src_hash, run_id, *item)
            with store._write() as conn:
                present = set(conn.execute(select(s.runs.c.run_uuid).where(
                    s.runs.c.run_uuid.in_([x["run_uuid"] for x in runs]))).scalars())
                new = [x for x in runs if x["run_uuid"] not in present]
                keep = {x["run_uuid"] for x in new}
                if new:  # a run already there (an earlier, committed batch) is complete: skip all of it
                    conn.execute(s.runs.insert(), new)
                    for table, rows in ((s.params, params), (s.tags, tags), (s.metrics, metrics),
                                        (s.latest_metrics, list(latest.values()))):
                        rows = [x for x in rows if x["run_uuid"] in keep]
                        if rows:
                            conn.execute(store._insert_ignore(table), rows)
                summary.runs_added += len(new)
            summary.runs_seen += len(chunk)
            if progress is not None:
                progress(summary.runs_seen, total)
        _import_registry(store, root / "models", summary)
        summary.skipped.append("dataset inputs and logged models of the file store")
        verify_runs(store, run_ids, summary, src_hash)
    finally:
        store.close()
    return summary


def import_experiment(store: Any, conn: Any, src_id: str, values: dict[str, Any],
                      tags: list[tuple[str, str]]) -> int:
    """The target id of a source experiment: the one of that name if there, else a new row (keeping the
    source's id when it is free and fits the column) with its tags."""
    from sqlalchemy import select

    from tureen.store import _schema as s

    e = s.experiments
    found = conn.execute(select(e.c.experiment_id).where(e.c.name == values["name"])).scalar()
    if found is not None:
        return int(found)
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
    return int(found)


def experiments_done(store: Any, conn: Any) -> None:
    """After inserting experiments with explicit ids: PostgreSQL's sequence moves past them."""
    if store.dialect == "postgresql":
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
                             "COALESCE((SELECT MAX(experiment_id) FROM experiments), 0) + 1, false)")


def verify_runs(store: Any, run_ids: list[str], summary: ImportSummary, src_hash: Any) -> None:
    """Recompute from the database what the source sent for ``run_ids`` (counts and a checksum)."""
    from sqlalchemy import func, select

    from tureen.store import _schema as s

    db_hash = hashlib.sha256()
    with store._read() as conn:
        for i in range(0, len(run_ids), 500):
            ids = run_ids[i:i + 500]
            got: dict[str, list[tuple[Any, ...]]] = {r: [] for r in ids}
            for row in conn.execute(select(s.params.c.run_uuid, s.params.c.key, s.params.c.value)
                                    .where(s.params.c.run_uuid.in_(ids))):
                got[row[0]].append(("param", row[1], row[2]))
            for row in conn.execute(select(s.tags.c.run_uuid, s.tags.c.key, s.tags.c.value)
                                    .where(s.tags.c.run_uuid.in_(ids))):
                got[row[0]].append(("tag", row[1], row[2]))
            m = s.metrics
            for row in conn.execute(select(m.c.run_uuid, m.c.key, m.c.value, m.c.timestamp, m.c.step, m.c.is_nan)
                                    .where(m.c.run_uuid.in_(ids))):
                got[row[0]].append(("metric", row[1], row[2], row[3], row[4], bool(row[5])))
            for r in ids:
                summary.params += sum(1 for x in got[r] if x[0] == "param")
                summary.tags += sum(1 for x in got[r] if x[0] == "tag")
                summary.metric_points += sum(1 for x in got[r] if x[0] == "metric")
                for item in sorted(got[r], key=repr):
                    _digest(db_hash, r, *item)
        summary.registered_models = conn.execute(select(func.count()).select_from(s.registered_models)).scalar()
    summary.source_checksum = src_hash.hexdigest()
    summary.database_checksum = db_hash.hexdigest()


def _import_registry(store: Any, models: Path, summary: ImportSummary) -> None:
    from tureen.store import _schema as s

    if not models.is_dir():
        return
    with store._write() as conn:
        for d in sorted(models.iterdir()):
            if not (d / "meta.yaml").is_file():
                continue
            meta = _yaml(d / "meta.yaml")
            name = str(meta.get("name") or d.name)
            conn.execute(store._insert_ignore(s.registered_models), [{
                "name": name, "creation_time": meta.get("creation_timestamp"),
                "last_updated_time": meta.get("last_updated_timestamp"), "description": meta.get("description")}])
            rows = [{"name": name, "key": k, "value": v} for k, v in _kv_dir(d / "tags")]
            if rows:
                conn.execute(store._insert_ignore(s.registered_model_tags), rows)
            for vdir in sorted(d.glob("version-*")):
                vm = _yaml(vdir / "meta.yaml")
                number = int(vm.get("version") or vdir.name.split("-", 1)[1])
                conn.execute(store._insert_ignore(s.model_versions), [{
                    "name": name, "version": number, "creation_time": vm.get("creation_timestamp"),
                    "last_updated_time": vm.get("last_updated_timestamp"), "description": vm.get("description"),
                    "user_id": vm.get("user_id"), "current_stage": vm.get("current_stage") or "None",
                    "source": vm.get("source"), "run_id": vm.get("run_id"), "status": vm.get("status") or "READY",
                    "status_message": vm.get("status_message"), "run_link": vm.get("run_link"),
                    "storage_location": vm.get("storage_location")}])
                summary.model_versions += 1
                rows = [{"name": name, "version": number, "key": k, "value": v} for k, v in _kv_dir(vdir / "tags")]
                if rows:
                    conn.execute(store._insert_ignore(s.model_version_tags), rows)
            aliases = dict(meta.get("aliases") or {})
            aliases.update({k: v.strip() for k, v in _kv_dir(d / "aliases")})
            rows = [{"name": name, "alias": a, "version": int(v)} for a, v in aliases.items()]
            if rows:
                conn.execute(store._insert_ignore(s.registered_model_aliases), rows)
