"""The UI's Flask blueprint: every page and the small JSON endpoints the charts fetch.

Pages read through ``client_factory()`` (a :class:`~tureen.tracking.client.TrackingClient`) and the read
paths of :mod:`tureen.server.ui._data`. Writes are HTML forms posted to ``POST`` routes that answer with a
303 redirect back to the page (so they work with and without JavaScript); a cross-site ``Origin`` is
refused. Every value is escaped by Jinja's autoescaping; data for scripts travels in
``<script type="application/json">`` blocks, and a strict Content-Security-Policy forbids inline scripts.

Example:
    >>> bp = make_blueprint(lambda: TrackingClient())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import urlencode, urlparse

from tureen.exceptions import InvalidParameterError, ResourceAlreadyExistsError, ResourceNotFoundError, TureenError
from tureen.server.ui import _data as d

VIEWS = {"active": 1, "deleted": 2, "all": 3}
PAGE_SIZES = (25, 50, 100, 200)
SINCE = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
DEFAULT_KEYS = 8  # metric and param columns shown when none are chosen
MAX_NESTING = 8  # levels of child runs shown under a page's top-level runs
MAX_CHILD_ROWS = 1000  # child runs shown under one page at most
MAX_CHART_RUNS = 100  # runs of one chart (the charts page keeps the first 100)
MAX_COMPARE_ROWS = 500  # rows of the compare table (12,000 metric keys must not build a page the tab chokes on)
MAX_COMPARE_DIMS = 200  # parameters and metrics sent to the compare page's plots (those that differ first)
MAX_RUN_METRICS = 1000  # metrics listed on a run's page (a filter box finds the others)
KEYSET = "ks"  # page tokens of the runs table that resume after a start time instead of counting rows
STAGES = ("None", "Staging", "Production", "Archived")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


# ======================================================================================================
# formatting helpers (Jinja filters)
# ======================================================================================================
def fmt_time(ms: Any) -> str:
    if ms is None:
        return ""
    try:
        return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return str(ms)


def fmt_duration(start: Any, end: Any) -> str:
    if start is None or end is None:
        return ""
    sec = max(0.0, (int(end) - int(start)) / 1000)
    if sec < 60:
        return f"{sec:.1f}s"
    if sec < 3600:
        return f"{int(sec // 60)}m {int(sec % 60)}s"
    return f"{int(sec // 3600)}h {int(sec % 3600 // 60)}m"


def fmt_num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.6g}"
    return str(value)


def fmt_size(n: Any) -> str:
    if n is None:
        return ""
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def quote_key(key: str) -> str:
    """A key in the search grammar: backticks unless it contains one (then double quotes)."""
    return f"`{key}`" if "`" not in key else f'"{key}"'


def safe_next(url: str | None, default: str) -> str:
    """``url`` if it is a path on this site (no scheme, no host), else ``default``: no open redirects."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    parsed = urlparse(url)
    if parsed.scheme or parsed.netloc:
        return default
    return url


# ======================================================================================================
# the runs table's state (everything lives in the URL)
# ======================================================================================================
class RunsState:
    """The runs view as given by the query string: filter, sort, columns, status/time filters, page."""

    def __init__(self, args: Any) -> None:
        self.filter = (args.get("filter") or "").strip()
        self.sort = args.get("sort") or "attr:start_time"
        self.dir = "asc" if args.get("dir") == "asc" else "desc"
        self.status = [s for s in args.getlist("status") if s in ("RUNNING", "SCHEDULED", "FINISHED", "FAILED",
                                                                   "KILLED")]
        self.since = args.get("since") if args.get("since") in SINCE else ""
        self.view = args.get("view") if args.get("view") in VIEWS else "active"
        try:
            n = int(args.get("n", 50))
        except ValueError:
            n = 50
        self.n = n if n in PAGE_SIZES else 50
        self.page = args.get("page") or None
        self.nested = args.get("nested", "1") != "0"
        self.cols = []
        for c in args.getlist("col"):
            kind, _, key = c.partition(":")
            if kind in ("p", "m", "t") and key and (kind, key) not in self.cols:
                self.cols.append((kind, key))
        self.explicit_cols = bool(self.cols) or args.get("cols") == "none"

    def args(self, **changes: Any) -> list[tuple[str, str]]:
        """The query items of this state with ``changes`` applied (``None`` removes an item)."""
        cur: dict[str, Any] = {"filter": self.filter or None, "sort": None if self.sort == "attr:start_time" else self.sort,
                               "dir": None if self.dir == "desc" else self.dir, "status": self.status,
                               "since": self.since or None, "view": None if self.view == "active" else self.view,
                               "n": None if self.n == 50 else self.n, "nested": None if self.nested else "0",
                               "col": [f"{k}:{key}" for k, key in self.cols] if self.explicit_cols else None,
                               "cols": "none" if self.explicit_cols and not self.cols else None,
                               "page": self.page}
        if "page" not in changes:
            changes["page"] = None
        cur.update(changes)
        items: list[tuple[str, str]] = []
        for k, v in cur.items():
            if v is None:
                continue
            for item in (v if isinstance(v, list) else [v]):
                items.append((k, str(item)))
        return items

    def order_by(self) -> list[str] | None:
        kind, _, key = self.sort.partition(":")
        direction = self.dir.upper()
        if kind == "attr" and key == "start_time" and direction == "DESC":
            return None  # the store's own order, which walks the (experiment, start_time) index
        if kind == "attr" and key in ("start_time", "end_time", "run_name", "status", "user_id"):
            return [f"attributes.{key} {direction}"]
        if kind in ("m", "p", "t") and key:
            entity = {"m": "metrics", "p": "params", "t": "tags"}[kind]
            return [f"{entity}.{quote_key(key)} {direction}"]
        return None

    # -- keyset pages --------------------------------------------------------------------------------
    # Ordered by start time (the default order, or start time ascending), the next page resumes after the
    # last start time shown: ``start_time <= T`` (or ``>=``) walks the (experiment, start_time) index, and
    # only the runs sharing that very start time already shown are skipped. Page 1000 costs what page 1
    # costs. Other orders page by offset (the store's tokens).
    def _keyset_dir(self) -> str | None:
        if self.sort == "attr:start_time":
            return "<=" if self.dir == "desc" else ">="
        return None

    def _keyset(self) -> tuple[int, int] | None:
        if not self.page or not self.page.startswith(KEYSET + ":") or self._keyset_dir() is None:
            return None
        try:
            _p, t, skip = self.page.split(":")
            return int(t), int(skip)
        except ValueError:
            raise InvalidParameterError(f"Invalid page {self.page[:100]!r}: follow the page links") from None

    def store_token(self) -> str | None:
        """The store's page token for this page (keyset pages skip only their ties)."""
        ks = self._keyset()
        if ks is None:
            if self.page and self.page.startswith(KEYSET + ":"):
                return None
            return self.page
        from tureen.tracking._filter import encode_page_token

        return encode_page_token(ks[1]) if ks[1] else None

    def next_token(self, page: Any, runs: list[Any]) -> str | None:
        if not page.token:
            return None
        if self._keyset_dir() is None or not runs or runs[-1].info.start_time is None:
            return page.token
        last = runs[-1].info.start_time
        ties = sum(1 for r in runs if r.info.start_time == last)
        ks = self._keyset()
        if ks is not None and ks[0] == last:
            ties += ks[1]
        return f"{KEYSET}:{last}:{ties}"

    def filter_string(self) -> str:
        parts = [self.filter] if self.filter else []
        ks = self._keyset()
        if ks is not None:
            parts.append(f"attributes.start_time {self._keyset_dir()} {ks[0]}")
        if self.status:
            parts.append("attributes.status IN (" + ", ".join(f"'{s}'" for s in self.status) + ")")
        if self.since:
            parts.append(f"attributes.start_time >= {int((time.time() - SINCE[self.since]) * 1000)}")
        if self.nested and not self.filter:
            parts.append("tags.mlflow.parentRunId IS NULL")
        return " AND ".join(parts)


# ======================================================================================================
# the blueprint
# ======================================================================================================
def make_blueprint(client_factory: Callable[[], Any], artifact_repo: Callable[[str], Any] | None = None) -> Any:
    from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
    from flask import Response

    bp = Blueprint("tureen_ui", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/ui-static")

    def client() -> Any:
        return client_factory()

    for name, fn in (("fmt_time", fmt_time), ("fmt_duration", fmt_duration), ("fmt_num", fmt_num),
                     ("fmt_size", fmt_size)):
        bp.add_app_template_filter(fn, name)

    @bp.before_request
    def _refuse_cross_site() -> Any:
        # forms post back to this site only: a page elsewhere cannot make the browser delete runs
        if request.method in ("POST", "PUT", "DELETE", "PATCH"):
            origin = request.headers.get("Origin") or request.headers.get("Referer")
            if origin and origin != "null":
                host = urlparse(origin).netloc
                if host and host != request.host:
                    abort(403, "Cross-site request refused")
        return None

    @bp.after_request
    def _headers(resp: Any) -> Any:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if resp.mimetype == "text/html":
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    def error_page(exc: TureenError) -> Any:
        status = int(getattr(exc, "http_status", 500) or 500)
        wants_json = request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json" \
            and request.accept_mimetypes["application/json"] > request.accept_mimetypes["text/html"]
        if (request.endpoint or "").rpartition(".")[2].startswith("api_") or wants_json:  # JSON endpoints, any prefix
            return jsonify({"error_code": exc.error_code, "message": exc.message}), status
        return render_template("ui/error.html", error=exc), status

    def back(default: str) -> Any:
        return redirect(safe_next(request.form.get("next"), default), code=303)

    def form_ids(name: str) -> list[str]:
        ids = [x for x in request.form.getlist(name) if x]
        if not ids:
            raise InvalidParameterError(f"Select at least one item ({name})")
        return ids

    # -- permissions under ``tureen server --auth`` (no-ops without it) --------------------------------
    def permission(kind: str, resource: str) -> Any:
        from flask import current_app

        fn = current_app.extensions.get("tureen_auth_permission")
        return None if fn is None else fn(kind, str(resource))

    def may(kind: str, resource: str, action: str) -> bool:
        p = permission(kind, resource)
        return True if p is None else p.allows(action)

    def need(kind: str, resource: str, action: str) -> None:
        if not may(kind, resource, action):
            what = "experiment" if kind == "experiment" else "registered model"
            raise TureenError(f"Permission denied: you lack {action} permission on {what} {resource!r}",
                              error_code="PERMISSION_DENIED", http_status=403)

    def auth_on() -> bool:
        from flask import current_app

        return "tureen_auth_permission" in current_app.extensions

    def need_runs(run_ids: list[str], action: str) -> None:
        """Check ``action`` on the experiment of each run (one read of the runs, only under --auth)."""
        if not auth_on() or not run_ids:
            return
        found = {r.info.run_id: r for r in d.runs_by_ids(client(), run_ids, params=[], metrics=[], tags=[])}
        for rid in run_ids:
            r = found.get(rid)
            if r is None:
                raise ResourceNotFoundError(f"Run with id={rid} not found")
            need("experiment", r.info.experiment_id, action)

    def changed(event: str, kind: str, name: str, new_name: str | None = None) -> None:
        from flask import current_app

        fn = current_app.extensions.get("tureen_auth_changed")
        if fn is not None:
            fn(event, kind, name, new_name)

    bp.add_app_template_global(may, "ui_may")

    # ------------------------------------------------------------------------------------------------
    # experiments
    # ------------------------------------------------------------------------------------------------
    @bp.get("/")
    @bp.get("/experiments")
    def experiments() -> Any:
        q = (request.args.get("q") or "").strip()
        view = request.args.get("view") if request.args.get("view") in VIEWS else "active"
        page = request.args.get("page") or None
        filt = None
        if q:
            filt = "name ILIKE '%" + q.replace("'", "''") + "%'"
        try:
            exps = client().search_experiments(VIEWS[view], 100, filt, ["last_update_time DESC"], page)
        except TureenError as exc:
            return error_page(exc)
        if auth_on():
            token = exps.token
            exps = type(exps)([e for e in exps if may("experiment", e.experiment_id, "read")], token)
        base = [("q", q)] if q else []
        if view != "active":
            base.append(("view", view))
        next_url = url_for(".experiments") + "?" + urlencode(base + [("page", exps.token)]) if exps.token else None
        return render_template("ui/experiments.html", experiments=exps, q=q, view=view, next_url=next_url,
                               here=request.full_path)

    @bp.post("/experiments/create")
    def experiment_create() -> Any:
        name = (request.form.get("name") or "").strip()
        try:
            if not name:
                raise InvalidParameterError("An experiment needs a name")
            eid = client().create_experiment(name)
            changed("created", "experiment", eid)
        except TureenError as exc:
            return error_page(exc)
        return redirect(url_for(".runs", experiment_id=eid), code=303)

    @bp.post("/experiments/<experiment_id>/rename")
    def experiment_rename(experiment_id: str) -> Any:
        name = (request.form.get("name") or "").strip()
        try:
            need("experiment", experiment_id, "update")
            client().rename_experiment(experiment_id, name)
        except (InvalidParameterError, ResourceAlreadyExistsError) as exc:
            # a bad name (empty, too long, another experiment's): the runs page again, the rename form open
            # with the refusal beside it; nothing was changed
            resp = runs_view([experiment_id], rename={"error": exc.message, "value": name},
                             here=safe_next(request.form.get("next"), url_for(".runs", experiment_id=experiment_id)))
            if isinstance(resp, Response) and resp.status_code == 200:
                resp.status_code = int(exc.http_status or 400)
            return resp
        except TureenError as exc:
            return error_page(exc)
        return back(url_for(".runs", experiment_id=experiment_id))

    def experiment_lifecycle(restore: bool) -> Any:
        try:
            c = client()
            ids = form_ids("experiment")
            for eid in ids:
                need("experiment", eid, "delete")
            for eid in ids:
                (c.restore_experiment if restore else c.delete_experiment)(eid)
        except TureenError as exc:
            return error_page(exc)
        return back(url_for(".experiments"))

    @bp.post("/experiments/delete")
    def experiment_delete() -> Any:
        return experiment_lifecycle(False)

    @bp.post("/experiments/restore")
    def experiment_restore() -> Any:
        return experiment_lifecycle(True)

    @bp.get("/compare-experiments")
    def compare_experiments() -> Any:
        ids = [x for x in request.args.getlist("experiment") if x]
        if not ids:
            return redirect(url_for(".experiments"), code=303)
        return redirect(url_for(".runs_multi") + "?" + urlencode([("experiment", i) for i in ids]), code=303)

    # ------------------------------------------------------------------------------------------------
    # runs of one or several experiments
    # ------------------------------------------------------------------------------------------------
    @bp.get("/experiments/<experiment_id>")
    def runs(experiment_id: str) -> Any:
        return runs_view([experiment_id])

    @bp.get("/runs")
    def runs_multi() -> Any:
        ids = [x for x in request.args.getlist("experiment") if x]
        if not ids:
            return redirect(url_for(".experiments"), code=303)
        return runs_view(ids)

    def runs_view(experiment_ids: list[str], rename: dict[str, str] | None = None, here: str | None = None) -> Any:
        c = client()
        try:
            for e in experiment_ids:
                need("experiment", e, "read")
            exps = [c.get_experiment(e) for e in experiment_ids]
        except TureenError as exc:
            return error_page(exc)
        st = RunsState(request.args)
        error = None
        rows: list[dict[str, Any]] = []
        token = None
        t0 = time.perf_counter()
        cols = list(st.cols)
        more_keys = {"m": False, "p": False}
        try:
            if st.explicit_cols:
                page = d.runs_page(c, experiment_ids, st.filter_string(), VIEWS[st.view], st.n, st.order_by(),
                                   st.store_token(), params=[k for t, k in cols if t == "p"],
                                   metrics=[k for t, k in cols if t == "m"], tags=[k for t, k in cols if t == "t"])
                page_runs = list(page)
            else:
                # no columns chosen: the first few metric and param keys of this page's runs
                page = d.runs_page(c, experiment_ids, st.filter_string(), VIEWS[st.view], st.n, st.order_by(),
                                   st.store_token(), params=[], metrics=[], tags=[])
                ids = [r.info.run_id for r in page]
                mkeys, more_keys["m"] = d.keys_of(c, experiment_ids, "metric", limit=DEFAULT_KEYS, run_ids=ids,
                                                  runs=page)
                pkeys, more_keys["p"] = d.keys_of(c, experiment_ids, "param", limit=DEFAULT_KEYS, run_ids=ids,
                                                  runs=page)
                cols = [("m", k) for k in mkeys] + [("p", k) for k in pkeys]
                sort_kind, _, sort_key = st.sort.partition(":")
                if sort_kind in ("m", "p", "t") and sort_key and (sort_kind, sort_key) not in cols:
                    cols.insert(0, (sort_kind, sort_key))
                page_runs = d.runs_by_ids(c, ids, params=[k for t, k in cols if t == "p"],
                                          metrics=[k for t, k in cols if t == "m"], tags=[]) if ids else []
            token = st.next_token(page, page_runs)
            children_of: dict[str, list[Any]] = {}
            if st.nested and not st.filter and page_runs:
                # every level below this page's top-level runs, one query per level (bounded in depth and rows)
                level, seen = [r.info.run_id for r in page_runs], {r.info.run_id for r in page_runs}
                budget = MAX_CHILD_ROWS
                for _depth in range(MAX_NESTING):
                    kids = d.child_runs(c, experiment_ids[0], level, limit=budget)
                    flat = [k for ks in kids.values() for k in ks if k not in seen][:budget]
                    if not flat:
                        break
                    seen.update(flat)
                    budget -= len(flat)
                    got = {r.info.run_id: r for r in d.runs_by_ids(
                        c, flat, params=[k for t, k in cols if t == "p"], metrics=[k for t, k in cols if t == "m"],
                        tags=[k for t, k in cols if t == "t"])}
                    for p, ks in kids.items():
                        children_of[p] = [got[k] for k in ks if k in got]
                    level = [k for k in flat if k in got]
                    if budget <= 0:
                        break

            def add(r: Any, depth: int, parent: str | None) -> None:
                kids_ = children_of.get(r.info.run_id, [])
                rows.append({"run": r, "depth": depth, "children": len(kids_), "parent": parent})
                for ch in kids_:
                    add(ch, depth + 1, r.info.run_id)

            for r in page_runs:
                add(r, 0, None)
        except InvalidParameterError as exc:
            error = exc.message
        except TureenError as exc:
            return error_page(exc)
        server_ms = (time.perf_counter() - t0) * 1000

        base = url_for(".runs", experiment_id=experiment_ids[0]) if len(experiment_ids) == 1 else url_for(".runs_multi")
        extra = [] if len(experiment_ids) == 1 else [("experiment", e) for e in experiment_ids]

        def state_url(**changes: Any) -> str:
            return base + "?" + urlencode(extra + st.args(**changes))

        def col_url(op: str, kind: str, key: str) -> str:
            cur = list(cols)
            item = (kind, key)
            if op == "remove" and item in cur:
                cur.remove(item)
            elif op in ("left", "right") and item in cur:
                i = cur.index(item)
                j = i - 1 if op == "left" else i + 1
                if 0 <= j < len(cur):
                    cur[i], cur[j] = cur[j], cur[i]
            elif op == "add" and item not in cur:
                cur.append(item)
            return state_url(col=[f"{k}:{v}" for k, v in cur] or None, cols=None if cur else "none")

        def sort_url(sort_id: str) -> str:
            new_dir = "asc" if st.sort == sort_id and st.dir == "desc" else "desc"
            return state_url(sort=sort_id, dir=None if new_dir == "desc" else new_dir)

        ctx = dict(experiments=exps, experiment_ids=experiment_ids, st=st, rows=rows, cols=cols, error=error,
                   next_url=state_url(page=token) if token else None, first_url=state_url() if st.page else None,
                   state_url=state_url, col_url=col_url, sort_url=sort_url, more_keys=more_keys,
                   server_ms=server_ms, here=here or request.full_path, extra=extra, base=base, rename=rename,
                   exp_by_id={str(e.experiment_id): e for e in exps})
        template = "ui/_runs_view.html" if request.headers.get("HX-Request") and \
            request.headers.get("HX-Target") == "runs-view" else "ui/runs.html"
        resp = Response(render_template(template, **ctx))
        resp.headers["Server-Timing"] = f"runs;dur={server_ms:.1f}"
        return resp

    @bp.get("/experiments/<experiment_id>/keys")
    def experiment_keys(experiment_id: str) -> Any:
        """The column chooser's list: keys of a kind matching a search, as checkboxes (an htmx partial)."""
        kind = request.args.get("kind", "metric")
        if kind not in ("metric", "param", "tag"):
            return error_page(InvalidParameterError(f"Invalid key kind {kind!r}"))
        like = (request.args.get("q") or "").strip() or None
        prefix = kind[0]
        chosen_keys = [c.partition(":")[2] for c in request.args.getlist("col") if c.startswith(prefix + ":")]
        try:
            need("experiment", experiment_id, "read")
            keys, more = d.keys_of(client(), [experiment_id], kind, like=like, limit=100)
        except TureenError as exc:
            return error_page(exc)
        return render_template("ui/_keys.html", keys=keys, more=more, kind=kind, prefix=prefix,
                               chosen_keys=chosen_keys, like=like)

    @bp.post("/runs/delete")
    def runs_delete() -> Any:
        return runs_lifecycle(False)

    @bp.post("/runs/restore")
    def runs_restore() -> Any:
        return runs_lifecycle(True)

    def runs_lifecycle(restore: bool) -> Any:
        try:
            c = client()
            ids = form_ids("run")
            need_runs(ids, "delete")
            for rid in ids:
                (c.restore_run if restore else c.delete_run)(rid)
        except TureenError as exc:
            return error_page(exc)
        return back(url_for(".experiments"))

    @bp.post("/runs/rename")
    def run_rename() -> Any:
        try:
            rid = (request.form.get("run") or "").strip()
            name = (request.form.get("name") or "").strip()
            if not rid or not name:
                raise InvalidParameterError("Renaming needs a run and a new name")
            need_runs([rid], "update")
            client().update_run(rid, name=name)
        except TureenError as exc:
            return error_page(exc)
        return back(url_for(".run", run_id=rid))

    # ------------------------------------------------------------------------------------------------
    # one run
    # ------------------------------------------------------------------------------------------------
    @bp.get("/runs/<run_id>")
    def run(run_id: str) -> Any:
        c = client()
        try:
            r = c.get_run(run_id)
            need("experiment", r.info.experiment_id, "read")
            exp = c.get_experiment(r.info.experiment_id)
            metrics = d.metric_summary(c, r)
            metric_count = len(metrics)
            mq = (request.args.get("mq") or "").strip().lower()
            if mq:
                metrics = [m for m in metrics if mq in m["key"].lower()]
            metric_matches = len(metrics)
            metrics = metrics[:MAX_RUN_METRICS]
            parent_id = r.data.tags.get("mlflow.parentRunId")
            parent = None
            if parent_id:
                try:
                    parent = c.get_run(parent_id)
                except ResourceNotFoundError:
                    parent = None
            kids = d.child_runs(c, r.info.experiment_id, [run_id]).get(run_id, [])
            children = d.runs_by_ids(c, kids[:100], params=[], metrics=[], tags=[]) if kids else []
            try:
                logged = list(c.search_logged_models([r.info.experiment_id],
                                                     f"source_run_id = '{run_id}'", max_results=100))
            except TureenError:
                logged = []
            try:
                versions = [v for v in c.search_model_versions(f"run_id = '{run_id}'", max_results=100)
                            if may("model", v.name, "read")]
            except TureenError:
                versions = []
        except TureenError as exc:
            return error_page(exc)
        user_tags = {k: v for k, v in sorted(r.data.tags.items()) if not k.startswith("mlflow.")}
        system_tags = {k: v for k, v in sorted(r.data.tags.items()) if k.startswith("mlflow.")}
        return render_template("ui/run.html", run=r, exp=exp, metrics=metrics, metric_count=metric_count,
                               metric_matches=metric_matches, mq=mq, parent=parent, children=children,
                               more_children=len(kids) > 100, logged=logged, versions=versions,
                               user_tags=user_tags, system_tags=system_tags,
                               description=r.data.tags.get("mlflow.note.content", ""), here=request.full_path)

    @bp.post("/runs/<run_id>/description")
    def run_description(run_id: str) -> Any:
        try:
            need_runs([run_id], "update")
            client().set_tag(run_id, "mlflow.note.content", request.form.get("description") or "")
        except TureenError as exc:
            return error_page(exc)
        return back(url_for(".run", run_id=run_id))

    @bp.post("/runs/<run_id>/tags")
    def run_tag(run_id: str) -> Any:
        try:
            key = (request.form.get("key") or "").strip()
            if not key:
                raise InvalidParameterError("A tag needs a key")
            need_runs([run_id], "update")
            if request.form.get("delete"):
                client().delete_tag(run_id, key)
            else:
                client().set_tag(run_id, key, request.form.get("value") or "")
        except TureenError as exc:
            return error_page(exc)
        return back(url_for(".run", run_id=run_id))

    # -- the artifact browser, of a run or of a logged model ---------------------------------------------
    # ``owner`` is ("run", run_id) or ("model", model_id); the repository, the permission check and the
    # URLs the templates link to follow from it.
    def art_urls(owner: tuple[str, str]) -> dict[str, str]:
        kind, oid = owner
        if kind == "run":
            return {"tree": url_for(".artifacts", run_id=oid), "preview": url_for(".artifact_preview", run_id=oid),
                    "raw": url_for(".artifact_raw", run_id=oid), "back": url_for(".run", run_id=oid),
                    "back_label": "Back to the run"}
        return {"tree": url_for(".logged_model_artifacts", model_id=oid),
                "preview": url_for(".logged_model_artifact_preview", model_id=oid),
                "raw": url_for(".logged_model_artifact_raw", model_id=oid),
                "back": url_for(".logged_model", model_id=oid), "back_label": "Back to the logged model"}

    def owner_repo(owner: tuple[str, str]) -> Any:
        """The artifact repository of ``owner`` after the read permission check."""
        kind, oid = owner
        c = client()
        if kind == "run":
            need_runs([oid], "read")
            return d._repo(c, oid, artifact_repo)
        lm = c.get_logged_model(oid)
        need("experiment", lm.experiment_id, "read")
        return d.open_repo(lm.artifact_location, artifact_repo)

    def owner_file(owner: tuple[str, str], path: str, limit: int = d.PREVIEW_LIMIT) -> tuple[bytes, int, bool]:
        from tureen.artifacts.local import check_relative_path

        repo = owner_repo(owner)  # the permission check first
        rel = check_relative_path(path)
        if not rel:
            raise InvalidParameterError("Give the path of an artifact file")
        return d.read_repo_file(repo, rel, limit)

    def artifact_tree(owner: tuple[str, str]) -> Any:
        """One directory of the artifact tree (an htmx partial; a page of its own without JavaScript)."""
        from tureen.artifacts.local import check_relative_path

        try:
            repo = owner_repo(owner)  # the permission check first
            path = check_relative_path(request.args.get("path") or "")
            files = repo.list_artifacts(path or None)
        except TureenError as exc:
            return error_page(exc)
        return render_template("ui/_artifacts.html", art=art_urls(owner), path=path, files=files,
                               partial=bool(request.headers.get("HX-Request")))

    def artifact_preview_of(owner: tuple[str, str]) -> Any:
        path = request.args.get("path") or ""
        try:
            data, size, truncated = owner_file(owner, path)
        except TureenError as exc:
            return error_page(exc)
        kind = d.preview_kind(path)
        ctx: dict[str, Any] = {"art": art_urls(owner), "path": path, "size": size, "truncated": truncated,
                               "kind": kind, "partial": bool(request.headers.get("HX-Request"))}
        text = None if kind == "image" else d.decode_text(data)
        if kind != "image" and text is None:
            kind = ctx["kind"] = "binary"
        if kind == "csv":
            header, body, more = d.csv_table(text or "", "\t" if path.lower().endswith(".tsv") else ",")
            ctx.update(header=header, body=body, more=more or truncated)
        elif kind == "json":
            try:
                ctx["text"] = json.dumps(json.loads(text or ""), indent=2)[: d.PREVIEW_LIMIT]
            except ValueError:
                ctx["text"] = text
        elif kind == "mlmodel":
            ctx["text"] = text
            ctx["info"] = d.mlmodel_info(text or "")
            folder = path.rpartition("/")[0]
            for extra in ("requirements.txt", "python_env.yaml", "conda.yaml"):
                try:
                    raw, _s, _t = owner_file(owner, f"{folder}/{extra}" if folder else extra, 64_000)
                    ctx.setdefault("extras", []).append((extra, d.decode_text(raw) or ""))
                except TureenError:
                    continue
        elif kind in ("text", "yaml"):
            ctx["text"] = text
        return render_template("ui/_preview.html", **ctx)

    def artifact_raw_of(owner: tuple[str, str]) -> Any:
        """The bytes of an artifact: images inline, everything else as a download (never rendered as HTML)."""
        from urllib.parse import quote

        path = request.args.get("path") or ""
        try:
            data, size, truncated = owner_file(owner, path, limit=50_000_000)
        except TureenError as exc:
            return error_page(exc)
        if truncated:
            return error_page(InvalidParameterError(f"The artifact {path!r} is larger than 50 MB: download it with "
                                                    "`tureen artifacts download`"))
        name = path.rsplit("/", 1)[-1]
        suffix = "." + name.lower().rsplit(".", 1)[-1] if "." in name else ""
        mime = d.IMAGE_TYPES.get(suffix)
        resp = Response(data, mimetype=mime or "application/octet-stream")
        if mime is None:
            resp.headers["Content-Disposition"] = "attachment; filename*=UTF-8''" + quote(name)
        resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return resp

    @bp.get("/runs/<run_id>/artifacts")
    def artifacts(run_id: str) -> Any:
        return artifact_tree(("run", run_id))

    @bp.get("/runs/<run_id>/artifacts/preview")
    def artifact_preview(run_id: str) -> Any:
        return artifact_preview_of(("run", run_id))

    @bp.get("/runs/<run_id>/artifacts/raw")
    def artifact_raw(run_id: str) -> Any:
        return artifact_raw_of(("run", run_id))

    # ------------------------------------------------------------------------------------------------
    # a logged model (MLflow 3's ``m-…`` models): its facts, params, metrics, tags and files
    # ------------------------------------------------------------------------------------------------
    @bp.get("/logged-models/<model_id>")
    def logged_model(model_id: str) -> Any:
        c = client()
        try:
            lm = c.get_logged_model(model_id)
            need("experiment", lm.experiment_id, "read")
            exp = c.get_experiment(lm.experiment_id)
            source = None
            if lm.source_run_id:
                try:
                    source = c.get_run(lm.source_run_id)
                except ResourceNotFoundError:
                    source = None
            metrics = d.logged_model_metrics(c, model_id)
        except TureenError as exc:
            return error_page(exc)
        user_tags = {k: v for k, v in sorted(lm.tags.items()) if not k.startswith("mlflow.")}
        system_tags = {k: v for k, v in sorted(lm.tags.items()) if k.startswith("mlflow.")}
        return render_template("ui/logged_model.html", lm=lm, exp=exp, source=source, metrics=metrics,
                               user_tags=user_tags, system_tags=system_tags, art=art_urls(("model", model_id)))

    @bp.get("/logged-models/<model_id>/artifacts")
    def logged_model_artifacts(model_id: str) -> Any:
        return artifact_tree(("model", model_id))

    @bp.get("/logged-models/<model_id>/artifacts/preview")
    def logged_model_artifact_preview(model_id: str) -> Any:
        return artifact_preview_of(("model", model_id))

    @bp.get("/logged-models/<model_id>/artifacts/raw")
    def logged_model_artifact_raw(model_id: str) -> Any:
        return artifact_raw_of(("model", model_id))

    # ------------------------------------------------------------------------------------------------
    # metric charts
    # ------------------------------------------------------------------------------------------------
    @bp.get("/charts")
    def charts() -> Any:
        run_ids = [x for x in request.args.getlist("run") if x][:100]
        if not run_ids:
            return error_page(InvalidParameterError("Choose runs to chart (select them in the runs table)"))
        c = client()
        try:
            need_runs(run_ids, "read")
            runs_ = d.runs_by_ids(c, run_ids, params=[], metrics=None, tags=[])
            if not runs_:
                raise ResourceNotFoundError("None of the runs exist")
            all_keys = sorted({k for r in runs_ for k in r.data.metrics})
        except TureenError as exc:
            return error_page(exc)
        keys = [k for k in request.args.getlist("key") if k in all_keys] or all_keys[:4]
        x = request.args.get("x") or "step"
        try:
            if x not in ("step", "time", "relative"):
                raise InvalidParameterError(f"Invalid x axis {x[:100]!r}: use step, time or relative")
            smooth = _opt_float(request.args.get("smooth")) or 0.0
        except ValueError:
            return error_page(InvalidParameterError("smooth must be a number from 0 to 0.99"))
        except TureenError as exc:
            return error_page(exc)
        smooth = round(min(0.99, max(0.0, smooth)), 4)  # the factor is clamped, as MLflow's slider is
        config = {"runs": [{"id": r.info.run_id, "name": r.info.run_name or r.info.run_id,
                            "start": r.info.start_time} for r in runs_],
                  "keys": keys, "x": x, "log": request.args.get("log") == "1",
                  "smooth": smooth, "points": 1500,
                  "api": url_for(".api_metrics")}
        return render_template("ui/charts.html", runs=runs_, all_keys=all_keys, keys=keys, x=x, config=config,
                               log=config["log"], smooth=config["smooth"])

    def chart_args() -> tuple[str, str, float | None, float | None, int]:
        key = request.args.get("key") or ""
        if not key:
            raise InvalidParameterError("Give the metric key (key=)")
        x = request.args.get("x", "step")
        if x not in ("step", "time", "relative"):
            raise InvalidParameterError(f"Invalid x axis {x!r}: use step, time or relative")
        try:
            points = int(request.args.get("points", 1500))
            lo = _opt_float(request.args.get("lo"))
            hi = _opt_float(request.args.get("hi"))
        except ValueError:
            raise InvalidParameterError("points, lo and hi must be numbers (lo and hi finite)") from None
        return key, x, lo, hi, points

    @bp.get("/ui-api/metrics")
    def api_metrics() -> Any:
        """One metric of several runs (``run=`` repeated), each line downsampled on one shared grid of
        buckets: ``{"key", "x", "lo", "hi", "points", "runs": [{"run", "x": [...], "y": [...], ...}]}``."""
        run_ids = [r for r in request.args.getlist("run") if r]
        try:
            key, x, lo, hi, points = chart_args()
            if not run_ids:
                raise InvalidParameterError("Give at least one run (run=)")
            if len(set(run_ids)) > MAX_CHART_RUNS:
                raise InvalidParameterError(f"At most {MAX_CHART_RUNS} runs in one chart")
            need_runs(list(dict.fromkeys(run_ids)), "read")
            out = d.metric_lines(client(), run_ids, key, x, lo, hi, points)
        except TureenError as exc:
            return error_page(exc)
        return jsonify(out)

    @bp.get("/ui-api/metric")
    def api_metric() -> Any:
        """``{"x": [...], "y": [...], "count", "downsampled", ...}`` of one run's metric (one line of
        ``/ui-api/metrics``)."""
        run_id = request.args.get("run") or ""
        try:
            key, x, lo, hi, points = chart_args()
            need_runs([run_id], "read")
            out = d.metric_window(client(), run_id, key, x, lo, hi, points)
        except TureenError as exc:
            return error_page(exc)
        return jsonify(out)

    # ------------------------------------------------------------------------------------------------
    # compare runs
    # ------------------------------------------------------------------------------------------------
    @bp.get("/compare")
    def compare() -> Any:
        run_ids = list(dict.fromkeys(x for x in request.args.getlist("run") if x))[:200]
        if len(run_ids) < 1:
            return error_page(InvalidParameterError("Choose runs to compare (select them in the runs table)"))
        try:
            need_runs(run_ids, "read")
            runs_ = d.runs_by_ids(client(), run_ids, params=None, metrics=None, tags=None)
        except TureenError as exc:
            return error_page(exc)
        if not runs_:
            return error_page(ResourceNotFoundError("None of the runs exist"))
        pkeys = sorted({k for r in runs_ for k in r.data.params})
        mkeys = sorted({k for r in runs_ for k in r.data.metrics})
        tkeys = sorted({k for r in runs_ for k in r.data.tags if not k.startswith("mlflow.")})

        def row(kind: str, key: str, values: list[Any]) -> dict[str, Any]:
            shown = [fmt_num(v) if v is not None else "" for v in values]
            return {"kind": kind, "key": key, "cells": shown, "differs": len(set(shown)) > 1}

        q = (request.args.get("q") or "").strip().lower()
        if q:
            pkeys, mkeys, tkeys = ([k for k in keys if q in k.lower()] for keys in (pkeys, mkeys, tkeys))
        only_diff = request.args.get("diff") == "1"
        table = [row("param", k, [r.data.params.get(k) for r in runs_]) for k in pkeys]
        table += [row("metric", k, [r.data.metrics.get(k) for r in runs_]) for k in mkeys]
        table += [row("tag", k, [r.data.tags.get(k) for r in runs_]) for k in tkeys]
        if only_diff:
            table = [t for t in table if t["differs"]]
        total_rows = len(table)
        table = table[:MAX_COMPARE_ROWS]
        # the plots get the keys that differ first, at most MAX_COMPARE_DIMS of them
        differs = {(t["kind"], t["key"]) for t in table if t["differs"]}
        total_dims = len(pkeys) + len(mkeys)
        pkeys = sorted(pkeys, key=lambda k: ("param", k) not in differs)
        mkeys = sorted(mkeys, key=lambda k: ("metric", k) not in differs)
        n_params = min(len(pkeys), MAX_COMPARE_DIMS // 2 if len(mkeys) > MAX_COMPARE_DIMS // 2 else MAX_COMPARE_DIMS - len(mkeys))
        pkeys, mkeys = pkeys[:n_params], mkeys[:MAX_COMPARE_DIMS - n_params]
        dims = []
        for k in pkeys:
            vals = [r.data.params.get(k) for r in runs_]
            nums = [_opt_float_or_none(v) for v in vals]
            numeric = all(n is not None for n, v in zip(nums, vals) if v is not None)
            dims.append({"name": f"params.{k}", "numeric": numeric,
                         "values": nums if numeric else [v for v in vals]})
        for k in mkeys:
            vals = [r.data.metrics.get(k) for r in runs_]
            dims.append({"name": f"metrics.{k}", "numeric": True,
                         "values": [None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v
                                    for v in vals]})
        data = {"runs": [{"id": r.info.run_id, "name": r.info.run_name or r.info.run_id[:8]} for r in runs_],
                "dims": dims, "pc_max": 24}
        # the plots' choices (names of keys; the page's script ignores unknown ones) ride along the links
        choices = [("pc", v[:1000]) for v in request.args.getlist("pc")[:MAX_COMPARE_DIMS]] + \
            [(k, request.args[k][:1000]) for k in ("sx", "sy") if request.args.get(k)]
        keep = [("run", r) for r in run_ids] + ([("q", q)] if q else []) + choices
        diff_url = url_for(".compare") + "?" + urlencode(keep + ([] if only_diff else [("diff", "1")]))
        return render_template("ui/compare.html", runs=runs_, table=table, only_diff=only_diff, data=data,
                               diff_url=diff_url, total_rows=total_rows, total_dims=total_dims, q=q,
                               run_ids=run_ids, choices=choices)

    # ------------------------------------------------------------------------------------------------
    # registry
    # ------------------------------------------------------------------------------------------------
    @bp.get("/models")
    def models() -> Any:
        q = (request.args.get("q") or "").strip()
        page = request.args.get("page") or None
        filt = ("name ILIKE '%" + q.replace("'", "''") + "%'") if q else None
        try:
            found = client().search_registered_models(filt, 100, ["name ASC"], page)
        except TureenError as exc:
            return error_page(exc)
        if auth_on():
            found = type(found)([m for m in found if may("model", m.name, "read")], found.token)
        next_url = url_for(".models") + "?" + urlencode(([("q", q)] if q else []) + [("page", found.token)]) \
            if found.token else None
        return render_template("ui/models.html", models=found, q=q, next_url=next_url)

    @bp.post("/models/create")
    def model_create() -> Any:
        name = (request.form.get("name") or "").strip()
        try:
            if not name:
                raise InvalidParameterError("A registered model needs a name")
            client().create_registered_model(name)
            changed("created", "model", name)
        except TureenError as exc:
            return error_page(exc)
        return redirect(url_for(".model", name=name), code=303)

    @bp.get("/model")
    def model() -> Any:
        name = request.args.get("name") or ""
        c = client()
        try:
            need("model", name, "read")
            m = c.get_registered_model(name)
            versions = list(c.search_model_versions("name = '" + name.replace("'", "''") + "'", 1000,
                                                    ["version_number DESC"]))
        except TureenError as exc:
            return error_page(exc)
        return render_template("ui/model.html", model=m, versions=versions, stages=STAGES,
                               here=request.full_path)

    @bp.post("/model/<action>")
    def model_action(action: str) -> Any:
        f = request.form
        name = f.get("name") or ""
        c = client()
        try:
            required = {"alias": "delete" if f.get("delete") else "update", "stage": "update",
                        "description": "update", "tag": "delete" if f.get("delete") and f.get("version") else "update",
                        "rename": "update", "delete": "delete"}.get(action, "manage")
            need("model", name, required)
            if action == "alias":
                alias = (f.get("alias") or "").strip()
                if not alias:
                    raise InvalidParameterError("An alias needs a name")
                if f.get("delete"):
                    c.delete_registered_model_alias(name, alias)
                else:
                    c.set_registered_model_alias(name, alias, (f.get("version") or "").strip())
            elif action == "stage":
                stage = f.get("stage") or ""
                if stage not in STAGES:
                    raise InvalidParameterError(f"Invalid stage {stage!r}: use one of {', '.join(STAGES)}")
                c.transition_model_version_stage(name, f.get("version") or "", stage,
                                                 archive_existing_versions=bool(f.get("archive_existing")))
            elif action == "description":
                if f.get("version"):
                    c.update_model_version(name, f.get("version") or "", f.get("description") or "")
                else:
                    c.update_registered_model(name, f.get("description") or "")
            elif action == "tag":
                key = (f.get("key") or "").strip()
                if not key:
                    raise InvalidParameterError("A tag needs a key")
                version = f.get("version")
                if f.get("delete"):
                    if version:
                        c.delete_model_version_tag(name, version, key)
                    else:
                        c.delete_registered_model_tag(name, key)
                elif version:
                    c.set_model_version_tag(name, version, key, f.get("value") or "")
                else:
                    c.set_registered_model_tag(name, key, f.get("value") or "")
            elif action == "rename":
                new = (f.get("new_name") or "").strip()
                c.rename_registered_model(name, new)
                changed("renamed", "model", name, new)
                return redirect(url_for(".model", name=new), code=303)
            elif action == "delete":
                if f.get("version"):
                    c.delete_model_version(name, f.get("version") or "")
                else:
                    c.delete_registered_model(name)
                    changed("deleted", "model", name)
                    return redirect(url_for(".models"), code=303)
            else:
                raise ResourceNotFoundError(f"No model action {action!r}")
        except TureenError as exc:
            return error_page(exc)
        return back(url_for(".model", name=name))

    @bp.get("/model/version")
    def model_version() -> Any:
        name = request.args.get("name") or ""
        version = request.args.get("version") or ""
        c = client()
        try:
            need("model", name, "read")
            mv = c.get_model_version(name, version)
            uri = c.get_model_version_download_uri(name, version)
        except TureenError as exc:
            return error_page(exc)
        info: dict[str, Any] = {}
        requirements = None
        try:
            repo = d.open_repo(uri, artifact_repo)
            raw, _s, _t = d.read_repo_file(repo, "MLmodel", 1_000_000)
            info = d.mlmodel_info(d.decode_text(raw) or "")
            try:
                req, _s, _t = d.read_repo_file(repo, "requirements.txt", 64_000)
                requirements = d.decode_text(req)
            except TureenError:
                requirements = None
        except TureenError as exc:
            info = {"error": f"The model files could not be read: {exc.message}"}
        run_ = None
        if mv.run_id:
            try:
                run_ = c.get_run(mv.run_id)
            except TureenError:
                run_ = None
        serve_cmd = f"tureen serve -m 'models:/{name}/{version}'"
        return render_template("ui/model_version.html", mv=mv, uri=uri, info=info, requirements=requirements,
                               run=run_, serve_cmd=serve_cmd, stages=STAGES, here=request.full_path)

    return bp


def _opt_float(text: Any) -> float | None:
    if text in (None, ""):
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _opt_float_or_none(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
