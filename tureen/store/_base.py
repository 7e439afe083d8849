"""The plumbing under both halves of the SQL store: engine, transactions, error translation, search helpers.

:class:`SqlBase` opens the database (creating or migrating it, see :mod:`tureen.store._migrate`) and gives
the tracking half (:mod:`tureen.store._tracking`) and the registry half (:mod:`tureen.store._registry`) the
same small toolkit: ``_read``/``_write`` transactions, dialect-specific upserts and the pieces every search
uses (comparisons, key/value conditions, ordering, pages). Neither half calls the other's methods.
"""

from __future__ import annotations

import functools
import json
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import and_, bindparam, exists, literal, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from tureen.exceptions import InvalidParameterError, StoreUnavailableError, TureenError
from tureen.store import _schema as s
from tureen.store._common import to_uri
from tureen.store._engine import background_checkpointer, make_engine, masked, writer_gate
from tureen.store._migrate import ensure_schema
from tureen.tracking._config import default_artifact_root
from tureen.tracking._filter import Clause, decode_page_token, encode_page_token
from tureen.tracking.entities import LifecycleStage, PagedList, ViewType

__all__ = ["SqlBase"]

_ACTIVE = LifecycleStage.ACTIVE
_DELETED = LifecycleStage.DELETED


class SqlBase:
    """Connection plumbing and search helpers shared by the tracking and registry halves of the store."""

    def __init__(self, uri: str, artifact_root: str | None = None) -> None:
        self.uri = uri
        self.artifact_root = to_uri(artifact_root or default_artifact_root(uri))
        self._engine = make_engine(uri)
        self._write_engine = self._engine.execution_options(tureen_write=True)
        self.dialect = self._engine.dialect.name
        with self._translate_errors():
            self._state = ensure_schema(self._engine, masked(uri), default_artifact_location=self._default_location)
        #: tureen's side tables are there (a database tureen created or adopted); an MLflow database that
        #: tureen only opened has none and is never given any behind its owner's back
        self._side_tables = self._state.adopted
        self._gate = writer_gate(self._engine)
        #: a server worker's background WAL checkpoint thread (SQLite files only; see tureen.store._engine)
        self._checkpointer = background_checkpointer(self._engine)
        self._build_statements()

    # -- plumbing ------------------------------------------------------------------------------------------

    def close(self) -> None:
        checkpointer = getattr(self, "_checkpointer", None)
        if checkpointer is not None:
            checkpointer.stop()
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
        gate = self._gate
        if gate is None:
            with self._translate_errors(), self._write_engine.begin() as conn:
                yield conn
            return
        with gate, self._translate_errors(), self._write_engine.begin() as conn:  # queue, then BEGIN IMMEDIATE
            yield conn
        checkpointer = self._checkpointer
        if checkpointer is not None:  # committed: the WAL grew; it is checkpointed off the request's path
            checkpointer.note_write()

    def _build_statements(self) -> None:
        """Statements built once per store; upserts are spelled per dialect."""
        ids = bindparam("ids", expanding=True)
        # the pieces of a page of runs, by id (get_run, search_runs): built once, the ids bound late
        self._page_stmts = self._page_pieces(lambda col: col.in_(ids))
        # SQLite: the same statements compiled once to SQL whose ids are one JSON array parameter
        # (``IN (SELECT value FROM json_each(?))``), run on the driver's connection: no expanding of 1,000
        # bound ids per statement and no SQLAlchemy row objects, the two largest costs of reading a page
        self._page_sql: dict[str, tuple[str, tuple[Any, ...]]] | None = None
        if self.dialect == "sqlite" and _sqlite_has_json_each():
            from sqlalchemy import func

            listed = func.json_each(bindparam("ids_json")).table_valued("value")
            self._page_sql = {}
            for name, stmt in self._page_pieces(lambda col: col.in_(select(listed.c.value))).items():
                compiled = stmt.compile(dialect=self._engine.dialect)
                template = tuple(_IDS if key == "ids_json" else compiled.params[key]
                                 for key in compiled.positiontup or ())
                self._page_sql[name] = (str(compiled), template)
        e = s.experiments
        self._select_run_experiment = select(e.c.lifecycle_stage, e.c.artifact_location).where(
            e.c.experiment_id == bindparam("eid"))
        self._insert_run = s.runs.insert()
        self._insert_tag = s.tags.insert()
        lm = s.latest_metrics
        self._insert_metric = self._insert_ignore(s.metrics)
        self._insert_param = self._insert_ignore(s.params)
        if self.dialect in ("mysql", "mariadb"):
            from sqlalchemy import func as f
            from sqlalchemy.dialects.mysql import insert as my_insert

            ins = my_insert(lm)
            new = ins.inserted
            newer = or_(new.step > lm.c.step,
                        and_(new.step == lm.c.step,
                             or_(new.timestamp > lm.c.timestamp,
                                 and_(new.timestamp == lm.c.timestamp, new.value > lm.c.value))))
            # MySQL has no WHERE on its upsert: each column takes the new value only when the point is newer
            # (the condition is on the old values, so every column is decided before any is assigned)
            self._upsert_latest = ins.on_duplicate_key_update(
                {c: f.if_(newer, new[c], lm.c[c]) for c in ("is_nan", "value", "timestamp", "step")})
            return
        ins = self._upsert(lm)
        ex = ins.excluded
        newer = or_(ex.step > lm.c.step,
                    and_(ex.step == lm.c.step,
                         or_(ex.timestamp > lm.c.timestamp,
                             and_(ex.timestamp == lm.c.timestamp, ex.value > lm.c.value))))
        self._upsert_latest = ins.on_conflict_do_update(
            index_elements=[lm.c.key, lm.c.run_uuid],
            set_={"value": ex.value, "timestamp": ex.timestamp, "step": ex.step, "is_nan": ex.is_nan},
            where=newer)

    @staticmethod
    def _page_pieces(among: Callable[[Any], Any]) -> dict[str, Any]:
        """The statements that read a page of runs by id, each a plain tuple per row; ``among(column)`` is
        the condition "column is one of the page's run ids"."""
        r, p, tg, lm = s.runs, s.params, s.tags, s.latest_metrics
        i, d, it = s.inputs, s.datasets, s.input_tags
        of_runs = and_(i.c.destination_type == "RUN", among(i.c.destination_id), i.c.source_type == "DATASET")
        of_models = and_(i.c.source_type == "RUN_INPUT", among(i.c.source_id), i.c.destination_type == "MODEL_INPUT")
        return {
            "runs": select(r.c.run_uuid, r.c.experiment_id, r.c.name, r.c.user_id, r.c.status, r.c.start_time,
                           r.c.end_time, r.c.artifact_uri, r.c.lifecycle_stage).where(among(r.c.run_uuid)),
            "params": select(p.c.run_uuid, p.c.key, p.c.value).where(among(p.c.run_uuid)),
            "tags": select(tg.c.run_uuid, tg.c.key, tg.c.value).where(among(tg.c.run_uuid)),
            "latest": select(lm.c.run_uuid, lm.c.key, lm.c.value, lm.c.is_nan, lm.c.timestamp, lm.c.step)
                      .where(among(lm.c.run_uuid)),
            # MLflow keeps a run's model outputs as RUN_OUTPUT -> MODEL_OUTPUT edges
            "outputs": (select(i.c.source_id, i.c.destination_id, i.c.step)
                        .where(i.c.source_type == "RUN_OUTPUT", among(i.c.source_id),
                               i.c.destination_type == "MODEL_OUTPUT")
                        .order_by(i.c.step, i.c.destination_id)),
            # dataset inputs (with their dataset) and model inputs in one indexed query
            "inputs": (select(i.c.source_type, i.c.source_id, i.c.destination_id, i.c.input_uuid, d.c.name,
                              d.c.digest, d.c.dataset_source_type, d.c.dataset_source, d.c.dataset_schema,
                              d.c.dataset_profile)
                       .select_from(i.outerjoin(d, and_(i.c.source_type == "DATASET",
                                                        d.c.dataset_uuid == i.c.source_id)))
                       .where(or_(of_runs, of_models)).order_by(i.c.destination_id, d.c.name, d.c.digest)),
            "input_tags": (select(it.c.input_uuid, it.c.name, it.c.value)
                           .select_from(it.join(i, i.c.input_uuid == it.c.input_uuid)).where(of_runs)
                           .order_by(it.c.name)),
        }

    def _page_rows(self, conn: Any, piece: str, ids: list[str], ids_json: str | None) -> Sequence[tuple[Any, ...]]:
        """The rows (tuples) of one piece of a page of runs (see :meth:`_page_pieces`); ``ids_json`` is the
        ids as a JSON array when the SQLite statements are in use (``self._page_sql``)."""
        if ids_json is None or self._page_sql is None:
            return conn.execute(self._page_stmts[piece], {"ids": ids}).all()
        sql, template = self._page_sql[piece]
        params = tuple(ids_json if v is _IDS else v for v in template)
        try:
            return conn.connection.dbapi_connection.execute(sql, params).fetchall()
        except self._engine.dialect.loaded_dbapi.Error as exc:  # the same translation as SQLAlchemy's errors
            raise DBAPIError.instance(sql, params, exc, self._engine.dialect.loaded_dbapi.Error) from None

    def _executemany(self, conn: Any, stmt: Any, rows: Sequence[dict[str, Any]], columns: tuple[str, ...]) -> None:
        """``stmt`` (built once per store) for many rows of ``columns``, compiled once and handed to the driver
        as plain tuples where its parameters are positional (SQLite, MySQL): SQLAlchemy's per-row parameter
        processing is most of the cost of a 500-point batch. The columns are text, numbers and booleans,
        which those drivers take as they are; other drivers get the ordinary ``execute``."""
        cache = self.__dict__.setdefault("_raw_sql", {})
        key = (id(stmt), columns)
        entry = cache.get(key)
        if entry is None:
            compiled = stmt.compile(dialect=self._engine.dialect, column_keys=list(columns))
            order = tuple(compiled.positiontup or ()) if compiled.positional else ()
            entry = (str(compiled), order) if order and set(order) <= set(columns) else False
            cache[key] = entry
        if not entry:
            conn.execute(stmt, [{k: r[k] for k in columns} for r in rows])
            return
        sql, order = entry
        get = itemgetter(*order)
        conn.exec_driver_sql(sql, [get(r) for r in rows] if len(order) > 1 else [(r[order[0]],) for r in rows])

    def _upsert(self, table: Any) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif self.dialect in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def _insert_ignore(self, table: Any, keys: Sequence[str] | None = None) -> Any:
        """INSERT that skips rows whose key is already there (the first write wins)."""
        if self.dialect in ("mysql", "mariadb"):
            return table.insert().prefix_with("IGNORE")
        cols = [table.c[k] for k in keys] if keys else list(table.primary_key.columns)
        return self._upsert(table).on_conflict_do_nothing(index_elements=cols)

    def _upsert_tag_stmt(self, table: Any, keys: Sequence[str], value: str = "value") -> Any:
        ins = self._upsert(table)
        if self.dialect in ("mysql", "mariadb"):
            return ins.on_duplicate_key_update({value: ins.inserted[value]})
        # the conflict target is the table's primary key (MLflow's keys include e.g. ``workspace``)
        return ins.on_conflict_do_update(index_elements=list(table.primary_key.columns),
                                         set_={value: ins.excluded[value]})


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

    def _sort_terms(self, keys: Sequence[Any], columns: dict[str, Any], what: str) -> list[Any]:
        """ORDER BY terms for parsed ``order_by`` keys that name plain attribute columns."""
        terms = []
        for key in keys:
            col = self._attr_column(key.entity, key.key, columns, what)
            terms.append(col.asc() if key.ascending else col.desc())
        return terms

    def _page(self, stmt: Any, page_token: str | None, max_results: int,
              convert: Callable[[Any, Sequence[Any]], list[Any]]) -> PagedList:
        """One page of a filtered, ordered select: ``convert(conn, rows)`` of at most ``max_results`` rows from
        the token's offset, with the next page's token when more rows follow."""
        offset = decode_page_token(page_token)
        with self._read() as conn:
            rows = conn.execute(stmt.offset(offset).limit(max_results + 1)).all()
            token = encode_page_token(offset + max_results) if len(rows) > max_results else None
            return PagedList(convert(conn, rows[:max_results]), token)

    def _runs_page(self, stmt: Any, keyset: bool, page_token: str | None, max_results: int,
                   convert: Callable[[Any, Sequence[Any]], list[Any]], late: Sequence[Any] | None = None
                   ) -> PagedList:
        """A page of runs. In the default order (``start_time DESC, run_uuid ASC``) the next page starts
        after the last row's ``(start_time, run_uuid)`` (keyset) instead of skipping ``offset`` rows, so a
        deep page costs what the first costs; the token also carries the offset, which is used for any
        other order and for a token of an older tureen.

        ``late`` (SQLite, keyset order only): conditions tested on the runs in their order until the page is
        full, instead of on every run before the sort. SQLite evaluates a correlated ``EXISTS`` per run either
        way, so a filter matching half of 10,000 runs tests a few hundred of them instead of all. The runs are
        read in slices, each one ordered explicitly (``ORDER BY ... LIMIT``), then the conditions are tested on
        the runs of that slice alone (``run_uuid IN (...)``); a second slice (four times as long) starts after the
        last run of the first; if the page is still not full, the rest is one query with the conditions in its
        ``WHERE`` (a selective filter tests every run anyway). Nothing depends on the order in which SQLite
        hands over the rows of a subquery. An old offset-only token takes the plain query."""
        import base64
        import binascii
        import json

        from sqlalchemy import and_, or_

        r = s.runs
        offset = decode_page_token(page_token)
        after = None
        if keyset and page_token:
            try:
                after = json.loads(base64.b64decode(page_token, validate=True)).get("after")
            except (binascii.Error, ValueError, AttributeError):
                after = None
            if after is not None and not (isinstance(after, list) and len(after) == 2
                                          and isinstance(after[0], int) and not isinstance(after[0], bool)
                                          and isinstance(after[1], str)):
                raise InvalidParameterError(f"Invalid page token {page_token!r}: pass the token returned by the "
                                            "previous page unchanged")

        def past(t: Any, rid: str) -> Any:
            """The runs after ``(start_time, run_uuid)`` in the default order (NULL start times last here, first
            on PostgreSQL)."""
            if t is None:
                return and_(r.c.start_time.is_(None), r.c.run_uuid > rid)
            cond = or_(r.c.start_time < t, and_(r.c.start_time == t, r.c.run_uuid > rid))
            return or_(cond, r.c.start_time.is_(None)) if self.dialect != "postgresql" else cond

        if keyset:
            stmt = stmt.add_columns(r.c.start_time)
        sliced = bool(late) and keyset and (after is not None or not offset)
        if late and not sliced:
            stmt = stmt.where(*late)
        if after is not None:
            stmt = stmt.where(past(*after))
            skip = 0
        else:
            skip = offset
        with self._read() as conn:
            if sliced:
                rows = self._late_slices(conn, stmt, late, past, max_results + 1)
            else:
                rows = conn.execute(stmt.offset(skip).limit(max_results + 1)).all()
            token = None
            if len(rows) > max_results:
                last = rows[max_results - 1]
                if keyset and last.start_time is not None:
                    token = base64.b64encode(json.dumps(
                        {"offset": offset + max_results, "after": [int(last.start_time), last.run_uuid]})
                        .encode()).decode()
                else:
                    token = encode_page_token(offset + max_results)
            return PagedList(convert(conn, rows[:max_results]), token)

    def _late_slices(self, conn: Any, stmt: Any, late: Sequence[Any], past: Callable[[Any, str], Any],
                     want: int) -> list[Any]:
        """The first ``want`` rows of the ordered ``stmt`` whose runs pass ``late``, read in slices: a slice of
        runs in order, then which of them pass (the conditions tested on that slice alone).

        The first slice is four pages long: reading a slice scans and sorts the experiment's runs whatever
        its length, so a filter that keeps a fair share of the runs (a half, a quarter) fills the page from
        one scan instead of two; the second is four times longer again. On SQLite with the JSON functions
        the slice's ids are one JSON array parameter, not one bound parameter each."""
        r = s.runs
        if self._page_sql is not None:
            from sqlalchemy import func

            listed = func.json_each(bindparam("slice_json")).table_valued("value")
            test = select(r.c.run_uuid).where(r.c.run_uuid.in_(select(listed.c.value)), *late)

            def passing(ids: list[str]) -> set[str]:
                return set(conn.execute(test, {"slice_json": json.dumps(ids)}).scalars())
        else:
            test = select(r.c.run_uuid).where(r.c.run_uuid.in_(bindparam("slice", expanding=True)), *late)

            def passing(ids: list[str]) -> set[str]:
                return set(conn.execute(test, {"slice": ids}).scalars())
        out: list[Any] = []
        query = stmt
        for size in (4 * want, 16 * want):
            got = conn.execute(query.limit(size)).all()
            if got:
                ok = passing([row.run_uuid for row in got])
                out.extend(row for row in got if row.run_uuid in ok)
            if len(out) >= want or len(got) < size:
                return out[:want]
            last = got[-1]
            query = stmt.where(past(last.start_time, last.run_uuid))
        # a filter this selective: the rest the plain way, the conditions in the query's WHERE
        return out + conn.execute(query.where(*late).limit(want - len(out))).all()

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

    def _kv_condition(self, table: Any, join: Any, c: Clause, *, key: str = "key", value: str = "value") -> Any:
        """A condition on a key/value child table (params, tags): EXISTS a row with that key and value."""
        kcol, vcol = table.c[key], table.c[value]
        if c.op == "IS NULL":
            return ~exists().where(join, kcol == c.key)
        if c.op == "IS NOT NULL":
            return exists().where(join, kcol == c.key)
        cond = self._compare(vcol, c.op, c.value, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), c, string=True)
        return exists().where(join, kcol == c.key, cond)


#: the place of the JSON array of run ids among the parameters of a compiled page statement
_IDS = object()


@functools.cache
def _sqlite_has_json_each() -> bool:
    """Whether the SQLite library has the JSON functions (built in since 3.38; an older build may lack them).
    A property of the library: probed once per process, not per store."""
    import sqlite3

    probe = sqlite3.connect(":memory:")
    try:
        return probe.execute("SELECT value FROM json_each('[\"a\"]')").fetchall() == [("a",)]
    except sqlite3.Error:
        return False
    finally:
        probe.close()
