"""Read paths of the SQL store that the web UI needs and the public store API does not offer cheaply.

* :meth:`UiReadsMixin.search_runs_columns` — one page of :meth:`search_runs`, loading only the param,
  metric and tag keys the table shows (an experiment with 12,000 metric keys costs what 10 keys cost);
* :meth:`UiReadsMixin.run_keys` — the distinct param/metric/tag keys of an experiment (or of some runs),
  bounded and optionally filtered by a substring, for the column chooser;
* :meth:`UiReadsMixin.metric_histories` — one metric of several runs downsampled in SQL on one shared grid
  of ``max_points`` buckets over x: each bucket keeps its minimum and maximum, so a spike is never dropped.

They are mixed into :class:`~tureen.store.sql.SqlStore`; other stores (REST) simply lack them
and the UI falls back to the public methods.

Example:
    >>> store.run_keys(["1"], "metric", limit=5)  # doctest: +SKIP
    (['acc', 'loss'], False)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from sqlalchemy import Integer, cast, func, literal, select

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError
from tureen.tracking import _validation as v
from tureen.tracking.entities import PagedList, Run, RunData, RunInfo, RunOutputs
from tureen.store import _schema as s
from tureen.store._common import experiment_id_of

__all__ = ["UiReadsMixin", "ALWAYS_TAGS", "MAX_CHART_RUNS"]

#: tags every row of the runs table needs whatever columns are chosen (name, nesting, origin)
ALWAYS_TAGS = ("mlflow.runName", "mlflow.parentRunId", "mlflow.user", "mlflow.source.name", "mlflow.source.type")


class UiReadsMixin:
    """Extra read-only queries of the SQL store for the web UI (see the module docstring)."""

    def search_runs_columns(self, experiment_ids: Sequence[str | int], filter_string: str | None = None,
                            run_view_type: Any = 1, max_results: int = 100, order_by: list[str] | None = None,
                            page_token: str | None = None, *, params: Sequence[str] | None = None,
                            metrics: Sequence[str] | None = None, tags: Sequence[str] | None = None) -> PagedList:
        """Like ``search_runs`` but each run carries only the given keys (``None`` = every key of that kind).

        The tags of :data:`ALWAYS_TAGS` are always loaded.

        Example:
            >>> page = store.search_runs_columns(["1"], max_results=50, metrics=["auc"], params=[], tags=[])  # doctest: +SKIP
        """
        stmt = self._search_runs_stmt(experiment_ids, filter_string, run_view_type, max_results,  # type: ignore[attr-defined]
                                      order_by)
        want_tags = None if tags is None else sorted(set(tags) | set(ALWAYS_TAGS))

        def convert(conn: Any, rows: Sequence[Any]) -> list[Run]:
            return self._runs_with_keys(conn, [row[0] for row in rows], params, metrics, want_tags)

        return self._runs_page(stmt, not order_by, page_token, max_results, convert)  # type: ignore[attr-defined]

    def _runs_with_keys(self, conn: Any, ids: list[str], params: Sequence[str] | None,
                        metrics: Sequence[str] | None, tags: Sequence[str] | None) -> list[Run]:
        if not ids:
            return []
        rows = {r.run_uuid: r for r in conn.execute(s.runs.select().where(s.runs.c.run_uuid.in_(ids))).all()}
        found: dict[str, dict[str, dict[str, Any]]] = {i: {"p": {}, "m": {}, "t": {}} for i in ids}
        for kind, table, keys in (("p", s.params, params), ("t", s.tags, tags)):
            if keys is not None and not keys:
                continue
            q = select(table.c.run_uuid, table.c.key, table.c.value).where(table.c.run_uuid.in_(ids))
            if keys is not None:
                q = q.where(table.c.key.in_(list(keys)))
            for r in conn.execute(q).all():
                found[r.run_uuid][kind][r.key] = r.value
        if metrics is None or metrics:
            lm = s.latest_metrics
            q = select(lm.c.run_uuid, lm.c.key, lm.c.value, lm.c.is_nan).where(lm.c.run_uuid.in_(ids))
            if metrics is not None:
                q = q.where(lm.c.key.in_(list(metrics)))
            for r in conn.execute(q).all():
                found[r.run_uuid]["m"][r.key] = math.nan if r.is_nan else r.value
        inputs = self._run_inputs(conn, ids)  # type: ignore[attr-defined]
        out = []
        for i in ids:
            row = rows.get(i)
            if row is None:
                continue
            info = RunInfo(run_id=row.run_uuid, experiment_id=str(row.experiment_id), run_name=row.name,
                           user_id=row.user_id, status=row.status, start_time=row.start_time, end_time=row.end_time,
                           artifact_uri=row.artifact_uri, lifecycle_stage=row.lifecycle_stage)
            data = RunData(metrics=found[i]["m"], params=found[i]["p"], tags=found[i]["t"])
            out.append(Run(info=info, data=data, inputs=inputs[i], outputs=RunOutputs()))
        return out

    def runs_with_keys(self, run_ids: Sequence[str], params: Sequence[str] | None = None,
                       metrics: Sequence[str] | None = None, tags: Sequence[str] | None = None) -> list[Run]:
        """Runs by id (in that order, missing ones skipped) carrying only the given keys (``None`` = all)."""
        for rid in run_ids:
            v.validate_run_id(rid)
        with self._read() as conn:  # type: ignore[attr-defined]
            return self._runs_with_keys(conn, list(run_ids), params, metrics, tags)

    def metric_summary(self, run_id: str) -> dict[str, tuple[float | None, float | None, int]]:
        """Metric key -> (min, max, number of finite points) over a run's whole history, in one query."""
        v.validate_run_id(run_id)
        m = s.metrics
        q = (select(m.c.key, func.min(m.c.value), func.max(m.c.value), func.count())
             .where(m.c.run_uuid == run_id, m.c.is_nan == False).group_by(m.c.key))  # noqa: E712
        with self._read() as conn:  # type: ignore[attr-defined]
            return {r[0]: (r[1], r[2], int(r[3])) for r in conn.execute(q).all()}

    def child_run_ids(self, parent_ids: Sequence[str], limit: int = 500) -> dict[str, list[str]]:
        """Parent run id -> ids of its (active) child runs, from the ``mlflow.parentRunId`` tags."""
        if not parent_ids:
            return {}
        t, r = s.tags, s.runs
        q = (select(t.c.value, t.c.run_uuid).select_from(t.join(r, r.c.run_uuid == t.c.run_uuid))
             .where(t.c.key == "mlflow.parentRunId", t.c.value.in_(list(parent_ids)), r.c.lifecycle_stage == "active")
             .order_by(r.c.start_time.desc()).limit(limit))
        out: dict[str, list[str]] = {}
        with self._read() as conn:  # type: ignore[attr-defined]
            for parent, child in conn.execute(q).all():
                out.setdefault(parent, []).append(child)
        return out

    def run_keys(self, experiment_ids: Sequence[str | int] | None, kind: str, *, like: str | None = None,
                 limit: int = 500, run_ids: Sequence[str] | None = None) -> tuple[list[str], bool]:
        """Distinct keys of ``kind`` (``param``, ``metric`` or ``tag``) in experiments or in some runs.

        Returns ``(keys sorted, more)`` where ``more`` says keys beyond ``limit`` exist. ``like`` keeps the
        keys containing that text (case-insensitive).
        """
        table = {"param": s.params, "metric": s.latest_metrics, "tag": s.tags}.get(kind)
        if table is None:
            raise InvalidParameterError(f"Invalid key kind {kind!r}: use param, metric or tag")
        if not isinstance(limit, int) or not 0 < limit <= 50_000:
            raise InvalidParameterError(f"Invalid limit {limit!r}: between 1 and 50000")
        q = select(table.c.key).distinct()
        if run_ids is not None:
            q = q.where(table.c.run_uuid.in_(list(run_ids)))
        else:
            ids = [experiment_id_of(e) for e in (experiment_ids or [])]
            r = s.runs
            q = q.where(table.c.run_uuid.in_(select(r.c.run_uuid).where(r.c.experiment_id.in_(ids))))
        if like:
            escaped = like.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(table.c.key.ilike(f"%{escaped}%", escape="\\"))
        q = q.order_by(table.c.key).limit(limit + 1)
        with self._read() as conn:  # type: ignore[attr-defined]
            keys = [row[0] for row in conn.execute(q).all()]
        return keys[:limit], len(keys) > limit

    def metric_histories(self, run_ids: Sequence[str], key: str, x: str = "step", lo: float | None = None,
                         hi: float | None = None, max_points: int = 1500) -> dict[str, Any]:
        """One metric of several runs between ``lo`` and ``hi`` on the x axis, each line at most about
        ``2 * max_points`` points, on one shared grid of buckets.

        ``x`` is ``step``, ``time`` (the timestamp, ms) or ``relative`` (ms since the run's start). The
        window (``lo``/``hi``, or else the runs' whole common x range) is cut in ``max_points`` equal buckets,
        the same for every run. A run with more than ``max_points`` points in the window gives, per bucket,
        its minimum and its maximum (both at the bucket's centre), computed by the database in one pass over
        MLflow's ``(run_uuid, key, step)`` index of the metrics table: a single spike survives any zoom
        level. A run with fewer points gives them all, at their own x.

        Returns ``{"key", "x", "lo", "hi", "points", "runs": [{"run", "count", "nan", "downsampled",
        "x_min", "x_max", "x": [...], "y": [...]}, ...]}`` (``count`` and ``nan`` count the window's points
        and its NaN points, which are not drawn).
        """
        ids = _check_window(run_ids, x, lo, hi, max_points)
        with self._read() as conn:  # type: ignore[attr-defined]
            r = s.runs
            found = {row.run_uuid: row.start_time for row in
                     conn.execute(select(r.c.run_uuid, r.c.start_time).where(r.c.run_uuid.in_(ids)))}
            for rid in ids:
                if rid not in found:
                    raise ResourceNotFoundError(f"Run with id={rid} not found")
            src, c = self._history_source(conn)
            col = c["step"] if x == "step" else c["timestamp"]
            shifts = {rid: int(found[rid] or 0) if x == "relative" else 0 for rid in ids}  # absolute = shown + shift

            def where(rid: str, a: float | None, b: float | None) -> list[Any]:
                cond = [c["run_uuid"] == rid, c["key"] == key]
                if a is not None:
                    cond.append(col >= a + shifts[rid])
                if b is not None:
                    cond.append(col <= b + shifts[rid])
                return cond

            # each run's extent inside the asked window: for steps two index probes (a min() and a max() in
            # one SELECT would make SQLite walk the whole range)
            extent: dict[str, tuple[Any, Any]] = {}
            for rid in ids:
                cond = where(rid, lo, hi)
                if x == "step":
                    x0 = conn.execute(select(col).select_from(src).where(*cond).order_by(col).limit(1)).scalar()
                    x1 = x0 if x0 is None else \
                        conn.execute(select(col).select_from(src).where(*cond).order_by(col.desc()).limit(1)).scalar()
                else:  # timestamps are not in the index: one pass for both ends
                    x0, x1 = conn.execute(select(func.min(col), func.max(col)).select_from(src).where(*cond)).one()
                if x0 is not None:
                    extent[rid] = (x0 - shifts[rid], x1 - shifts[rid])
        w_lo = lo if lo is not None else min((e[0] for e in extent.values()), default=None)
        w_hi = hi if hi is not None else max((e[1] for e in extent.values()), default=None)
        width = float(w_hi) - float(w_lo) if extent else 0.0  # type: ignore[arg-type]
        scale = max_points / width if width > 0 else 0.0

        def line_of(rid: str, conn: Any) -> dict[str, Any]:
            line: dict[str, Any] = {"run": rid, "count": 0, "nan": 0, "downsampled": False,
                                    "x_min": None, "x_max": None, "x": [], "y": []}
            if rid not in extent:
                return line
            line["x_min"], line["x_max"] = extent[rid]
            cond = where(rid, w_lo, w_hi)
            sh = shifts[rid]
            # more than max_points points in the window? (stops after max_points + 1 index entries)
            over = conn.execute(select(literal(1)).select_from(src).where(*cond)
                                .limit(1).offset(max_points)).first() is not None
            if not over:
                rows = conn.execute(select(col, c["value"], c["is_nan"]).select_from(src).where(*cond)
                                    .order_by(col, c["timestamp"])).all()
                line["count"] = len(rows)
                for cx, val, is_nan in rows:
                    if is_nan:
                        line["nan"] += 1
                    else:
                        line["x"].append(cx - sh)
                        line["y"].append(val)
                return line
            pos = (col - literal(float(w_lo) + sh)) * literal(scale)  # type: ignore[arg-type]
            bucket = cast(pos, Integer) if self.dialect == "sqlite" else func.floor(pos)  # type: ignore[attr-defined]
            q = (select(bucket.label("b"), c["is_nan"], func.count(), func.min(c["value"]), func.max(c["value"]))
                 .select_from(src).where(*cond).group_by("b", c["is_nan"]))
            agg: dict[int, list[Any]] = {}
            for b, is_nan, n, vmin, vmax in conn.execute(q).all():
                line["count"] += int(n)
                if is_nan:
                    line["nan"] += int(n)
                    continue
                b = min(int(b), max_points - 1)  # the window's right edge belongs to the last bucket
                acc = agg.get(b)
                if acc is None:
                    agg[b] = [vmin, vmax]
                else:
                    acc[0], acc[1] = min(acc[0], vmin), max(acc[1], vmax)
            step = width / max_points
            for b in sorted(agg):
                vmin, vmax = agg[b]
                cx = round(float(w_lo) + (b + 0.5) * step, 3)  # type: ignore[arg-type]
                line["x"].append(cx)
                line["y"].append(vmin)
                if vmax != vmin:
                    line["x"].append(cx)
                    line["y"].append(vmax)
            line["downsampled"] = True
            return line

        def one(rid: str) -> dict[str, Any]:
            with self._read() as conn:  # type: ignore[attr-defined]
                return line_of(rid, conn)

        from sqlalchemy.pool import StaticPool

        busy = [rid for rid in ids if rid in extent]
        if len(busy) > 1 and not isinstance(self._engine.pool, StaticPool):  # type: ignore[attr-defined]
            # the database does the work and releases the GIL meanwhile: a few runs at once use the cores
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(HISTORY_THREADS, len(busy)),
                                    thread_name_prefix="tureen-chart") as pool:
                done = dict(zip(busy, pool.map(one, busy)))
        else:
            done = {rid: one(rid) for rid in busy}
        lines = [done.get(rid) or line_of(rid, None) for rid in ids]
        return {"key": key, "x": x, "lo": w_lo, "hi": w_hi, "points": max_points, "runs": lines}

    def _history_source(self, conn: Any) -> tuple[Any, dict[str, Any]]:
        """The metrics table as read by the charts, and its columns.

        On SQLite the planner prefers the primary key (it starts with ``key`` and covers every column) and
        then walks every run's points of that key; MLflow's index ``(run_uuid, key, step)`` reads only the
        charted run's points, in step order. ``INDEXED BY`` asks for it when the database has it.
        """
        m = s.metrics
        if self.dialect != "sqlite":  # type: ignore[attr-defined]
            return m, dict(m.c)
        has = getattr(self, "_ui_history_index", None)
        if has is None:
            names = {row[1] for row in conn.exec_driver_sql("PRAGMA index_list(metrics)").all()}
            has = self._ui_history_index = HISTORY_INDEX in names  # type: ignore[attr-defined]
        if not has:
            return m, dict(m.c)
        from sqlalchemy import literal_column, text

        src = text(f"metrics INDEXED BY {HISTORY_INDEX}")
        return src, {name: literal_column(f"metrics.{name}", type_=m.c[name].type) for name in m.c.keys()}

    def metric_history_window(self, run_id: str, key: str, x: str = "step", lo: float | None = None,
                              hi: float | None = None, max_points: int = 1500) -> dict[str, Any]:
        """One run's line of :meth:`metric_histories`, with ``x_min``/``x_max`` of its points."""
        return self.metric_histories([run_id], key, x, lo, hi, max_points)["runs"][0]


HISTORY_INDEX = "index_metrics_run_uuid_key_step"
HISTORY_THREADS = 4  # runs of one chart read at once (own connections)
MAX_CHART_RUNS = 100


def _check_window(run_ids: Sequence[str], x: str, lo: float | None, hi: float | None, max_points: int) -> list[str]:
    """The run ids of a chart request, once each, after checking the request's values (typed errors)."""
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        raise InvalidParameterError("Give at least one run")
    if len(ids) > MAX_CHART_RUNS:
        raise InvalidParameterError(f"At most {MAX_CHART_RUNS} runs in one chart, got {len(ids)}")
    for rid in ids:
        v.validate_run_id(rid)
    if x not in ("step", "time", "relative"):
        raise InvalidParameterError(f"Invalid x axis {x!r}: use step, time or relative")
    if isinstance(max_points, bool) or not isinstance(max_points, int) or not 10 <= max_points <= 20_000:
        raise InvalidParameterError(f"Invalid max_points {max_points!r}: between 10 and 20000")
    for name, val in (("lo", lo), ("hi", hi)):
        if val is not None and not (isinstance(val, (int, float)) and math.isfinite(val) and abs(val) < 1e18):
            raise InvalidParameterError(f"Invalid {name} {val!r}: a finite number")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidParameterError(f"Invalid window: lo {lo} is above hi {hi}")
    return ids
