"""The SQL store: tracking, logged models and the model registry in one database (SQLite or PostgreSQL).

One implementation for every SQLAlchemy backend. Each public method is one transaction: it validates
everything first, then writes, so a call that fails leaves nothing behind. Filters of the searches are
compiled to SQL (see ``_where_*``); only the page of results is loaded into Python.

Example:
    >>> store = SqlStore("sqlite:///:memory:")  # doctest: +SKIP
    >>> store.create_experiment("churn")  # doctest: +SKIP
    '1'
"""

from __future__ import annotations

import getpass
import math
import posixpath
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import unquote

from sqlalchemy import and_, case, exists, func, literal, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from tureen.exceptions import (
    InvalidParameterError,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
    StoreUnavailableError,
    TureenError,
)
from tureen.registry.entities import (
    STAGES,
    AliasHistoryEntry,
    ModelVersion,
    ModelVersionStatus,
    RegisteredModel,
)
from tureen.tracking import _validation as v
from tureen.tracking._config import default_artifact_root
from tureen.tracking._filter import Clause, decode_page_token, encode_page_token, parse_filter, parse_order_by
from tureen.tracking._names import random_run_name
from tureen.tracking.entities import (
    Experiment,
    LifecycleStage,
    LoggedModel,
    LoggedModelOutput,
    Metric,
    PagedList,
    Run,
    RunData,
    RunInfo,
    RunOutputs,
    RunStatus,
    ViewType,
)
from tureen.tracking.stores import _schema as s
from tureen.tracking.stores._engine import make_engine, masked
from tureen.tracking.stores._migrate import ensure_schema, migrate

__all__ = ["SqlStore", "upgrade_database", "RUN_NAME_TAG", "LOGGED_MODELS_TAG"]

RUN_NAME_TAG = "mlflow.runName"
LOGGED_MODELS_TAG = "mlflow.log-model.history"
_ACTIVE = LifecycleStage.ACTIVE
_DELETED = LifecycleStage.DELETED

SEARCH_RUNS_MAX = 50000
SEARCH_EXPERIMENTS_MAX = 50000
SEARCH_MODELS_MAX = 1000
SEARCH_VERSIONS_MAX = 200000


def _now() -> int:
    return int(time.time() * 1000)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def _to_uri(location: str) -> str:
    """A local path becomes a ``file://`` URI; URIs are kept as they are."""
    if "://" in location or location.startswith(("file:", "mlflow-artifacts:")):
        return location
    return Path(location).expanduser().absolute().as_uri()


def _experiment_id(experiment_id: Any) -> int:
    if isinstance(experiment_id, bool):
        raise InvalidParameterError(f"Invalid experiment id {experiment_id!r}")
    try:
        return int(str(experiment_id).strip())
    except (TypeError, ValueError):
        raise InvalidParameterError(f"Invalid experiment id {experiment_id!r}: experiment ids of this store are "
                                    "integers (as strings, e.g. '1')") from None


def _check_max_results(max_results: Any, limit: int, what: str) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterError(f"Invalid value {max_results!r} for parameter 'max_results' of {what}: it "
                                    "must be a positive integer")
    if max_results > limit:
        raise InvalidParameterError(f"Invalid value {max_results} for parameter 'max_results' of {what}: it must "
                                    f"be at most {limit}")
    return max_results


class SqlStore:
    """Tracking + logged models + registry on one SQLAlchemy database.

    Args:
        uri: ``sqlite:///path.db``, ``sqlite:///:memory:``, ``postgresql://user:pw@host:port/db`` …
        artifact_root: where new experiments put artifacts (default: see
            :func:`tureen.tracking._config.default_artifact_root`).

    Raises:
        StoreUnavailableError: the database cannot be reached (after the connect timeout).
        InvalidStateError: the database has a schema tureen cannot use (newer, or not tureen's).
    """

    def __init__(self, uri: str, artifact_root: str | None = None) -> None:
        self.uri = uri
        self.artifact_root = _to_uri(artifact_root or default_artifact_root(uri))
        self._engine = make_engine(uri)
        self._write_engine = self._engine.execution_options(tureen_write=True)
        self.dialect = self._engine.dialect.name
        with self._translate_errors():
            ensure_schema(self._engine, masked(uri), default_artifact_location=self._default_location)
        self._build_statements()

    # -- plumbing ------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._engine.dispose()

    def _default_location(self, experiment_id: int) -> str:
        return f"{self.artifact_root.rstrip('/')}/{experiment_id}"

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except TureenError:
            raise
        except IntegrityError as exc:
            raise InvalidParameterError(f"The write conflicts with existing data: {exc.orig}") from None
        except (OperationalError, DBAPIError) as exc:
            lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            reason = lines[0] if lines else type(exc).__name__
            if "not a database" in reason:
                raise InvalidParameterError(f"The file of {masked(self.uri)} is not a SQLite database "
                                            f"({reason})") from None
            raise StoreUnavailableError(f"The tracking database {masked(self.uri)} is unavailable: {reason}") \
                from None

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._translate_errors(), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self._translate_errors(), self._write_engine.begin() as conn:
            yield conn

    def _build_statements(self) -> None:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert_insert
        self._upsert = upsert_insert
        lm = s.latest_metrics
        ins = upsert_insert(lm)
        ex = ins.excluded
        newer = or_(ex.step > lm.c.step,
                    and_(ex.step == lm.c.step,
                         or_(ex.timestamp > lm.c.timestamp,
                             and_(ex.timestamp == lm.c.timestamp, ex.value > lm.c.value))))
        self._upsert_latest = ins.on_conflict_do_update(
            index_elements=[lm.c.run_uuid, lm.c.key],
            set_={"value": ex.value, "timestamp": ex.timestamp, "step": ex.step, "is_nan": ex.is_nan},
            where=newer)
        self._insert_metric = s.metrics.insert()
        self._insert_param = upsert_insert(s.params).on_conflict_do_nothing(
            index_elements=[s.params.c.run_uuid, s.params.c.key])

    def _upsert_tag_stmt(self, table: Any, keys: Sequence[str]) -> Any:
        ins = self._upsert(table)
        return ins.on_conflict_do_update(index_elements=[table.c[k] for k in keys],
                                         set_={"value": ins.excluded.value})

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
        now = _now()
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
                        name=name, artifact_location=_to_uri(artifact_location) if artifact_location else "",
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
        eid = _experiment_id(experiment_id)
        with self._read() as conn:
            return self._experiments_from_rows(conn, [self._experiment_row(conn, eid)])[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._read() as conn:
            row = conn.execute(s.experiments.select().where(s.experiments.c.name == name)).first()
            return None if row is None else self._experiments_from_rows(conn, [row])[0]

    def delete_experiment(self, experiment_id: str | int) -> None:
        eid = _experiment_id(experiment_id)
        now = _now()
        with self._write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage == _DELETED:
                raise InvalidParameterError(f"Experiment {eid} is already deleted")
            conn.execute(update(s.experiments).where(s.experiments.c.experiment_id == eid)
                         .values(lifecycle_stage=_DELETED, last_update_time=now, deleted_time=now))
            # its active runs go with it; restoring the experiment brings back exactly these
            conn.execute(update(s.runs).where(s.runs.c.experiment_id == eid, s.runs.c.lifecycle_stage == _ACTIVE)
                         .values(lifecycle_stage=_DELETED, deleted_time=now))

    def restore_experiment(self, experiment_id: str | int) -> None:
        eid = _experiment_id(experiment_id)
        with self._write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != _DELETED:
                raise InvalidParameterError(f"Cannot restore experiment {eid}: it is not deleted")
            conn.execute(update(s.experiments).where(s.experiments.c.experiment_id == eid)
                         .values(lifecycle_stage=_ACTIVE, last_update_time=_now(), deleted_time=None))
            conn.execute(update(s.runs).where(s.runs.c.experiment_id == eid, s.runs.c.lifecycle_stage == _DELETED,
                                              s.runs.c.deleted_time == row.deleted_time)
                         .values(lifecycle_stage=_ACTIVE, deleted_time=None))

    def rename_experiment(self, experiment_id: str | int, new_name: str) -> None:
        eid = _experiment_id(experiment_id)
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
                         .values(name=new_name, last_update_time=_now()))

    def set_experiment_tag(self, experiment_id: str | int, key: str, value: Any) -> None:
        eid = _experiment_id(experiment_id)
        key, value = v.validate_experiment_tag(key, value)
        with self._write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != _ACTIVE:
                raise InvalidParameterError(f"The experiment {eid} must be in the 'active' state")
            conn.execute(self._upsert_tag_stmt(s.experiment_tags, ("experiment_id", "key")),
                         {"experiment_id": eid, "key": key, "value": value})

    def delete_experiment_tag(self, experiment_id: str | int, key: str) -> None:
        eid = _experiment_id(experiment_id)
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
        _check_max_results(max_results, SEARCH_EXPERIMENTS_MAX, "search_experiments")
        e = s.experiments
        conds = [self._lifecycle(e.c.lifecycle_stage, view)]
        for c in parse_filter(filter_string):
            conds.append(self._experiment_clause(c))
        order: list[Any] = []
        keys = parse_order_by(order_by)
        for key in keys:
            col = self._attr_column(key.entity, key.key, {"name": e.c.name, "experiment_id": e.c.experiment_id,
                                                           "creation_time": e.c.creation_time,
                                                           "last_update_time": e.c.last_update_time},
                                    "experiments")
            order.append(col.asc() if key.ascending else col.desc())
        if not any(k.key == "creation_time" for k in keys):
            order.append(e.c.creation_time.desc())
        order.append(e.c.experiment_id.asc())
        offset = decode_page_token(page_token)
        with self._read() as conn:
            rows = conn.execute(e.select().where(*conds).order_by(*order).offset(offset).limit(max_results + 1)).all()
            token = encode_page_token(offset + max_results) if len(rows) > max_results else None
            return PagedList(self._experiments_from_rows(conn, rows[:max_results]), token)

    def _experiment_clause(self, c: Clause) -> Any:
        e = s.experiments
        if c.entity == "tag":
            return self._kv_condition(s.experiment_tags, s.experiment_tags.c.experiment_id == e.c.experiment_id, c)
        col = self._attr_column(c.entity, c.key, {"name": e.c.name, "experiment_id": e.c.experiment_id,
                                                   "creation_time": e.c.creation_time,
                                                   "last_update_time": e.c.last_update_time}, "experiments")
        if c.key == "experiment_id":
            value = [_experiment_id(x) for x in c.value] if isinstance(c.value, list) else _experiment_id(c.value)
            return self._compare(col, c.op, value, ("=", "!=", "IN", "NOT IN"), c)
        if c.key == "name":
            return self._compare(col, c.op, c.value, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), c, string=True)
        return self._compare(col, c.op, c.value, ("=", "!=", "<", "<=", ">", ">="), c, number=True)

    # ======================================================================================================
    # search helpers shared by every search
    # ======================================================================================================
    @staticmethod
    def _lifecycle(column: Any, view: int) -> Any:
        if view == ViewType.ACTIVE_ONLY:
            return column == _ACTIVE
        if view == ViewType.DELETED_ONLY:
            return column == _DELETED
        return literal(True)

    @staticmethod
    def _attr_column(entity: str, key: str, columns: dict[str, Any], what: str) -> Any:
        if entity != "attribute" or key not in columns:
            shown = key if entity == "attribute" else f"{entity}s.{key}"
            raise InvalidParameterError(f"Invalid attribute key {shown!r} specified for searching {what}. Valid "
                                        f"keys are {sorted(columns)} and tags.<key>")
        return columns[key]

    @staticmethod
    def _compare(col: Any, op: str, value: Any, allowed: Sequence[str], clause: Clause, *, string: bool = False,
                 number: bool = False) -> Any:
        what = f"{clause.entity}s.{clause.key}" if clause.entity != "attribute" else clause.key
        if op not in allowed:
            raise InvalidParameterError(f"Invalid comparator {op!r} for {what}: use one of {', '.join(allowed)}")
        values = value if isinstance(value, list) else [value]
        for item in values:
            if string and not isinstance(item, str):
                raise InvalidParameterError(f"Invalid value {item!r} for {what}: expected a quoted string")
            if number and (isinstance(item, str) or isinstance(item, bool)):
                raise InvalidParameterError(f"Invalid value {item!r} for {what}: expected a number")
        if op == "=":
            return col == value
        if op == "!=":
            return col != value
        if op == "<":
            return col < value
        if op == "<=":
            return col <= value
        if op == ">":
            return col > value
        if op == ">=":
            return col >= value
        if op == "LIKE":
            return col.like(value)
        if op == "ILIKE":
            return col.ilike(value)
        if op == "IN":
            return col.in_(value)
        if op == "NOT IN":
            return col.not_in(value)
        raise InvalidParameterError(f"Invalid comparator {op!r} for {what}")  # pragma: no cover

    def _kv_condition(self, table: Any, join: Any, c: Clause) -> Any:
        """A condition on a key/value child table (params, tags): EXISTS a row with that key and value."""
        if c.op == "IS NULL":
            return ~exists().where(join, table.c.key == c.key)
        if c.op == "IS NOT NULL":
            return exists().where(join, table.c.key == c.key)
        cond = self._compare(table.c.value, c.op, c.value, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), c,
                             string=True)
        return exists().where(join, table.c.key == c.key, cond)

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
        eid = _experiment_id(experiment_id)
        v.validate_run_name(run_name)
        tag_map = dict(v.validate_tag(k, val) for k, val in (tags or {}).items())
        if run_name is not None and tag_map.get(RUN_NAME_TAG, run_name) != run_name:
            raise InvalidParameterError(f"Both run_name={run_name!r} and a {RUN_NAME_TAG!r} tag of "
                                        f"{tag_map[RUN_NAME_TAG]!r} were given; they must agree")
        name = run_name or tag_map.get(RUN_NAME_TAG) or random_run_name()
        tag_map[RUN_NAME_TAG] = name
        run_id = uuid.uuid4().hex
        start = _now() if start_time is None else int(start_time)
        user = user_id if user_id is not None else _user()
        with self._write() as conn:
            exp = self._experiment_row(conn, eid)
            if exp.lifecycle_stage != _ACTIVE:
                raise InvalidParameterError(f"The experiment {eid} must be in the 'active' state. Current state "
                                            f"is {exp.lifecycle_stage}.")
            artifact_uri = f"{exp.artifact_location.rstrip('/')}/{run_id}/artifacts"
            conn.execute(s.runs.insert().values(
                run_uuid=run_id, name=name, experiment_id=eid, user_id=user, status=RunStatus.RUNNING,
                start_time=start, end_time=None, artifact_uri=artifact_uri, lifecycle_stage=_ACTIVE))
            conn.execute(s.tags.insert(), [{"run_uuid": run_id, "key": k, "value": val} for k, val in tag_map.items()])
        info = RunInfo(run_id=run_id, experiment_id=str(eid), run_name=name, user_id=user,
                       status=RunStatus.RUNNING, start_time=start, end_time=None, artifact_uri=artifact_uri,
                       lifecycle_stage=_ACTIVE)
        return Run(info=info, data=RunData(tags=tag_map))

    def _runs_from_ids(self, conn: Any, run_ids: Sequence[str]) -> list[Run]:
        if not run_ids:
            return []
        ids = list(run_ids)
        # .all() fetches in one DBAPI call: iterating a result row by row costs several times more
        rows = {r.run_uuid: r for r in conn.execute(s.runs.select().where(s.runs.c.run_uuid.in_(ids))).all()}
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        outputs: dict[str, list[LoggedModelOutput]] = {i: [] for i in ids}
        for r in conn.execute(select(s.params.c.run_uuid, s.params.c.key, s.params.c.value)
                              .where(s.params.c.run_uuid.in_(ids))).all():
            params[r.run_uuid][r.key] = r.value
        for r in conn.execute(select(s.tags.c.run_uuid, s.tags.c.key, s.tags.c.value)
                              .where(s.tags.c.run_uuid.in_(ids))).all():
            tags[r.run_uuid][r.key] = r.value
        lm = s.latest_metrics
        for r in conn.execute(select(lm.c.run_uuid, lm.c.key, lm.c.value, lm.c.is_nan)
                              .where(lm.c.run_uuid.in_(ids))).all():
            metrics[r.run_uuid][r.key] = math.nan if r.is_nan else r.value
        o = s.run_model_outputs
        for r in conn.execute(select(o.c.run_uuid, o.c.model_id, o.c.step).where(o.c.run_uuid.in_(ids))
                              .order_by(o.c.step, o.c.model_id)).all():
            outputs[r.run_uuid].append(LoggedModelOutput(r.model_id, r.step))
        out = []
        for i in ids:
            row = rows.get(i)
            if row is None:
                continue
            info = RunInfo(run_id=row.run_uuid, experiment_id=str(row.experiment_id), run_name=row.name,
                           user_id=row.user_id, status=row.status, start_time=row.start_time, end_time=row.end_time,
                           artifact_uri=row.artifact_uri, lifecycle_stage=row.lifecycle_stage)
            out.append(Run(info=info, data=RunData(metrics=metrics[i], params=params[i], tags=tags[i]),
                           outputs=RunOutputs(outputs[i])))
        return out

    def get_run(self, run_id: str) -> Run:
        v.validate_run_id(run_id)
        with self._read() as conn:
            runs = self._runs_from_ids(conn, [run_id])
        if not runs:
            raise ResourceNotFoundError(f"Run with id={run_id} not found")
        return runs[0]

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
                         .values(lifecycle_stage=_DELETED, deleted_time=_now()))

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
        rows = self._metric_rows(run_id, [(key, value, _now() if timestamp is None else timestamp, step or 0,
                                           model_id)])
        with self._write() as conn:
            self._check_active(conn, run_id)
            conn.execute(self._insert_metric, rows)
            conn.execute(self._upsert_latest, [{k: r[k] for k in ("run_uuid", "key", "value", "timestamp", "step",
                                                                  "is_nan")} for r in rows])

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
            self._check_active(conn, run_id)
            self._write_params(conn, run_id, param_items)
            if rows:
                conn.execute(self._insert_metric, rows)
                conn.execute(self._upsert_latest, self._latest_rows(rows))
            self._write_tags(conn, run_id, tag_items)

    def get_metric_history(self, run_id: str, metric_key: str, max_results: int | None = None,
                           page_token: str | None = None) -> PagedList:
        v.validate_run_id(run_id)
        if max_results is not None:
            _check_max_results(max_results, 10 ** 9, "get_metric_history")
        m = s.metrics
        offset = decode_page_token(page_token)
        stmt = (select(m.c.key, m.c.value, m.c.timestamp, m.c.step, m.c.is_nan, m.c.model_id)
                .where(m.c.run_uuid == run_id, m.c.key == metric_key)
                .order_by(m.c.step, m.c.timestamp, m.c.id).offset(offset))
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
        if c.entity == "param":
            return self._kv_condition(s.params, s.params.c.run_uuid == r.c.run_uuid, c)
        if c.entity == "tag":
            return self._kv_condition(s.tags, s.tags.c.run_uuid == r.c.run_uuid, c)
        if c.entity == "dataset":
            raise InvalidParameterError(f"Filtering on datasets.{c.key} is not supported by this store")
        key, col = self._run_attr(c.key)
        if key in ("start_time", "end_time", "created"):
            return self._compare(col, c.op, c.value, ("=", "!=", "<", "<=", ">", ">="), c, number=True)
        return self._compare(col, c.op, c.value, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), c, string=True)

    def search_runs(self, experiment_ids: Sequence[str | int], filter_string: str | None = None,
                    run_view_type: Any = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                    order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        """Runs matching an MLflow filter, ordered and paged in SQL.

        Missing values sort last; ``start_time DESC`` then ``run_id ASC`` break ties.
        """
        view = ViewType.from_any(run_view_type)
        _check_max_results(max_results, SEARCH_RUNS_MAX, "search_runs")
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [experiment_ids]
        ids = [_experiment_id(e) for e in experiment_ids]
        r = s.runs
        conds = [r.c.experiment_id.in_(ids), self._lifecycle(r.c.lifecycle_stage, view)]
        conds.extend(self._run_clause(c) for c in parse_filter(filter_string))
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
        offset = decode_page_token(page_token)
        stmt = stmt.where(*conds).order_by(*order).offset(offset).limit(max_results + 1)
        with self._read() as conn:
            page = list(conn.execute(stmt).scalars().all())
            token = encode_page_token(offset + max_results) if len(page) > max_results else None
            return PagedList(self._runs_from_ids(conn, page[:max_results]), token)

    # ======================================================================================================
    # logged models (MLflow 3.x) and run outputs
    # ======================================================================================================
    def create_logged_model(self, experiment_id: str | int, name: str | None = None,
                            source_run_id: str | None = None, tags: dict[str, Any] | None = None,
                            params: dict[str, Any] | None = None, model_type: str | None = None) -> LoggedModel:
        eid = _experiment_id(experiment_id)
        if name is not None:
            v.validate_key(name, "model name")
        name = name or random_run_name()
        tag_items = [v.validate_tag(k, val) for k, val in (tags or {}).items()]
        param_items = [v.validate_param(k, val) for k, val in (params or {}).items()]
        model_id = f"m-{uuid.uuid4().hex}"
        now = _now()
        with self._write() as conn:
            exp = self._experiment_row(conn, eid)
            if exp.lifecycle_stage != _ACTIVE:
                raise InvalidParameterError(f"The experiment {eid} must be in the 'active' state")
            if source_run_id is not None:
                self._check_active(conn, source_run_id)
            location = f"{exp.artifact_location.rstrip('/')}/models/{model_id}/artifacts"
            conn.execute(s.logged_models.insert().values(
                model_id=model_id, experiment_id=eid, name=name, artifact_location=location,
                creation_timestamp_ms=now, last_updated_timestamp_ms=now, status="LOGGED_MODEL_PENDING",
                lifecycle_stage=_ACTIVE, model_type=model_type, source_run_id=source_run_id))
            if tag_items:
                conn.execute(s.logged_model_tags.insert(),
                             [{"model_id": model_id, "key": k, "value": val} for k, val in tag_items])
            if param_items:
                conn.execute(s.logged_model_params.insert(),
                             [{"model_id": model_id, "key": k, "value": val} for k, val in param_items])
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
                tags[t.model_id][t.key] = t.value
            for p in conn.execute(s.logged_model_params.select().where(s.logged_model_params.c.model_id.in_(ids))):
                params[p.model_id][p.key] = p.value
        return [LoggedModel(model_id=r.model_id, experiment_id=str(r.experiment_id), name=r.name,
                            artifact_location=r.artifact_location, creation_timestamp=r.creation_timestamp_ms,
                            last_updated_timestamp=r.last_updated_timestamp_ms, status=r.status,
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
                                .values(status=status, last_updated_timestamp_ms=_now())).rowcount
            if not done:
                raise ResourceNotFoundError(f"Logged model with ID '{model_id}' not found")
        return self.get_logged_model(model_id)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        items = [v.validate_tag(k, val) for k, val in tags.items()]
        with self._write() as conn:
            if conn.execute(select(s.logged_models.c.model_id).where(s.logged_models.c.model_id == model_id)).first() \
                    is None:
                raise ResourceNotFoundError(f"Logged model with ID '{model_id}' not found")
            if items:
                conn.execute(self._upsert_tag_stmt(s.logged_model_tags, ("model_id", "key")),
                             [{"model_id": model_id, "key": k, "value": val} for k, val in items])

    def delete_logged_model(self, model_id: str) -> None:
        with self._write() as conn:
            done = conn.execute(update(s.logged_models).where(s.logged_models.c.model_id == model_id)
                                .values(lifecycle_stage=_DELETED, last_updated_timestamp_ms=_now())).rowcount
            if not done:
                raise ResourceNotFoundError(f"Logged model with ID '{model_id}' not found")

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self._write() as conn:
            if conn.execute(select(s.logged_models.c.model_id).where(s.logged_models.c.model_id == model_id)).first() \
                    is None:
                raise ResourceNotFoundError(f"Logged model with ID '{model_id}' not found")
            t = s.logged_model_tags
            conn.execute(t.delete().where(t.c.model_id == model_id, t.c.key == key))

    def search_logged_models(self, experiment_ids: Sequence[str | int], filter_string: str | None = None,
                             max_results: int = 50, order_by: Sequence[Any] | None = None,
                             page_token: str | None = None) -> PagedList:
        """Logged models of the experiments matching a filter on attributes, ``params.`` and ``tags.``.

        ``order_by`` items are strings (``"creation_timestamp DESC"``) or MLflow's dicts
        (``{"field_name": ..., "ascending": ...}``).
        """
        _check_max_results(max_results, SEARCH_RUNS_MAX, "search_logged_models")
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [experiment_ids]
        ids = [_experiment_id(e) for e in experiment_ids]
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
                conds.append(self._kv_condition(s.logged_model_tags, s.logged_model_tags.c.model_id == lmt.c.model_id, c))
            elif c.entity == "param":
                conds.append(self._kv_condition(s.logged_model_params,
                                                s.logged_model_params.c.model_id == lmt.c.model_id, c))
            elif c.entity == "metric":
                raise InvalidParameterError("Filtering logged models on metrics is not supported by this store")
            else:
                col = self._attr_column(c.entity, c.key, columns, "logged models")
                if c.key in numeric:
                    conds.append(self._compare(col, c.op, c.value, ("=", "!=", "<", "<=", ">", ">="), c, number=True))
                else:
                    conds.append(self._compare(col, c.op, c.value, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), c,
                                               string=True))
        items = [f"{o['field_name']} {'ASC' if o.get('ascending', True) else 'DESC'}" if isinstance(o, dict) else o
                 for o in (order_by or [])]
        order = []
        for key in parse_order_by(items):
            col = self._attr_column(key.entity, key.key, columns, "logged models (order_by)")
            order.append(col.asc() if key.ascending else col.desc())
        order += [lmt.c.creation_timestamp_ms.desc(), lmt.c.model_id.asc()]
        offset = decode_page_token(page_token)
        with self._read() as conn:
            rows = conn.execute(lmt.select().where(*conds).order_by(*order).offset(offset).limit(max_results + 1)).all()
            token = encode_page_token(offset + max_results) if len(rows) > max_results else None
            return PagedList(self._logged_models_from_rows(conn, rows[:max_results]), token)

    def find_logged_models(self, source_run_id: str, name: str | None = None) -> list[LoggedModel]:
        """The active logged models of a run (optionally of one name), newest output step first."""
        lmt, o = s.logged_models, s.run_model_outputs
        stmt = (select(lmt).outerjoin(o, and_(o.c.model_id == lmt.c.model_id, o.c.run_uuid == source_run_id))
                .where(lmt.c.source_run_id == source_run_id, lmt.c.lifecycle_stage == _ACTIVE)
                .order_by(func.coalesce(o.c.step, -1).desc(), lmt.c.creation_timestamp_ms.desc()))
        if name is not None:
            stmt = stmt.where(lmt.c.name == name)
        with self._read() as conn:
            return self._logged_models_from_rows(conn, conn.execute(stmt).all())

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        with self._write() as conn:
            self._check_active(conn, run_id)
            for m in models:
                exists_row = conn.execute(select(s.run_model_outputs.c.run_uuid).where(
                    s.run_model_outputs.c.run_uuid == run_id, s.run_model_outputs.c.model_id == m.model_id)).first()
                if exists_row is None:
                    conn.execute(s.run_model_outputs.insert().values(run_uuid=run_id, model_id=m.model_id,
                                                                      step=m.step))

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

    # ======================================================================================================
    # registry: registered models
    # ======================================================================================================
    def _rm_row(self, conn: Any, name: str, *, lock: bool = False) -> Any:
        rm = s.registered_models
        if lock:  # take the row lock first: serializes version numbering and stage changes of one model
            conn.execute(update(rm).where(rm.c.name == name).values(last_updated_time=rm.c.last_updated_time))
        row = conn.execute(rm.select().where(rm.c.name == name)).first()
        if row is None:
            raise ResourceNotFoundError(f"Registered Model with name={name} not found")
        return row

    def _touch(self, conn: Any, name: str, now: int) -> None:
        conn.execute(update(s.registered_models).where(s.registered_models.c.name == name)
                     .values(last_updated_time=now))

    def create_registered_model(self, name: str, tags: dict[str, Any] | None = None,
                                description: str | None = None) -> RegisteredModel:
        v.validate_model_name(name)
        tag_items = [v.validate_registry_tag(k, val) for k, val in (tags or {}).items()]
        now = _now()
        with self._write() as conn:
            if conn.execute(select(s.registered_models.c.name).where(s.registered_models.c.name == name)).first():
                raise ResourceAlreadyExistsError(f"Registered Model (name={name}) already exists.")
            try:
                with conn.begin_nested():
                    conn.execute(s.registered_models.insert().values(
                        name=name, creation_time=now, last_updated_time=now, description=description,
                        user_id=None, next_version=1))
            except IntegrityError:
                raise ResourceAlreadyExistsError(f"Registered Model (name={name}) already exists.") from None
            if tag_items:
                conn.execute(s.registered_model_tags.insert(),
                             [{"name": name, "key": k, "value": val} for k, val in tag_items])
        return RegisteredModel(name=name, creation_timestamp=now, last_updated_timestamp=now,
                               description=description, tags=dict(tag_items))

    def _registered_models_from_rows(self, conn: Any, rows: Sequence[Any]) -> list[RegisteredModel]:
        names = [r.name for r in rows]
        if not names:
            return []
        tags: dict[str, dict[str, str]] = {n: {} for n in names}
        aliases: dict[str, dict[str, str]] = {n: {} for n in names}
        for t in conn.execute(s.registered_model_tags.select().where(s.registered_model_tags.c.name.in_(names))):
            tags[t.name][t.key] = t.value
        al = s.registered_model_aliases
        for a in conn.execute(al.select().where(al.c.name.in_(names)).order_by(al.c.alias)):
            aliases[a.name][a.alias] = str(a.version)
        mv = s.model_versions
        latest = (select(mv.c.name, mv.c.current_stage, func.max(mv.c.version).label("v"))
                  .where(mv.c.name.in_(names)).group_by(mv.c.name, mv.c.current_stage).subquery())
        rows_v = conn.execute(select(mv).join(latest, and_(mv.c.name == latest.c.name, mv.c.version == latest.c.v))).all()
        versions = self._versions_from_rows(conn, rows_v)
        by_name: dict[str, list[ModelVersion]] = {n: [] for n in names}
        for mvx in sorted(versions, key=lambda x: (STAGES.index(x.current_stage), int(x.version))):
            by_name[mvx.name].append(mvx)
        return [RegisteredModel(name=r.name, creation_timestamp=r.creation_time,
                                last_updated_timestamp=r.last_updated_time, description=r.description,
                                user_id=r.user_id, latest_versions=by_name[r.name], tags=tags[r.name],
                                aliases=aliases[r.name]) for r in rows]

    def get_registered_model(self, name: str) -> RegisteredModel:
        v.validate_model_name(name)
        with self._read() as conn:
            return self._registered_models_from_rows(conn, [self._rm_row(conn, name)])[0]

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        v.validate_model_name(name)
        v.validate_model_name(new_name)
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            if name != new_name:
                if conn.execute(select(s.registered_models.c.name)
                                .where(s.registered_models.c.name == new_name)).first():
                    raise ResourceAlreadyExistsError(f"Registered Model (name={new_name}) already exists.")
                # foreign keys cascade the new name to versions, tags, aliases and alias history
                conn.execute(update(s.registered_models).where(s.registered_models.c.name == name)
                             .values(name=new_name, last_updated_time=_now()))
        return self.get_registered_model(new_name)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        v.validate_model_name(name)
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            conn.execute(update(s.registered_models).where(s.registered_models.c.name == name)
                         .values(description=description, last_updated_time=_now()))
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str) -> None:
        v.validate_model_name(name)
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            conn.execute(s.registered_models.delete().where(s.registered_models.c.name == name))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        v.validate_model_name(name)
        key, value = v.validate_registry_tag(key, value)
        with self._write() as conn:
            self._rm_row(conn, name)
            conn.execute(self._upsert_tag_stmt(s.registered_model_tags, ("name", "key")),
                         {"name": name, "key": key, "value": value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        v.validate_model_name(name)
        v.validate_key(key, "tag key")
        with self._write() as conn:
            self._rm_row(conn, name)
            t = s.registered_model_tags
            conn.execute(t.delete().where(t.c.name == name, t.c.key == key))

    def search_registered_models(self, filter_string: str | None = None, max_results: int = 100,
                                 order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        _check_max_results(max_results, SEARCH_MODELS_MAX, "search_registered_models")
        rm = s.registered_models
        conds = []
        for c in parse_filter(filter_string):
            if c.entity == "tag":
                cond = self._kv_condition(s.registered_model_tags, s.registered_model_tags.c.name == rm.c.name, c)
            else:
                col = self._attr_column(c.entity, c.key, {"name": rm.c.name}, "registered models")
                cond = self._compare(col, c.op, c.value, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), c, string=True)
            conds.append(cond)
        columns = {"name": rm.c.name, "timestamp": rm.c.last_updated_time,
                   "last_updated_timestamp": rm.c.last_updated_time, "creation_timestamp": rm.c.creation_time}
        order = []
        for key in parse_order_by(order_by):
            col = self._attr_column(key.entity, key.key, columns, "registered models (order_by)")
            order.append(col.asc() if key.ascending else col.desc())
        order.append(rm.c.name.asc())
        offset = decode_page_token(page_token)
        with self._read() as conn:
            rows = conn.execute(rm.select().where(*conds).order_by(*order).offset(offset).limit(max_results + 1)).all()
            token = encode_page_token(offset + max_results) if len(rows) > max_results else None
            return PagedList(self._registered_models_from_rows(conn, rows[:max_results]), token)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        v.validate_model_name(name)
        wanted = [v.canonical_stage(x) for x in stages] if stages else list(STAGES)
        with self._read() as conn:
            model = self._registered_models_from_rows(conn, [self._rm_row(conn, name)])[0]
        return [mv for mv in model.latest_versions if mv.current_stage in wanted]

    # ======================================================================================================
    # registry: model versions
    # ======================================================================================================
    def _versions_from_rows(self, conn: Any, rows: Sequence[Any]) -> list[ModelVersion]:
        if not rows:
            return []
        keys = {(r.name, r.version) for r in rows}
        names = sorted({n for n, _ in keys})
        tags: dict[tuple[str, int], dict[str, str]] = {k: {} for k in keys}
        aliases: dict[tuple[str, int], list[str]] = {k: [] for k in keys}
        t = s.model_version_tags
        for tr in conn.execute(t.select().where(t.c.name.in_(names))):
            if (tr.name, tr.version) in tags:
                tags[(tr.name, tr.version)][tr.key] = tr.value
        al = s.registered_model_aliases
        for a in conn.execute(al.select().where(al.c.name.in_(names)).order_by(al.c.alias)):
            if (a.name, a.version) in aliases:
                aliases[(a.name, a.version)].append(a.alias)
        return [ModelVersion(name=r.name, version=str(r.version), creation_timestamp=r.creation_time,
                             last_updated_timestamp=r.last_updated_time, current_stage=r.current_stage,
                             description=r.description, user_id=r.user_id, source=r.source, run_id=r.run_id,
                             run_link=r.run_link, status=r.status, status_message=r.status_message,
                             tags=tags[(r.name, r.version)], aliases=aliases[(r.name, r.version)],
                             model_id=r.model_id) for r in rows]

    def _mv_row(self, conn: Any, name: str, version: int) -> Any:
        mv = s.model_versions
        row = conn.execute(mv.select().where(mv.c.name == name, mv.c.version == version)).first()
        if row is None:
            self._rm_row(conn, name)
            raise ResourceNotFoundError(f"Model Version (name={name}, version={version}) not found")
        return row

    @staticmethod
    def _check_source(source: Any) -> str:
        if not isinstance(source, str) or not source.strip():
            raise InvalidParameterError(f"Invalid model version source {source!r}: it must be a non-empty URI")
        decoded = unquote(unquote(source))
        if "\x00" in decoded:
            raise InvalidParameterError("Invalid model version source: it contains a NUL character")
        path = decoded.split("://", 1)[-1] if "://" in decoded else decoded.split(":", 1)[-1]
        if ".." in posixpath.normpath("/" + path).split("/") or any(p == ".." for p in path.split("/")):
            raise InvalidParameterError(f"Invalid model version source {source!r}: it must not contain '..'")
        return source

    def _storage_location(self, conn: Any, source: str, model_id: str | None) -> tuple[str | None, str | None]:
        """Where the files of a new version are: ``(storage_location, model_id)``."""
        if source.startswith("models:/"):
            rest = source[len("models:/"):].strip("/")
            if rest.startswith("m-") and "/" not in rest:
                row = conn.execute(select(s.logged_models.c.artifact_location)
                                   .where(s.logged_models.c.model_id == rest)).first()
                if row is None:
                    raise ResourceNotFoundError(f"Logged model with ID '{rest}' not found (source {source!r})")
                return row.artifact_location, rest
            return None, model_id
        if source.startswith("runs:/"):
            run_id, _, path = source[len("runs:/"):].partition("/")
            row = self._run_row(conn, run_id)
            return (f"{row.artifact_uri.rstrip('/')}/{path}" if path else row.artifact_uri), model_id
        return None, model_id

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, Any] | None = None, run_link: str | None = None,
                             description: str | None = None, model_id: str | None = None) -> ModelVersion:
        v.validate_model_name(name)
        self._check_source(source)
        if run_id is not None:
            v.validate_run_id(run_id)
        tag_items = [v.validate_registry_tag(k, val) for k, val in (tags or {}).items()]
        now = _now()
        with self._write() as conn:
            rm = self._rm_row(conn, name, lock=True)
            storage, model_id = self._storage_location(conn, source, model_id)
            if run_id is None and model_id is not None:
                run_id = conn.execute(select(s.logged_models.c.source_run_id)
                                      .where(s.logged_models.c.model_id == model_id)).scalar()
            version = rm.next_version
            conn.execute(update(s.registered_models).where(s.registered_models.c.name == name)
                         .values(next_version=version + 1, last_updated_time=now))
            conn.execute(s.model_versions.insert().values(
                name=name, version=version, creation_time=now, last_updated_time=now, description=description,
                user_id=None, current_stage="None", source=source, storage_location=storage, run_id=run_id,
                run_link=run_link, status=ModelVersionStatus.READY, status_message=None, model_id=model_id))
            if tag_items:
                conn.execute(s.model_version_tags.insert(),
                             [{"name": name, "version": version, "key": k, "value": val} for k, val in tag_items])
            return self._versions_from_rows(conn, [self._mv_row(conn, name, version)])[0]

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        v.validate_model_name(name)
        number = v.validate_version(version)
        with self._read() as conn:
            return self._versions_from_rows(conn, [self._mv_row(conn, name, number)])[0]

    def update_model_version(self, name: str, version: str | int, description: str | None) -> ModelVersion:
        v.validate_model_name(name)
        number = v.validate_version(version)
        now = _now()
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            self._mv_row(conn, name, number)
            mv = s.model_versions
            conn.execute(update(mv).where(mv.c.name == name, mv.c.version == number)
                         .values(description=description, last_updated_time=now))
            self._touch(conn, name, now)
            return self._versions_from_rows(conn, [self._mv_row(conn, name, number)])[0]

    def transition_model_version_stage(self, name: str, version: str | int, stage: str,
                                       archive_existing_versions: bool = False) -> ModelVersion:
        v.validate_model_name(name)
        number = v.validate_version(version)
        target = v.canonical_stage(stage)
        if archive_existing_versions and target not in ("Staging", "Production"):
            raise InvalidParameterError(f"archive_existing_versions=True is only allowed when transitioning to "
                                        f"Staging or Production, not to {target!r}")
        now = _now()
        mv = s.model_versions
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            self._mv_row(conn, name, number)
            if archive_existing_versions:
                conn.execute(update(mv).where(mv.c.name == name, mv.c.version != number, mv.c.current_stage == target)
                             .values(current_stage="Archived", last_updated_time=now))
            conn.execute(update(mv).where(mv.c.name == name, mv.c.version == number)
                         .values(current_stage=target, last_updated_time=now))
            self._touch(conn, name, now)
            return self._versions_from_rows(conn, [self._mv_row(conn, name, number)])[0]

    def delete_model_version(self, name: str, version: str | int) -> None:
        """Delete a version. Its number is never given out again; aliases on it are removed (and logged)."""
        v.validate_model_name(name)
        number = v.validate_version(version)
        now = _now()
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            self._mv_row(conn, name, number)
            al = s.registered_model_aliases
            for a in conn.execute(select(al.c.alias).where(al.c.name == name, al.c.version == number)).all():
                conn.execute(s.alias_history.insert().values(name=name, alias=a.alias, version=None, timestamp=now,
                                                             user_id=_user()))
            conn.execute(al.delete().where(al.c.name == name, al.c.version == number))
            mv = s.model_versions
            conn.execute(mv.delete().where(mv.c.name == name, mv.c.version == number))
            self._touch(conn, name, now)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        v.validate_model_name(name)
        number = v.validate_version(version)
        with self._read() as conn:
            row = self._mv_row(conn, name, number)
        return row.storage_location or row.source

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        v.validate_model_name(name)
        number = v.validate_version(version)
        key, value = v.validate_registry_tag(key, value)
        with self._write() as conn:
            self._mv_row(conn, name, number)
            conn.execute(self._upsert_tag_stmt(s.model_version_tags, ("name", "version", "key")),
                         {"name": name, "version": number, "key": key, "value": value})

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        v.validate_model_name(name)
        number = v.validate_version(version)
        v.validate_key(key, "tag key")
        with self._write() as conn:
            self._mv_row(conn, name, number)
            t = s.model_version_tags
            conn.execute(t.delete().where(t.c.name == name, t.c.version == number, t.c.key == key))

    def search_model_versions(self, filter_string: str | None = None, max_results: int = 10000,
                              order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        _check_max_results(max_results, SEARCH_VERSIONS_MAX, "search_model_versions")
        mv = s.model_versions
        conds = []
        for c in parse_filter(filter_string):
            if c.entity == "tag":
                t = s.model_version_tags
                conds.append(self._kv_condition(t, and_(t.c.name == mv.c.name, t.c.version == mv.c.version), c))
                continue
            col = self._attr_column(c.entity, c.key, {"name": mv.c.name, "run_id": mv.c.run_id,
                                                      "source_path": mv.c.source, "version_number": mv.c.version,
                                                      "current_stage": mv.c.current_stage},
                                    "model versions")
            if c.key == "version_number":
                if isinstance(c.value, float) or (isinstance(c.value, list) and any(isinstance(x, float)
                                                                                    for x in c.value)):
                    raise InvalidParameterError(f"Invalid value {c.value!r} for version_number: expected an integer")
                conds.append(self._compare(col, c.op, c.value, ("=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"), c,
                                           number=True))
            else:
                allowed = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN") if c.key in ("name", "run_id", "current_stage") \
                    else ("=", "!=", "LIKE", "ILIKE")
                value = c.value
                if c.key == "current_stage":
                    value = [v.canonical_stage(x) for x in value] if isinstance(value, list) else (
                        v.canonical_stage(value) if c.op in ("=", "!=") else value)
                conds.append(self._compare(col, c.op, value, allowed, c, string=True))
        columns = {"name": mv.c.name, "version_number": mv.c.version, "creation_timestamp": mv.c.creation_time,
                   "last_updated_timestamp": mv.c.last_updated_time, "timestamp": mv.c.last_updated_time}
        order = []
        for key in parse_order_by(order_by):
            col = self._attr_column(key.entity, key.key, columns, "model versions (order_by)")
            order.append(col.asc() if key.ascending else col.desc())
        if not order:
            order = [mv.c.last_updated_time.desc()]
        order += [mv.c.name.asc(), mv.c.version.desc()]
        offset = decode_page_token(page_token)
        with self._read() as conn:
            rows = conn.execute(mv.select().where(*conds).order_by(*order).offset(offset).limit(max_results + 1)).all()
            token = encode_page_token(offset + max_results) if len(rows) > max_results else None
            return PagedList(self._versions_from_rows(conn, rows[:max_results]), token)

    # -- aliases ---------------------------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        v.validate_model_name(name)
        v.validate_alias(alias)
        number = v.validate_version(version)
        now = _now()
        al = s.registered_model_aliases
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            self._mv_row(conn, name, number)
            current = conn.execute(select(al.c.version).where(al.c.name == name, al.c.alias == alias)).scalar()
            if current == number:
                return
            if current is None:
                conn.execute(al.insert().values(name=name, alias=alias, version=number))
            else:
                conn.execute(update(al).where(al.c.name == name, al.c.alias == alias).values(version=number))
            conn.execute(s.alias_history.insert().values(name=name, alias=alias, version=number, timestamp=now,
                                                         user_id=_user()))
            self._touch(conn, name, now)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        v.validate_model_name(name)
        v.validate_alias(alias, for_set=False)
        now = _now()
        al = s.registered_model_aliases
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            gone = conn.execute(al.delete().where(al.c.name == name, al.c.alias == alias)).rowcount
            if gone:
                conn.execute(s.alias_history.insert().values(name=name, alias=alias, version=None, timestamp=now,
                                                             user_id=_user()))
                self._touch(conn, name, now)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        v.validate_model_name(name)
        v.validate_alias(alias, for_set=False)
        if alias.lower() == "latest":
            latest = self.get_latest_versions(name)
            if not latest:
                raise ResourceNotFoundError(f"Registered model {name!r} has no versions, so alias 'latest' points "
                                            "nowhere")
            return max(latest, key=lambda mv: int(mv.version))
        al = s.registered_model_aliases
        with self._read() as conn:
            self._rm_row(conn, name)
            number = conn.execute(select(al.c.version).where(al.c.name == name, al.c.alias == alias)).scalar()
            if number is None:
                known = [a for (a,) in conn.execute(select(al.c.alias).where(al.c.name == name).order_by(al.c.alias))]
                raise InvalidParameterError(f"Registered model alias {alias} not found. Aliases of {name!r}: "
                                            f"{', '.join(known) or 'none'}", error_code="INVALID_PARAMETER_VALUE")
            return self._versions_from_rows(conn, [self._mv_row(conn, name, number)])[0]

    def get_registered_model_alias_history(self, name: str, alias: str | None = None) -> list[AliasHistoryEntry]:
        """Every change of the model's aliases (or of one alias), oldest first."""
        v.validate_model_name(name)
        h = s.alias_history
        stmt = h.select().where(h.c.name == name).order_by(h.c.id)
        if alias is not None:
            stmt = stmt.where(h.c.alias == alias)
        with self._read() as conn:
            self._rm_row(conn, name)
            rows = conn.execute(stmt).all()
        return [AliasHistoryEntry(name=r.name, alias=r.alias, version=None if r.version is None else str(r.version),
                                  timestamp=r.timestamp, user_id=r.user_id) for r in rows]


def upgrade_database(uri: str, artifact_root: str | None = None) -> None:
    """Migrate the database at ``uri`` to the schema of this tureen (what the store does on open).

    Example:
        >>> upgrade_database("sqlite:////tmp/tureen-example.db")  # doctest: +SKIP
    """
    engine = make_engine(uri)
    root = _to_uri(artifact_root or default_artifact_root(uri))
    try:
        migrate(engine, default_artifact_location=lambda eid: f"{root.rstrip('/')}/{eid}")
    finally:
        engine.dispose()


