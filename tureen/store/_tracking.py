"""The tracking half of the SQL store: experiments, runs, params, metrics, tags, dataset inputs, logged models.

Written against MLflow's own tables (:mod:`tureen.store._schema`), so what it writes MLflow reads and the
other way round. Each public method is one transaction: it validates everything first, then writes, so a
call that fails leaves nothing behind. Filters of the searches are compiled to SQL (``_run_clause``,
``_kv_condition``, ``_compare``); only the page of results is loaded into Python.

Example:
    >>> from tureen.store.sql import SqlStore  # doctest: +SKIP
    >>> store = SqlStore("sqlite:///:memory:")  # doctest: +SKIP
    >>> store.create_experiment("churn")  # doctest: +SKIP
    '1'
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from tureen.exceptions import InvalidParameterError, ResourceAlreadyExistsError, ResourceNotFoundError
from tureen.store import _schema as s
from tureen.store._common import (
    SEARCH_EXPERIMENTS_MAX,
    SEARCH_RUNS_MAX,
    check_max_results,
    current_user,
    experiment_id_of,
    gc_paused,
    now_ms,
    to_uri,
)
from tureen.tracking import _validation as v
from tureen.tracking._filter import Clause, decode_page_token, encode_page_token, parse_filter, parse_order_by
from tureen.tracking._names import random_run_name
from tureen.tracking.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    LifecycleStage,
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    Metric,
    PagedList,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunStatus,
    ViewType,
)

__all__ = ["TrackingSqlMixin", "RUN_NAME_TAG", "LOGGED_MODELS_TAG"]

RUN_NAME_TAG = "mlflow.runName"
LOGGED_MODELS_TAG = "mlflow.log-model.history"
DATASET_CONTEXT_TAG = "mlflow.data.context"
_ACTIVE = LifecycleStage.ACTIVE
_DELETED = LifecycleStage.DELETED
# MLflow stores +-inf as the largest finite doubles (and NaN as 0 with is_nan set)
_MAX_DOUBLE = 1.7976931348623157e308


class TrackingSqlMixin:
    """Tracking methods of the SQL store; the plumbing (``_read``, ``_write``, search helpers) is
    :class:`tureen.store._base.SqlBase`'s."""

    _read: Any
    _write: Any
    _upsert: Any
    _insert_ignore: Any
    _upsert_tag_stmt: Any
    _insert_metric: Any
    _insert_param: Any
    _upsert_latest: Any
    _lifecycle: Any
    _attr_column: Any
    _sort_terms: Any
    _page: Any
    _page_sql: Any
    _page_rows: Any
    _compare: Any
    _kv_condition: Any
    _default_location: Any
    dialect: str

    # ======================================================================================================
    # experiments
    # ======================================================================================================
    def _experiment_row(self, conn: Any, experiment_id: int) -> Any:
        row = conn.execute(s.experiments.select().where(s.experiments.c.experiment_id == experiment_id)).first()
        if row is None:
            raise ResourceNotFoundError(f"No Experiment with id={experiment_id} exists")
        return row

    def _experiments_from_rows(self, conn: Any, rows: Sequence[Any]) -> list[Experiment]:
        ids = [r.experiment_id for r in rows]
        tags: dict[int, dict[str, str]] = {i: {} for i in ids}
        if ids:
            t = s.experiment_tags
            for tr in conn.execute(select(t.c.experiment_id, t.c.key, t.c.value).where(t.c.experiment_id.in_(ids))):
                tags[tr.experiment_id][tr.key] = tr.value
        return [Experiment(experiment_id=str(r.experiment_id), name=r.name, artifact_location=r.artifact_location,
                           lifecycle_stage=r.lifecycle_stage, tags=tags[r.experiment_id],
                           creation_time=r.creation_time, last_update_time=r.last_update_time) for r in rows]

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, Any] | None = None) -> str:
        v.validate_experiment_name(name)
        tag_rows = [v.validate_experiment_tag(k, val) for k, val in (tags or {}).items()]
        now = now_ms()
        with self._write() as conn:
            existing = conn.execute(select(s.experiments.c.experiment_id, s.experiments.c.lifecycle_stage)
                                    .where(s.experiments.c.name == name)).first()
            if existing is not None:
                extra = " (it is deleted: restore it or pick another name)" if existing.lifecycle_stage == _DELETED \
                    else ""
                raise ResourceAlreadyExistsError(f"Experiment(name={name}) already exists{extra}")
            try:
                with conn.begin_nested():
                    result = conn.execute(s.experiments.insert().values(
                        name=name, artifact_location=to_uri(artifact_location) if artifact_location else "",
                        lifecycle_stage=_ACTIVE, creation_time=now, last_update_time=now))
            except IntegrityError:
                raise ResourceAlreadyExistsError(f"Experiment(name={name}) already exists") from None
            exp_id = result.inserted_primary_key[0]
            if not artifact_location:
                conn.execute(update(s.experiments).where(s.experiments.c.experiment_id == exp_id)
                             .values(artifact_location=self._default_location(exp_id)))
            if tag_rows:
                conn.execute(s.experiment_tags.insert(),
                             [{"experiment_id": exp_id, "key": k, "value": val} for k, val in tag_rows])
        return str(exp_id)

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        eid = experiment_id_of(experiment_id)
        with self._read() as conn:
            return self._experiments_from_rows(conn, [self._experiment_row(conn, eid)])[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._read() as conn:
            row = conn.execute(s.experiments.select().where(s.experiments.c.name == name)).first()
            return None if row is None else self._experiments_from_rows(conn, [row])[0]

    def delete_experiment(self, experiment_id: str | int) -> None:
        eid = experiment_id_of(experiment_id)
        now = now_ms()
        with self._write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage == _DELETED:
                raise InvalidParameterError(f"Experiment {eid} is already deleted")
            conn.execute(update(s.experiments).where(s.experiments.c.experiment_id == eid)
                         .values(lifecycle_stage=_DELETED, last_update_time=now))
            # its active runs go with it, stamped with the experiment's deletion time (MLflow's experiments
            # table has no deleted_time; a deleted experiment's last_update_time cannot change until restored),
            # so restoring the experiment brings back exactly these
            conn.execute(update(s.runs).where(s.runs.c.experiment_id == eid, s.runs.c.lifecycle_stage == _ACTIVE)
                         .values(lifecycle_stage=_DELETED, deleted_time=now))

    def restore_experiment(self, experiment_id: str | int) -> None:
        eid = experiment_id_of(experiment_id)
        with self._write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != _DELETED:
                raise InvalidParameterError(f"Cannot restore experiment {eid}: it is not deleted")
            conn.execute(update(s.experiments).where(s.experiments.c.experiment_id == eid)
                         .values(lifecycle_stage=_ACTIVE, last_update_time=now_ms()))
            conn.execute(update(s.runs).where(s.runs.c.experiment_id == eid, s.runs.c.lifecycle_stage == _DELETED,
                                              s.runs.c.deleted_time == row.last_update_time)
                         .values(lifecycle_stage=_ACTIVE, deleted_time=None))

    def rename_experiment(self, experiment_id: str | int, new_name: str) -> None:
        eid = experiment_id_of(experiment_id)
        v.validate_experiment_name(new_name)
        with self._write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != _ACTIVE:
                raise InvalidParameterError(f"Cannot rename experiment {eid}: it is deleted")
            if row.name == new_name:
                return
            taken = conn.execute(select(s.experiments.c.experiment_id).where(s.experiments.c.name == new_name)).first()
            if taken is not None:
                raise ResourceAlreadyExistsError(f"Experiment(name={new_name}) already exists")
            conn.execute(update(s.experiments).where(s.experiments.c.experiment_id == eid)
                         .values(name=new_name, last_update_time=now_ms()))

    def set_experiment_tag(self, experiment_id: str | int, key: str, value: Any) -> None:
        eid = experiment_id_of(experiment_id)
        key, value = v.validate_experiment_tag(key, value)
        with self._write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != _ACTIVE:
                raise InvalidParameterError(f"The experiment {eid} must be in the 'active' state")
            conn.execute(self._upsert_tag_stmt(s.experiment_tags, ("experiment_id", "key")),
                         {"experiment_id": eid, "key": key, "value": value})

    def delete_experiment_tag(self, experiment_id: str | int, key: str) -> None:
        eid = experiment_id_of(experiment_id)
        with self._write() as conn:
            self._experiment_row(conn, eid)
            t = s.experiment_tags
            gone = conn.execute(t.delete().where(t.c.experiment_id == eid, t.c.key == key)).rowcount
            if not gone:
                raise ResourceNotFoundError(f"No tag with key {key!r} on experiment {eid}")

    def search_experiments(self, view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                           filter_string: str | None = None, order_by: list[str] | None = None,
                           page_token: str | None = None) -> PagedList:
        view = ViewType.from_any(view_type)
        check_max_results(max_results, SEARCH_EXPERIMENTS_MAX, "search_experiments")
        e = s.experiments
        conds = [self._lifecycle(e.c.lifecycle_stage, view)]
        for c in parse_filter(filter_string):
            conds.append(self._experiment_clause(c))
        keys = parse_order_by(order_by)
        order = self._sort_terms(keys, {"name": e.c.name, "experiment_id": e.c.experiment_id,
                                        "creation_time": e.c.creation_time, "last_update_time": e.c.last_update_time},
                                 "experiments")
        if not any(k.key == "creation_time" for k in keys):
            order.append(e.c.creation_time.desc())
        order.append(e.c.experiment_id.asc())
        return self._page(e.select().where(*conds).order_by(*order), page_token, max_results,
                          self._experiments_from_rows)

    def _experiment_clause(self, c: Clause) -> Any:
        e = s.experiments
        if c.entity == "tag":
            return self._kv_condition(s.experiment_tags, s.experiment_tags.c.experiment_id == e.c.experiment_id, c)
        col = self._attr_column(c.entity, c.key, {"name": e.c.name, "experiment_id": e.c.experiment_id,
                                                   "creation_time": e.c.creation_time,
                                                   "last_update_time": e.c.last_update_time}, "experiments")
        if c.key == "experiment_id":
            value = [experiment_id_of(x) for x in c.value] if isinstance(c.value, list) else experiment_id_of(c.value)
            return self._compare(col, c.op, value, ("=", "!=", "IN", "NOT IN"), c)
        if c.key == "name":
            return self._compare(col, c.op, c.value, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), c, string=True)
        return self._compare(col, c.op, c.value, ("=", "!=", "<", "<=", ">", ">="), c, number=True)

    # ======================================================================================================
    # runs
    # ======================================================================================================
    def _run_row(self, conn: Any, run_id: str) -> Any:
        row = conn.execute(s.runs.select().where(s.runs.c.run_uuid == run_id)).first()
        if row is None:
            raise ResourceNotFoundError(f"Run with id={run_id} not found")
        return row

    def _check_active(self, conn: Any, run_id: str) -> Any:
        r = s.runs
        row = conn.execute(select(r.c.lifecycle_stage, r.c.experiment_id).where(r.c.run_uuid == run_id)).first()
        if row is None:
            raise ResourceNotFoundError(f"Run with id={run_id} not found")
        if row.lifecycle_stage != _ACTIVE:
            raise InvalidParameterError(f"The run {run_id} must be in the 'active' state. Current state is "
                                        f"{row.lifecycle_stage}.")
        return row

    def create_run(self, experiment_id: str | int, user_id: str | None = None, start_time: int | None = None,
                   tags: dict[str, Any] | None = None, run_name: str | None = None) -> Run:
        eid = experiment_id_of(experiment_id)
        v.validate_run_name(run_name)
        tag_map = dict(v.validate_tag(k, val) for k, val in (tags or {}).items())
        if run_name is not None and tag_map.get(RUN_NAME_TAG, run_name) != run_name:
            raise InvalidParameterError(f"Both run_name={run_name!r} and a {RUN_NAME_TAG!r} tag of "
                                        f"{tag_map[RUN_NAME_TAG]!r} were given; they must agree")
        name = run_name or tag_map.get(RUN_NAME_TAG) or random_run_name()
        tag_map[RUN_NAME_TAG] = name
        run_id = uuid.uuid4().hex
        start = now_ms() if start_time is None else int(start_time)
        user = user_id if user_id is not None else current_user()
        with self._write() as conn:
            # statements built once (see _run_statements): a create_run is one read and two inserts
            exp = conn.execute(self._select_run_experiment, {"eid": eid}).first()
            if exp is None:
                raise ResourceNotFoundError(f"No Experiment with id={eid} exists")
            if exp.lifecycle_stage != _ACTIVE:
                raise InvalidParameterError(f"The experiment {eid} must be in the 'active' state. Current state "
                                            f"is {exp.lifecycle_stage}.")
            artifact_uri = f"{exp.artifact_location.rstrip('/')}/{run_id}/artifacts"
            conn.execute(self._insert_run, {
                "run_uuid": run_id, "name": name, "experiment_id": eid, "user_id": user, "status": RunStatus.RUNNING,
                "start_time": start, "end_time": None, "artifact_uri": artifact_uri, "lifecycle_stage": _ACTIVE,
                "source_type": "UNKNOWN", "source_name": "", "entry_point_name": "", "source_version": ""})
            conn.execute(self._insert_tag, [{"run_uuid": run_id, "key": k, "value": val} for k, val in tag_map.items()])
        info = RunInfo(run_id=run_id, experiment_id=str(eid), run_name=name, user_id=user,
                       status=RunStatus.RUNNING, start_time=start, end_time=None, artifact_uri=artifact_uri,
                       lifecycle_stage=_ACTIVE)
        return Run(info=info, data=RunData(tags=tag_map))

    def _runs_from_ids(self, conn: Any, run_ids: Sequence[str],
                       points: dict[str, dict[str, tuple[int, int]]] | None = None) -> list[Run]:
        """The runs of ``run_ids`` (in that order; ids that are not there are left out): one query for the
        runs and one for each of their params, tags, latest metrics, outputs and inputs, whatever the count.
        On SQLite the queries go to the driver as SQL compiled once (see ``SqlBase._page_rows``). ``points``,
        when given, receives ``{run_id: {key: (timestamp, step)}}`` of the same latest metrics (read in the
        same query and snapshot, so a caller answering with them needs no second read)."""
        if not run_ids:
            return []
        ids = list(run_ids)
        ids_json = None
        if self._page_sql is not None:
            ids_json = json.dumps(ids)
            if not conn.in_transaction():
                conn.begin()  # the pieces are read in one transaction (one snapshot), as SQLAlchemy's would be
        with gc_paused():
            rows = {r[0]: r for r in self._page_rows(conn, "runs", ids, ids_json)}
            params: dict[str, dict[str, str]] = {i: {} for i in ids}
            tags: dict[str, dict[str, str]] = {i: {} for i in ids}
            metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
            outputs: dict[str, list[LoggedModelOutput]] = {i: [] for i in ids}
            for run_uuid, key, value in self._page_rows(conn, "params", ids, ids_json):
                params[run_uuid][key] = value
            for run_uuid, key, value in self._page_rows(conn, "tags", ids, ids_json):
                tags[run_uuid][key] = value
            nan = math.nan
            for run_uuid, key, value, is_nan, timestamp, step in self._page_rows(conn, "latest", ids, ids_json):
                metrics[run_uuid][key] = nan if is_nan else value
                if points is not None:
                    points.setdefault(run_uuid, {})[key] = (timestamp or 0, step or 0)
            for source_id, destination_id, step in self._page_rows(conn, "outputs", ids, ids_json):
                outputs[source_id].append(LoggedModelOutput(destination_id, step))
            inputs = self._run_inputs(conn, ids, ids_json)
            out = []
            for i in ids:
                row = rows.get(i)
                if row is None:
                    continue
                run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, stage = row
                info = RunInfo(run_id=run_uuid, experiment_id=str(experiment_id), run_name=name, user_id=user_id,
                               status=status, start_time=start_time, end_time=end_time, artifact_uri=artifact_uri,
                               lifecycle_stage=stage)
                out.append(Run(info=info, data=RunData(metrics=metrics[i], params=params[i], tags=tags[i]),
                               inputs=inputs[i], outputs=RunOutputs(outputs[i])))
            return out

    def _run_inputs(self, conn: Any, ids: list[str], ids_json: str | None = None) -> dict[str, RunInputs]:
        """The dataset and model inputs of runs: one indexed query, a second one only for dataset tags."""
        rows = self._page_rows(conn, "inputs", ids, ids_json)
        if not rows:
            return {r: RunInputs() for r in ids}
        tags: dict[str, list[InputTag]] = {}
        if any(r[0] == "DATASET" for r in rows):
            for input_uuid, name, value in self._page_rows(conn, "input_tags", ids, ids_json):
                tags.setdefault(input_uuid, []).append(InputTag(name, value))
        datasets: dict[str, list[DatasetInput]] = {r: [] for r in ids}
        model_inputs: dict[str, list[LoggedModelInput]] = {r: [] for r in ids}
        for (source_type, source_id, destination_id, input_uuid, name, digest, source_kind, source, schema,
             profile) in rows:
            if source_type == "RUN_INPUT":
                model_inputs[source_id].append(LoggedModelInput(destination_id))
            elif name is not None:
                datasets[destination_id].append(DatasetInput(
                    Dataset(name, digest, source_kind, source, schema, profile), tags.get(input_uuid, [])))
        return {r: RunInputs(datasets[r], model_inputs[r]) for r in ids}

    def get_run(self, run_id: str) -> Run:
        return self.get_run_and_points(run_id)[0]

    def get_run_and_points(self, run_id: str) -> tuple[Run, dict[str, tuple[int, int]]]:
        """:meth:`get_run`, with the ``(timestamp, step)`` of each of its latest metrics (what ``runs/get``
        answers with; ``Run.data.metrics`` keeps only the values), read in the same snapshot."""
        v.validate_run_id(run_id)
        points: dict[str, dict[str, tuple[int, int]]] = {}
        with self._read() as conn:
            runs = self._runs_from_ids(conn, [run_id], points)
        if not runs:
            raise ResourceNotFoundError(f"Run with id={run_id} not found")
        return runs[0], points.get(run_id, {})

    def update_run_info(self, run_id: str, run_status: str | None = None, end_time: int | None = None,
                        run_name: str | None = None) -> RunInfo:
        v.validate_run_id(run_id)
        if run_status is not None and run_status not in RunStatus.ALL:
            raise InvalidParameterError(f"Invalid run status {run_status!r}: use one of {', '.join(RunStatus.ALL)}")
        v.validate_run_name(run_name)
        values: dict[str, Any] = {}
        if run_status is not None:
            values["status"] = run_status
        if end_time is not None:
            values["end_time"] = int(end_time)
        if run_name is not None:
            values["name"] = run_name
        with self._write() as conn:
            self._check_active(conn, run_id)
            if values:
                conn.execute(update(s.runs).where(s.runs.c.run_uuid == run_id).values(**values))
            if run_name is not None:
                conn.execute(self._upsert_tag_stmt(s.tags, ("run_uuid", "key")),
                             {"run_uuid": run_id, "key": RUN_NAME_TAG, "value": run_name})
            row = self._run_row(conn, run_id)
        return RunInfo(run_id=row.run_uuid, experiment_id=str(row.experiment_id), run_name=row.name,
                       user_id=row.user_id, status=row.status, start_time=row.start_time, end_time=row.end_time,
                       artifact_uri=row.artifact_uri, lifecycle_stage=row.lifecycle_stage)

    def delete_run(self, run_id: str) -> None:
        v.validate_run_id(run_id)
        with self._write() as conn:
            row = self._run_row(conn, run_id)
            if row.lifecycle_stage == _DELETED:
                return
            conn.execute(update(s.runs).where(s.runs.c.run_uuid == run_id)
                         .values(lifecycle_stage=_DELETED, deleted_time=now_ms()))

    def restore_run(self, run_id: str) -> None:
        v.validate_run_id(run_id)
        with self._write() as conn:
            row = self._run_row(conn, run_id)
            exp = self._experiment_row(conn, row.experiment_id)
            if exp.lifecycle_stage != _ACTIVE:
                raise InvalidParameterError(f"Cannot restore run {run_id}: its experiment {exp.experiment_id} is "
                                            "deleted (restore the experiment instead)")
            conn.execute(update(s.runs).where(s.runs.c.run_uuid == run_id)
                         .values(lifecycle_stage=_ACTIVE, deleted_time=None))

    # -- params, metrics, tags -------------------------------------------------------------------------------
    def _write_params(self, conn: Any, run_id: str, items: list[tuple[str, str]]) -> None:
        if not items:
            return
        conn.execute(self._insert_param, [{"run_uuid": run_id, "key": k, "value": val} for k, val in items])
        # ON CONFLICT DO NOTHING kept existing values; a differing one is an error (params are immutable)
        p = s.params
        stored = dict(conn.execute(select(p.c.key, p.c.value).where(p.c.run_uuid == run_id,
                                                                    p.c.key.in_([k for k, _ in items]))).all())
        for k, val in items:
            if stored.get(k) != val:
                raise InvalidParameterError(
                    f"Changing param values is not allowed. Param with key={k!r} was already logged with "
                    f"value={stored.get(k)!r} for run ID={run_id!r}. Attempted logging new value {val!r}.")

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        v.validate_run_id(run_id)
        item = v.validate_param(key, value)
        with self._write() as conn:
            self._check_active(conn, run_id)
            self._write_params(conn, run_id, [item])

    def _metric_rows(self, run_id: str, metrics: Iterable[Metric | tuple[Any, ...]]) -> list[dict[str, Any]]:
        rows = []
        for m in metrics:
            if isinstance(m, Metric):
                key, value, timestamp, step, model_id = m.key, m.value, m.timestamp, m.step, m.model_id
            else:
                key, value, timestamp, step = m[:4]
                model_id = m[4] if len(m) > 4 else None
            key, fvalue, is_nan, timestamp, step = v.validate_metric(key, value, timestamp, step)
            rows.append({"run_uuid": run_id, "key": key, "value": fvalue, "timestamp": timestamp, "step": step,
                         "is_nan": is_nan, "model_id": model_id})
        return rows

    @staticmethod
    def _latest_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One row per key: the point with the greatest (step, timestamp, value), as the upsert would keep."""
        best: dict[str, dict[str, Any]] = {}
        for r in rows:
            cur = best.get(r["key"])
            if cur is None or (r["step"], r["timestamp"], r["value"]) > (cur["step"], cur["timestamp"], cur["value"]):
                best[r["key"]] = r
        return [{k: r[k] for k in ("run_uuid", "key", "value", "timestamp", "step", "is_nan")} for r in best.values()]

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None, step: int = 0,
                   model_id: str | None = None) -> None:
        v.validate_run_id(run_id)
        rows = self._metric_rows(run_id, [(key, value, now_ms() if timestamp is None else timestamp, step or 0,
                                           model_id)])
        with self._write() as conn:
            eid = self._check_active(conn, run_id).experiment_id
            self._write_metrics(conn, eid, rows)

    _POINT = ("run_uuid", "key", "value", "timestamp", "step", "is_nan")

    def _write_metrics(self, conn: Any, experiment_id: int, rows: list[dict[str, Any]]) -> None:
        """Insert points (an identical point logged again is kept once: it is MLflow's primary key), keep
        ``latest_metrics`` up to date, and record points of a logged model in ``logged_model_metrics``."""
        if not rows:
            return
        self._executemany(conn, self._insert_metric, rows, self._POINT)
        # a batch names each key once (the usual batch: one point per metric): every point is its key's
        # candidate as it is; with repeated keys, one candidate per key is chosen first
        distinct = len({r["key"] for r in rows}) == len(rows)
        self._executemany(conn, self._upsert_latest, rows if distinct else self._latest_rows(rows), self._POINT)
        of_models = [r for r in rows if r.get("model_id")]
        if of_models:
            conn.execute(self._insert_ignore(s.logged_model_metrics), [
                {"model_id": r["model_id"], "metric_name": r["key"], "metric_timestamp_ms": r["timestamp"],
                 "metric_step": r["step"], "metric_value": None if r["is_nan"] else r["value"],
                 "experiment_id": experiment_id, "run_id": r["run_uuid"]} for r in of_models])

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        v.validate_run_id(run_id)
        key, value = v.validate_tag(key, value)
        with self._write() as conn:
            self._check_active(conn, run_id)
            self._write_tags(conn, run_id, [(key, value)])

    def _write_tags(self, conn: Any, run_id: str, items: list[tuple[str, str]]) -> None:
        if not items:
            return
        conn.execute(self._upsert_tag_stmt(s.tags, ("run_uuid", "key")),
                     [{"run_uuid": run_id, "key": k, "value": val} for k, val in items])
        for k, val in items:
            if k == RUN_NAME_TAG:  # the run name tag and the run's name stay one and the same
                conn.execute(update(s.runs).where(s.runs.c.run_uuid == run_id).values(name=val))

    def delete_tag(self, run_id: str, key: str) -> None:
        v.validate_run_id(run_id)
        with self._write() as conn:
            self._check_active(conn, run_id)
            gone = conn.execute(s.tags.delete().where(s.tags.c.run_uuid == run_id, s.tags.c.key == key)).rowcount
            if not gone:
                raise ResourceNotFoundError(f"No tag with name: {key} in run with id {run_id}")

    def log_batch(self, run_id: str, metrics: Sequence[Any] = (), params: Sequence[Any] = (),
                  tags: Sequence[Any] = ()) -> None:
        """Log metrics, params and tags in one transaction (MLflow's batch limits apply)."""
        v.validate_run_id(run_id)
        metrics, params, tags = list(metrics or ()), list(params or ()), list(tags or ())
        v.validate_batch_sizes(len(metrics), len(params), len(tags))
        rows = self._metric_rows(run_id, metrics)
        param_items = [v.validate_param(*((p.key, p.value) if hasattr(p, "key") else p)) for p in params]
        keys = [k for k, _ in param_items]
        if len(set(keys)) != len(keys):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            raise InvalidParameterError(f"Duplicate parameter keys in one batch: {dup}")
        tag_items = [v.validate_tag(*((t.key, t.value) if hasattr(t, "key") else t)) for t in tags]
        with self._write() as conn:
            eid = self._check_active(conn, run_id).experiment_id
            self._write_params(conn, run_id, param_items)
            self._write_metrics(conn, eid, rows)
            self._write_tags(conn, run_id, tag_items)

    def get_metric_history(self, run_id: str, metric_key: str, max_results: int | None = None,
                           page_token: str | None = None) -> PagedList:
        v.validate_run_id(run_id)
        if max_results is not None:
            check_max_results(max_results, 10 ** 9, "get_metric_history")
        m, lmm = s.metrics, s.logged_model_metrics
        offset = decode_page_token(page_token)
        # which logged model a point belongs to is recorded (as in MLflow) in logged_model_metrics
        model_of = (select(lmm.c.model_id).where(lmm.c.run_id == m.c.run_uuid, lmm.c.metric_name == m.c.key,
                                                  lmm.c.metric_timestamp_ms == m.c.timestamp,
                                                  lmm.c.metric_step == m.c.step)
                    .limit(1).scalar_subquery().label("model_id"))
        stmt = (select(m.c.key, m.c.value, m.c.timestamp, m.c.step, m.c.is_nan, model_of)
                .where(m.c.run_uuid == run_id, m.c.key == metric_key)
                .order_by(m.c.step, m.c.timestamp, m.c.value).offset(offset))
        if max_results is not None:
            stmt = stmt.limit(max_results + 1)
        with self._read() as conn:
            self._run_row(conn, run_id)
            rows = conn.execute(stmt).all()
        token = None
        if max_results is not None and len(rows) > max_results:
            rows = rows[:max_results]
            token = encode_page_token(offset + max_results)
        return PagedList([Metric(r.key, math.nan if r.is_nan else r.value, r.timestamp, r.step, run_id, r.model_id)
                          for r in rows], token)

    # -- search ---------------------------------------------------------------------------------------------
    _RUN_ATTRS = ("run_id", "run_name", "status", "user_id", "artifact_uri", "lifecycle_stage", "start_time",
                  "end_time", "created")

    def _run_attr(self, key: str) -> Any:
        r = s.runs
        columns = {"run_id": r.c.run_uuid, "run_name": r.c.name, "status": r.c.status, "user_id": r.c.user_id,
                   "artifact_uri": r.c.artifact_uri, "lifecycle_stage": r.c.lifecycle_stage,
                   "start_time": r.c.start_time, "created": r.c.start_time, "end_time": r.c.end_time,
                   "experiment_id": r.c.experiment_id}
        key = {"run name": "run_name", "run_uuid": "run_id"}.get(key, key)
        if key not in columns:
            raise InvalidParameterError(f"Invalid attribute key {key!r} specified. Valid keys are "
                                        f"{sorted(k for k in columns if k != 'experiment_id')}")
        return key, columns[key]

    def _run_clause(self, c: Clause) -> Any:
        r = s.runs
        if c.entity == "metric":
            lm = s.latest_metrics
            if c.op in ("IS NULL", "IS NOT NULL"):
                found = exists().where(lm.c.run_uuid == r.c.run_uuid, lm.c.key == c.key)
                return ~found if c.op == "IS NULL" else found
            cond = self._compare(lm.c.value, c.op, c.value, ("=", "!=", "<", "<=", ">", ">="), c, number=True)
            return exists().where(lm.c.run_uuid == r.c.run_uuid, lm.c.key == c.key, lm.c.is_nan == False,  # noqa: E712
                                  cond)
        if c.entity in ("param", "tag"):
            table = s.params if c.entity == "param" else s.tags
            if c.op in ("IS NULL", "IS NOT NULL") and self.dialect == "sqlite":
                # SQLite: one set of the runs having the key, built once, instead of a probe of the child
                # table per run (half the time over 100,000 runs; run_uuid is never NULL there, so NOT IN
                # means what NOT EXISTS means)
                having = r.c.run_uuid.in_(select(table.c.run_uuid).where(table.c.key == c.key))
                return ~having if c.op == "IS NULL" else having
            return self._kv_condition(table, table.c.run_uuid == r.c.run_uuid, c)
        if c.entity == "dataset":
            return self._dataset_condition(c)
        key, col = self._run_attr(c.key)
        if key in ("start_time", "end_time", "created"):
            return self._compare(col, c.op, c.value, ("=", "!=", "<", "<=", ">", ">="), c, number=True)
        return self._compare(col, c.op, c.value, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), c, string=True)

    def _dataset_condition(self, c: Clause) -> Any:
        """``datasets.name|digest|context``: EXISTS a dataset input of the run that matches (MLflow's rule)."""
        i, d, it = s.inputs, s.datasets, s.input_tags
        allowed = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
        of_run = and_(i.c.destination_type == "RUN", i.c.destination_id == s.runs.c.run_uuid,
                      i.c.source_type == "DATASET")
        if c.key in ("name", "digest"):
            cond = self._compare(d.c[c.key], c.op, c.value, allowed, c, string=True)
            return exists().where(of_run, d.c.dataset_uuid == i.c.source_id, cond)
        if c.key == "context":
            cond = self._compare(it.c.value, c.op, c.value, allowed, c, string=True)
            return exists().where(of_run, it.c.input_uuid == i.c.input_uuid, it.c.name == DATASET_CONTEXT_TAG, cond)
        raise InvalidParameterError(f"Invalid dataset key {c.key!r} specified. Valid keys are 'name', 'digest' "
                                    "and 'context'")

    def search_runs(self, experiment_ids: Sequence[str | int], filter_string: str | None = None,
                    run_view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                    order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        """Runs matching an MLflow filter, ordered and paged in SQL.

        Missing values sort last; ``start_time DESC`` then ``run_id ASC`` break ties.
        """
        # SQLite, default order: the conditions on metrics, params, tags and datasets are tested on the runs
        # in order until the page is full, not on every run before sorting (see SqlBase._runs_page)
        return self.search_runs_and_points(experiment_ids, filter_string, run_view_type, max_results, order_by,
                                           page_token)[0]

    def search_runs_and_points(self, experiment_ids: Sequence[str | int], filter_string: str | None = None,
                               run_view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                               order_by: list[str] | None = None, page_token: str | None = None
                               ) -> tuple[PagedList, dict[str, dict[str, tuple[int, int]]]]:
        """:meth:`search_runs`, with ``{run_id: {key: (timestamp, step)}}`` of the page's latest metrics (what
        ``runs/search`` answers with), read in the same snapshot as the page."""
        late: list[Any] | None = [] if self.dialect == "sqlite" and not order_by else None
        stmt = self._search_runs_stmt(experiment_ids, filter_string, run_view_type, max_results, order_by, late=late)
        points: dict[str, dict[str, tuple[int, int]]] = {}
        page = self._runs_page(stmt, not order_by, page_token, max_results,
                               lambda conn, rows: self._runs_from_ids(conn, [row[0] for row in rows], points),
                               late=late)
        return page, points

    def _search_runs_stmt(self, experiment_ids: Sequence[str | int], filter_string: str | None,
                          run_view_type: Any, max_results: int, order_by: list[str] | None,
                          late: list[Any] | None = None) -> Any:
        """The filtered, ordered ``SELECT run_uuid`` behind :meth:`search_runs` (not yet paged). With ``late``
        (a list), the conditions on a run's metrics, params, tags and datasets go there instead."""
        view = ViewType.from_any(run_view_type)
        check_max_results(max_results, SEARCH_RUNS_MAX, "search_runs")
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [experiment_ids]
        ids = [experiment_id_of(e) for e in experiment_ids]
        r = s.runs
        conds = [r.c.experiment_id.in_(ids), self._lifecycle(r.c.lifecycle_stage, view)]
        for c in parse_filter(filter_string):
            (late if late is not None and c.entity in ("metric", "param", "tag", "dataset") else conds).append(
                self._run_clause(c))
        stmt = select(r.c.run_uuid)
        order: list[Any] = []
        seen_start = False
        for n, key in enumerate(parse_order_by(order_by)):
            if key.entity == "metric":
                lm = s.latest_metrics.alias(f"om{n}")
                stmt = stmt.outerjoin(lm, and_(lm.c.run_uuid == r.c.run_uuid, lm.c.key == key.key))
                col = case((lm.c.is_nan == True, None), else_=lm.c.value)  # noqa: E712 - NaN sorts last
            elif key.entity in ("param", "tag"):
                table = (s.params if key.entity == "param" else s.tags).alias(f"o{key.entity}{n}")
                stmt = stmt.outerjoin(table, and_(table.c.run_uuid == r.c.run_uuid, table.c.key == key.key))
                col = table.c.value
            else:
                name, col = self._run_attr(key.key)
                seen_start = seen_start or name in ("start_time", "created")
            order.append(case((col.is_(None), 1), else_=0))
            order.append(col.asc() if key.ascending else col.desc())
        if not seen_start:
            order.append(r.c.start_time.desc())
        order.append(r.c.run_uuid.asc())
        return stmt.where(*conds).order_by(*order)

    # ======================================================================================================
    # logged models (MLflow 3.x) and run outputs
    # ======================================================================================================
    def create_logged_model(self, experiment_id: str | int, name: str | None = None,
                            source_run_id: str | None = None, tags: dict[str, Any] | None = None,
                            params: dict[str, Any] | None = None, model_type: str | None = None) -> LoggedModel:
        eid = experiment_id_of(experiment_id)
        if name is not None:
            v.validate_key(name, "model name")
        name = name or random_run_name()
        tag_items = [v.validate_tag(k, val) for k, val in (tags or {}).items()]
        param_items = [v.validate_param(k, val) for k, val in (params or {}).items()]
        model_id = f"m-{uuid.uuid4().hex}"
        now = now_ms()
        with self._write() as conn:
            exp = self._experiment_row(conn, eid)
            if exp.lifecycle_stage != _ACTIVE:
                raise InvalidParameterError(f"The experiment {eid} must be in the 'active' state")
            if source_run_id is not None:
                self._check_active(conn, source_run_id)
            location = f"{exp.artifact_location.rstrip('/')}/models/{model_id}/artifacts"
            conn.execute(s.logged_models.insert().values(
                model_id=model_id, experiment_id=eid, name=name, artifact_location=location,
                creation_timestamp_ms=now, last_updated_timestamp_ms=now,
                status=s.LOGGED_MODEL_STATUS_TO_INT["LOGGED_MODEL_PENDING"], lifecycle_stage=_ACTIVE,
                model_type=model_type, source_run_id=source_run_id))
            if tag_items:
                conn.execute(s.logged_model_tags.insert(), [{"model_id": model_id, "experiment_id": eid, "tag_key": k,
                                                             "tag_value": val} for k, val in tag_items])
            if param_items:
                conn.execute(s.logged_model_params.insert(),
                             [{"model_id": model_id, "experiment_id": eid, "param_key": k, "param_value": val}
                              for k, val in param_items])
        return LoggedModel(model_id=model_id, experiment_id=str(eid), name=name, artifact_location=location,
                           creation_timestamp=now, last_updated_timestamp=now, status="LOGGED_MODEL_PENDING",
                           source_run_id=source_run_id, model_type=model_type, tags=dict(tag_items),
                           params=dict(param_items))

    def _logged_models_from_rows(self, conn: Any, rows: Sequence[Any]) -> list[LoggedModel]:
        ids = [r.model_id for r in rows]
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        if ids:
            for t in conn.execute(s.logged_model_tags.select().where(s.logged_model_tags.c.model_id.in_(ids))):
                tags[t.model_id][t.tag_key] = t.tag_value
            for p in conn.execute(s.logged_model_params.select().where(s.logged_model_params.c.model_id.in_(ids))):
                params[p.model_id][p.param_key] = p.param_value
        return [LoggedModel(model_id=r.model_id, experiment_id=str(r.experiment_id), name=r.name,
                            artifact_location=r.artifact_location, creation_timestamp=r.creation_timestamp_ms,
                            last_updated_timestamp=r.last_updated_timestamp_ms,
                            status=s.LOGGED_MODEL_STATUS_FROM_INT.get(r.status, "LOGGED_MODEL_STATUS_UNSPECIFIED"),
                            source_run_id=r.source_run_id, model_type=r.model_type, status_message=r.status_message,
                            tags=tags[r.model_id], params=params[r.model_id]) for r in rows]

    def get_logged_model(self, model_id: str) -> LoggedModel:
        with self._read() as conn:
            row = conn.execute(s.logged_models.select().where(s.logged_models.c.model_id == model_id,
                                                              s.logged_models.c.lifecycle_stage == _ACTIVE)).first()
            if row is None:
                raise ResourceNotFoundError(f"Logged model with ID '{model_id}' not found")
            return self._logged_models_from_rows(conn, [row])[0]

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        if status not in ("LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED", "LOGGED_MODEL_PENDING"):
            raise InvalidParameterError(f"Invalid logged model status {status!r}")
        with self._write() as conn:
            done = conn.execute(update(s.logged_models).where(s.logged_models.c.model_id == model_id)
                                .values(status=s.LOGGED_MODEL_STATUS_TO_INT[status],
                                        last_updated_timestamp_ms=now_ms())).rowcount
            if not done:
                raise ResourceNotFoundError(f"Logged model with ID '{model_id}' not found")
        return self.get_logged_model(model_id)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        items = [v.validate_tag(k, val) for k, val in tags.items()]
        with self._write() as conn:
            eid = conn.execute(select(s.logged_models.c.experiment_id)
                               .where(s.logged_models.c.model_id == model_id)).scalar()
            if eid is None:
                raise ResourceNotFoundError(f"Logged model with ID '{model_id}' not found")
            if items:
                conn.execute(self._upsert_tag_stmt(s.logged_model_tags, ("model_id", "tag_key"), value="tag_value"),
                             [{"model_id": model_id, "experiment_id": eid, "tag_key": k, "tag_value": val}
                              for k, val in items])

    def delete_logged_model(self, model_id: str) -> None:
        with self._write() as conn:
            done = conn.execute(update(s.logged_models).where(s.logged_models.c.model_id == model_id)
                                .values(lifecycle_stage=_DELETED, last_updated_timestamp_ms=now_ms())).rowcount
            if not done:
                raise ResourceNotFoundError(f"Logged model with ID '{model_id}' not found")

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self._write() as conn:
            if conn.execute(select(s.logged_models.c.model_id).where(s.logged_models.c.model_id == model_id)).first() \
                    is None:
                raise ResourceNotFoundError(f"Logged model with ID '{model_id}' not found")
            t = s.logged_model_tags
            conn.execute(t.delete().where(t.c.model_id == model_id, t.c.tag_key == key))

    def search_logged_models(self, experiment_ids: Sequence[str | int], filter_string: str | None = None,
                             max_results: int = 50, order_by: Sequence[Any] | None = None,
                             page_token: str | None = None) -> PagedList:
        """Logged models of the experiments matching a filter on attributes, ``params.`` and ``tags.``.

        ``order_by`` items are strings (``"creation_timestamp DESC"``) or MLflow's dicts
        (``{"field_name": ..., "ascending": ...}``).
        """
        check_max_results(max_results, SEARCH_RUNS_MAX, "search_logged_models")
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [experiment_ids]
        ids = [experiment_id_of(e) for e in experiment_ids]
        if not ids:
            raise InvalidParameterError("search_logged_models needs at least one experiment id")
        lmt = s.logged_models
        columns = {"name": lmt.c.name, "model_id": lmt.c.model_id, "model_type": lmt.c.model_type,
                   "status": lmt.c.status, "source_run_id": lmt.c.source_run_id,
                   "creation_timestamp": lmt.c.creation_timestamp_ms, "creation_time": lmt.c.creation_timestamp_ms,
                   "last_updated_timestamp": lmt.c.last_updated_timestamp_ms,
                   "last_updated_time": lmt.c.last_updated_timestamp_ms}
        numeric = {"creation_timestamp", "creation_time", "last_updated_timestamp", "last_updated_time"}
        conds = [lmt.c.experiment_id.in_(ids), lmt.c.lifecycle_stage == _ACTIVE]
        for c in parse_filter(filter_string):
            if c.entity == "tag":
                conds.append(self._kv_condition(s.logged_model_tags, s.logged_model_tags.c.model_id == lmt.c.model_id, c,
                                                key="tag_key", value="tag_value"))
            elif c.entity == "param":
                conds.append(self._kv_condition(s.logged_model_params,
                                                s.logged_model_params.c.model_id == lmt.c.model_id, c,
                                                key="param_key", value="param_value"))
            elif c.entity == "metric":
                raise InvalidParameterError("Filtering logged models on metrics is not supported by this store")
            elif c.key == "status" and c.entity == "attribute":
                # stored as MLflow's enum number; filtered by name
                def code(x: Any) -> Any:
                    return s.LOGGED_MODEL_STATUS_TO_INT.get(x, -1) if isinstance(x, str) else x
                value = [code(x) for x in c.value] if isinstance(c.value, list) else code(c.value)
                conds.append(self._compare(lmt.c.status, c.op, value, ("=", "!=", "IN", "NOT IN"), c))
            else:
                col = self._attr_column(c.entity, c.key, columns, "logged models")
                if c.key in numeric:
                    conds.append(self._compare(col, c.op, c.value, ("=", "!=", "<", "<=", ">", ">="), c, number=True))
                else:
                    conds.append(self._compare(col, c.op, c.value, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), c,
                                               string=True))
        items = [f"{o['field_name']} {'ASC' if o.get('ascending', True) else 'DESC'}" if isinstance(o, dict) else o
                 for o in (order_by or [])]
        order = self._sort_terms(parse_order_by(items), columns, "logged models (order_by)")
        order += [lmt.c.creation_timestamp_ms.desc(), lmt.c.model_id.asc()]
        return self._page(lmt.select().where(*conds).order_by(*order), page_token, max_results,
                          self._logged_models_from_rows)

    def find_logged_models(self, source_run_id: str, name: str | None = None) -> list[LoggedModel]:
        """The active logged models of a run (optionally of one name), newest output step first."""
        lmt, o = s.logged_models, s.inputs
        stmt = (select(lmt).outerjoin(o, and_(o.c.source_type == "RUN_OUTPUT", o.c.source_id == source_run_id,
                                              o.c.destination_type == "MODEL_OUTPUT",
                                              o.c.destination_id == lmt.c.model_id))
                .where(lmt.c.source_run_id == source_run_id, lmt.c.lifecycle_stage == _ACTIVE)
                .order_by(func.coalesce(o.c.step, -1).desc(), lmt.c.creation_timestamp_ms.desc()))
        if name is not None:
            stmt = stmt.where(lmt.c.name == name)
        with self._read() as conn:
            return self._logged_models_from_rows(conn, conn.execute(stmt).all())

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        """Record logged models a run produced (MLflow's RUN_OUTPUT -> MODEL_OUTPUT edges); again = no-op."""
        i = s.inputs
        with self._write() as conn:
            self._check_active(conn, run_id)
            rows = [{"input_uuid": uuid.uuid4().hex, "source_type": "RUN_OUTPUT", "source_id": run_id,
                     "destination_type": "MODEL_OUTPUT", "destination_id": m.model_id, "step": m.step or 0}
                    for m in {m.model_id: m for m in models}.values()]
            if rows:
                conn.execute(self._insert_ignore(i), rows)

    def log_inputs(self, run_id: str, datasets: Sequence[Any] | None = None,
                   models: Sequence[Any] | None = None) -> None:
        """Record datasets (and logged models) used by a run, in one transaction.

        A dataset is stored once per experiment, keyed by ``(name, digest)``: the first record is kept and
        later inputs of the same name and digest link to it. Logging the same dataset on the same run again
        changes nothing (the input keeps its first tags), as in MLflow. Everything is validated before the
        first write.

        Example:
            >>> store.log_inputs(run_id, datasets=[DatasetInput(Dataset("iris", "ab12cd34", "code", "{}"),
            ...                                                  [InputTag("mlflow.data.context", "train")])])
            ... # doctest: +SKIP
        """
        v.validate_run_id(run_id)
        items = v.validate_dataset_inputs(datasets)
        model_ids = []
        for m in models or []:
            model_id = m if isinstance(m, str) else (m.get("model_id") if isinstance(m, dict)
                                                     else getattr(m, "model_id", None))
            if not isinstance(model_id, str) or not model_id or len(model_id) > 36:
                raise InvalidParameterError(f"Invalid model input {m!r}: expected a logged model id")
            model_ids.append(model_id)
        unique: dict[tuple[str, str], DatasetInput] = {}
        for item in items:  # within one call the first of a (name, digest) wins, as in MLflow
            unique.setdefault((item.dataset.name, item.dataset.digest), item)
        if not unique and not model_ids:
            with self._read() as conn:
                self._check_active(conn, run_id)
            return
        ds, inp, it = s.datasets, s.inputs, s.input_tags
        with self._write() as conn:
            eid = self._check_active(conn, run_id).experiment_id
            if unique:
                self._write_dataset_inputs(conn, eid, run_id, list(unique.values()))
            if model_ids:
                known = set(conn.execute(select(s.logged_models.c.model_id).where(
                    s.logged_models.c.model_id.in_(model_ids))).scalars())
                missing = [m for m in model_ids if m not in known]
                if missing:
                    raise ResourceNotFoundError(f"Logged model with ID '{missing[0]}' not found")
                conn.execute(self._insert_ignore(inp),
                    [{"input_uuid": uuid.uuid4().hex, "source_type": "RUN_INPUT", "source_id": run_id,
                      "destination_type": "MODEL_INPUT", "destination_id": m, "step": 0}
                     for m in dict.fromkeys(model_ids)])

    def latest_metric_points(self, run_ids: Sequence[str]) -> dict[str, dict[str, Metric]]:
        """The latest point (value, timestamp, step) of every metric of each run, as ``{run_id: {key: Metric}}``
        (what ``runs/get`` and ``runs/search`` answer with; ``Run.data.metrics`` keeps only the values)."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, dict[str, Metric]] = {i: {} for i in ids}
        if not ids:
            return out
        lm = s.latest_metrics
        with self._read() as conn:
            for r in conn.execute(select(lm.c.run_uuid, lm.c.key, lm.c.value, lm.c.is_nan, lm.c.timestamp, lm.c.step)
                                  .where(lm.c.run_uuid.in_(ids))).all():
                out[r.run_uuid][r.key] = Metric(r.key, math.nan if r.is_nan else r.value, r.timestamp or 0,
                                                r.step or 0, r.run_uuid)
        return out

    def log_logged_model_params(self, model_id: str, params: dict[str, Any]) -> None:
        """Add params to a logged model (a key logged again keeps its first value, as MLflow's store does)."""
        items = [v.validate_param(k, val) for k, val in params.items()]
        with self._write() as conn:
            eid = conn.execute(select(s.logged_models.c.experiment_id)
                               .where(s.logged_models.c.model_id == model_id)).scalar()
            if eid is None:
                raise ResourceNotFoundError(f"Logged model with ID '{model_id}' not found")
            if items:
                conn.execute(self._insert_ignore(s.logged_model_params),
                             [{"model_id": model_id, "experiment_id": eid, "param_key": k, "param_value": val}
                              for k, val in items])

    def _write_dataset_inputs(self, conn: Any, eid: int, run_id: str, items: list[DatasetInput]) -> None:
        """Link datasets (unique by name and digest) to a run inside a write transaction (also the importer's)."""
        ds, inp, it = s.datasets, s.inputs, s.input_tags
        unique = {(x.dataset.name, x.dataset.digest): x for x in reversed(items)}
        # ON CONFLICT DO NOTHING: a concurrent writer of the same dataset wins, we reuse its row
        conn.execute(self._insert_ignore(ds),
            [{"dataset_uuid": uuid.uuid4().hex, "experiment_id": eid, "name": d.name, "digest": d.digest,
              "dataset_source_type": d.source_type, "dataset_source": d.source, "dataset_schema": d.schema,
              "dataset_profile": d.profile} for d in (x.dataset for x in unique.values())])
        found = conn.execute(select(ds.c.name, ds.c.digest, ds.c.dataset_uuid).where(
            ds.c.experiment_id == eid, ds.c.name.in_({k[0] for k in unique}),
            ds.c.digest.in_({k[1] for k in unique}))).all()
        uuids = {(r.name, r.digest): r.dataset_uuid for r in found if (r.name, r.digest) in unique}
        wanted = {uuids[k]: (uuid.uuid4().hex, unique[k]) for k in unique}
        conn.execute(self._insert_ignore(inp),
            [{"input_uuid": new_id, "source_type": "DATASET", "source_id": dataset_uuid,
              "destination_type": "RUN", "destination_id": run_id, "step": 0}
             for dataset_uuid, (new_id, _) in wanted.items()])
        stored = dict(conn.execute(select(inp.c.source_id, inp.c.input_uuid).where(
            inp.c.source_type == "DATASET", inp.c.source_id.in_(list(wanted)),
            inp.c.destination_type == "RUN", inp.c.destination_id == run_id)).all())
        # tags only for the inputs this call created: an input logged before keeps its tags
        tag_rows = [{"input_uuid": new_id, "name": tag.key, "value": tag.value}
                    for dataset_uuid, (new_id, item) in wanted.items() if stored.get(dataset_uuid) == new_id
                    for tag in item.tags]
        if tag_rows:
            conn.execute(it.insert(), tag_rows)

    def record_logged_model(self, run_id: str, model_json: str) -> None:
        """Append one model description to the run's ``mlflow.log-model.history`` tag (JSON list)."""
        import json

        with self._write() as conn:
            self._check_active(conn, run_id)
            t = s.tags
            current = conn.execute(select(t.c.value).where(t.c.run_uuid == run_id, t.c.key == LOGGED_MODELS_TAG)) \
                .scalar()
            history = json.loads(current) if current else []
            history.append(json.loads(model_json))
            conn.execute(self._upsert_tag_stmt(s.tags, ("run_uuid", "key")),
                         {"run_uuid": run_id, "key": LOGGED_MODELS_TAG, "value": json.dumps(history)})


