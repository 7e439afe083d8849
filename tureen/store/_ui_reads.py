"""Read paths of the SQL store that the web UI needs and the public store API does not offer cheaply.

* :meth:`UiReadsMixin.search_runs_columns` — one page of :meth:`search_runs`, loading only the param,
  metric and tag keys the table shows (an experiment with 12,000 metric keys costs what 10 keys cost);
* :meth:`UiReadsMixin.run_keys` — the distinct param/metric/tag keys of an experiment (or of some runs),
  bounded and optionally filtered by a substring, for the column chooser;
* :meth:`UiReadsMixin.metric_history_window` — a metric history downsampled in SQL to at most about
  ``max_points`` points: buckets over x keep their minimum and maximum, so a spike is never dropped.

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

from tureen.exceptions import InvalidParameterError
from tureen.tracking import _validation as v
from tureen.tracking.entities import PagedList, Run, RunData, RunInfo, RunOutputs
from tureen.store import _schema as s
from tureen.store._common import experiment_id_of

__all__ = ["UiReadsMixin", "ALWAYS_TAGS"]

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

    def metric_history_window(self, run_id: str, key: str, x: str = "step", lo: float | None = None,
                              hi: float | None = None, max_points: int = 1500) -> dict[str, Any]:
        """A metric history between ``lo`` and ``hi`` on the x axis, at most about ``2 * max_points`` points.

        ``x`` is ``step`` or ``time`` (the timestamp, ms). With more points than ``max_points`` in the
        window, the window is cut in ``max_points`` equal buckets and each bucket gives its minimum and its
        maximum (both at the bucket's mean x), computed by the database: the chart draws the true envelope,
        so a single spike survives any zoom level.

        Returns ``{"x": [...], "y": [...], "count": n, "downsampled": bool, "x_min", "x_max", "nan": k}``.
        """
        v.validate_run_id(run_id)
        if x not in ("step", "time"):
            raise InvalidParameterError(f"Invalid x axis {x!r}: use step or time")
        if not isinstance(max_points, int) or not 10 <= max_points <= 20_000:
            raise InvalidParameterError(f"Invalid max_points {max_points!r}: between 10 and 20000")
        m = s.metrics
        col = m.c.step if x == "step" else m.c.timestamp
        base = [m.c.run_uuid == run_id, m.c.key == key]
        if lo is not None:
            base.append(col >= lo)
        if hi is not None:
            base.append(col <= hi)
        with self._read() as conn:  # type: ignore[attr-defined]
            self._run_row(conn, run_id)  # type: ignore[attr-defined]
            stats = conn.execute(select(func.count(), func.min(col), func.max(col),
                                        func.sum(cast(m.c.is_nan, Integer))).where(*base)).one()
            count, x_min, x_max, nan = int(stats[0] or 0), stats[1], stats[2], int(stats[3] or 0)
            out: dict[str, Any] = {"count": count, "x_min": x_min, "x_max": x_max, "nan": nan, "x": [], "y": [],
                                   "downsampled": False}
            if count == 0:
                return out
            finite = base + [m.c.is_nan == False]  # noqa: E712 - NaN points are counted, not drawn
            if count <= max_points:
                rows = conn.execute(select(col, m.c.value).where(*finite).order_by(col, m.c.timestamp)).all()
                out["x"] = [r[0] for r in rows]
                out["y"] = [r[1] for r in rows]
                return out
            width = (float(x_max) - float(x_min)) or 1.0
            # integer bucket number 0..max_points-1 of each point, computed in the database
            bucket = cast((col - literal(x_min)) * literal(max_points / width), Integer)
            bucket = func.min(bucket, max_points - 1) if self.dialect == "sqlite" else \
                func.least(bucket, max_points - 1)  # type: ignore[attr-defined]
            q = (select(bucket.label("b"), func.avg(col), func.min(m.c.value), func.max(m.c.value))
                 .where(*finite).group_by("b").order_by("b"))
            xs: list[float] = []
            ys: list[float] = []
            for _b, cx, vmin, vmax in conn.execute(q).all():
                xs.append(float(cx))
                ys.append(vmin)
                if vmax != vmin:
                    xs.append(float(cx))
                    ys.append(vmax)
            out.update(x=xs, y=ys, downsampled=True)
            return out
