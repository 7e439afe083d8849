"""What the pages read, through a :class:`~tureen.tracking.client.TrackingClient`.

The SQL store has cheap read paths for the UI (:mod:`tureen.tracking.stores._ui_reads`: only the chosen
columns of a page of runs, distinct keys, metric histories downsampled in SQL); any other store (the REST
store of an ``http://`` tracking URI) gets the same answers from the public client methods, computed here.

Example:
    >>> downsample([0, 1, 2, 3], [1.0, 9.0, 1.0, 1.0], max_points=2)["y"]
    [1.0, 9.0, 1.0]
"""

from __future__ import annotations

import io
import json
import math
from typing import Any, Sequence

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError

#: tags every row of the runs table shows whatever columns are chosen
ALWAYS_TAGS = ("mlflow.runName", "mlflow.parentRunId", "mlflow.user", "mlflow.source.name", "mlflow.source.type")

PREVIEW_LIMIT = 1_000_000  # bytes of an artifact read for a preview
CSV_ROWS = 200


def _store(client: Any) -> Any:
    return client._store  # noqa: SLF001 - the UI is part of tureen; feature-detected below


def runs_page(client: Any, experiment_ids: Sequence[str], filter_string: str, view: int, max_results: int,
              order_by: list[str] | None, page_token: str | None, *, params: Sequence[str] | None,
              metrics: Sequence[str] | None, tags: Sequence[str] | None) -> Any:
    """One page of runs carrying (at least) the chosen keys; ``None`` for a kind = every key."""
    store = _store(client)
    if hasattr(store, "search_runs_columns"):
        return store.search_runs_columns(experiment_ids, filter_string, view, max_results, order_by, page_token,
                                         params=params, metrics=metrics, tags=tags)
    return client.search_runs(experiment_ids, filter_string, view, max_results, order_by, page_token)


def runs_by_ids(client: Any, run_ids: Sequence[str], *, params: Sequence[str] | None,
                metrics: Sequence[str] | None, tags: Sequence[str] | None) -> list[Any]:
    """Runs by id in the given order, with the chosen keys (all keys on stores without the UI read path)."""
    store = _store(client)
    if hasattr(store, "runs_with_keys"):
        return store.runs_with_keys(list(run_ids), params, metrics,
                                    None if tags is None else sorted(set(tags) | set(ALWAYS_TAGS)))
    return [client.get_run(r) for r in run_ids]


def keys_of(client: Any, experiment_ids: Sequence[str] | None, kind: str, *, like: str | None = None,
            limit: int = 200, run_ids: Sequence[str] | None = None, runs: Sequence[Any] = ()) -> tuple[list[str], bool]:
    """Distinct keys (sorted) of ``kind`` in experiments or runs, at most ``limit``; and whether more exist."""
    store = _store(client)
    if hasattr(store, "run_keys"):
        return store.run_keys(experiment_ids, kind, like=like, limit=limit, run_ids=run_ids)
    if not runs:
        runs = client.search_runs(list(experiment_ids or []), "", 1, 1000)
    attr = {"param": "params", "metric": "metrics", "tag": "tags"}[kind]
    found = sorted({k for r in runs for k in getattr(r.data, attr)
                    if not like or like.lower() in k.lower()})
    return found[:limit], len(found) > limit


def downsample(xs: Sequence[float], ys: Sequence[float], max_points: int = 1500, lo: float | None = None,
               hi: float | None = None) -> dict[str, Any]:
    """Min/max bucketing of a series sorted by x to about ``2 * max_points`` points (spikes always kept).

    The rule of the SQL store's ``metric_histories``: the window ``[lo, hi]`` (default: the series' own x
    range) is cut in ``max_points`` equal buckets; with more than ``max_points`` points each bucket gives its
    minimum and its maximum at the bucket's centre, otherwise every point is kept. NaN values are skipped.

    Example:
        >>> downsample([0, 1, 2, 3], [1.0, 9.0, 1.0, 1.0], max_points=2)
        {'x': [0.75, 0.75, 2.25], 'y': [1.0, 9.0, 1.0], 'downsampled': True}
    """
    pts = [(x, y) for x, y in zip(xs, ys) if not (isinstance(y, float) and math.isnan(y))]
    if len(pts) <= max_points:
        return {"x": [p[0] for p in pts], "y": [p[1] for p in pts], "downsampled": False}
    x0 = float(pts[0][0] if lo is None else lo)
    width = float(pts[-1][0] if hi is None else hi) - x0
    scale = max_points / width if width > 0 else 0.0
    buckets: dict[int, list[float]] = {}
    for x, y in pts:
        b = min(int((x - x0) * scale), max_points - 1)
        acc = buckets.get(b)
        if acc is None:
            buckets[b] = [y, y]
        elif y < acc[0]:
            acc[0] = y
        elif y > acc[1]:
            acc[1] = y
    out_x: list[float] = []
    out_y: list[float] = []
    step = width / max_points
    for b in sorted(buckets):
        lo_y, hi_y = buckets[b]
        cx = round(x0 + (b + 0.5) * step, 3)
        out_x.append(cx)
        out_y.append(lo_y)
        if hi_y != lo_y:
            out_x.append(cx)
            out_y.append(hi_y)
    return {"x": out_x, "y": out_y, "downsampled": True}


def metric_lines(client: Any, run_ids: Sequence[str], key: str, x: str = "step", lo: float | None = None,
                 hi: float | None = None, max_points: int = 1500) -> dict[str, Any]:
    """One metric of several runs for a chart, on one grid of buckets (see the SQL store's
    ``metric_histories`` for the shape); other stores get the same answer computed here."""
    store = _store(client)
    if hasattr(store, "metric_histories"):
        return store.metric_histories(list(run_ids), key, x, lo, hi, max_points)
    from tureen.store._ui_reads import _check_window

    ids = _check_window(run_ids, x, lo, hi, max_points)
    series: dict[str, list[tuple[float, float]]] = {}
    for rid in ids:
        shift = int(client.get_run(rid).info.start_time or 0) if x == "relative" else 0
        pts = sorted(((m.step if x == "step" else m.timestamp - shift), m.timestamp, m.value)
                     for m in client.get_metric_history(rid, key))
        series[rid] = [(p[0], p[2]) for p in pts if (lo is None or p[0] >= lo) and (hi is None or p[0] <= hi)]
    firsts = [p[0][0] for p in series.values() if p]
    lasts = [p[-1][0] for p in series.values() if p]
    w_lo = lo if lo is not None else (min(firsts) if firsts else None)
    w_hi = hi if hi is not None else (max(lasts) if lasts else None)
    lines = []
    for rid in ids:
        pts = series[rid]
        nan = sum(1 for _, y in pts if isinstance(y, float) and math.isnan(y))
        line = downsample([p[0] for p in pts], [p[1] for p in pts], max_points, w_lo, w_hi)
        line.update(run=rid, count=len(pts), nan=nan, x_min=pts[0][0] if pts else None,
                    x_max=pts[-1][0] if pts else None)
        lines.append(line)
    return {"key": key, "x": x, "lo": w_lo, "hi": w_hi, "points": max_points, "runs": lines}


def metric_window(client: Any, run_id: str, key: str, x: str = "step", lo: float | None = None,
                  hi: float | None = None, max_points: int = 1500) -> dict[str, Any]:
    """One run's line of :func:`metric_lines`: ``{"x", "y", "count", "downsampled", "x_min", "x_max", "nan"}``."""
    return metric_lines(client, [run_id], key, x, lo, hi, max_points)["runs"][0]


def metric_summary(client: Any, run: Any) -> list[dict[str, Any]]:
    """Each metric of a run: latest value, min, max and number of points."""
    store = _store(client)
    if hasattr(store, "metric_summary"):
        stats = store.metric_summary(run.info.run_id)
    else:
        stats = {}
        for key in run.data.metrics:
            vals = [m.value for m in client.get_metric_history(run.info.run_id, key)
                    if not (isinstance(m.value, float) and math.isnan(m.value))]
            stats[key] = (min(vals) if vals else None, max(vals) if vals else None, len(vals))
    out = []
    for key in sorted(run.data.metrics):
        lo, hi, n = stats.get(key, (None, None, 0))
        out.append({"key": key, "latest": run.data.metrics[key], "min": lo, "max": hi, "count": n})
    return out


def logged_model_metrics(client: Any, model_id: str) -> list[dict[str, Any]]:
    """The metrics recorded for a logged model (``log_metric(..., model_id=)``): for each key, the value at
    the latest step (then time), with the run and dataset it came from. Stores without the SQL tables
    (a REST store) answer an empty list."""
    store = _store(client)
    if not hasattr(store, "_read"):
        return []
    from sqlalchemy import select

    from tureen.store import _schema as s

    t = s.logged_model_metrics
    latest: dict[str, Any] = {}
    with store._read() as conn:  # noqa: SLF001
        rows = conn.execute(select(t.c.metric_name, t.c.metric_value, t.c.metric_step, t.c.metric_timestamp_ms,
                                   t.c.run_id, t.c.dataset_name)
                            .where(t.c.model_id == model_id).limit(100_000)).all()
    for r in rows:
        cur = latest.get(r.metric_name)
        if cur is None or (r.metric_step, r.metric_timestamp_ms) > (cur.metric_step, cur.metric_timestamp_ms):
            latest[r.metric_name] = r
    return [{"key": k, "value": float("nan") if r.metric_value is None else r.metric_value, "step": r.metric_step,
             "run_id": r.run_id, "dataset": r.dataset_name} for k, r in sorted(latest.items())]


def child_runs(client: Any, experiment_id: str, parent_ids: Sequence[str], limit: int = 500) -> dict[str, list[str]]:
    """Parent run id -> ids of its child runs (``mlflow.parentRunId`` tag), for the given parents."""
    if not parent_ids:
        return {}
    store = _store(client)
    if hasattr(store, "child_run_ids"):
        return store.child_run_ids(list(parent_ids), limit)
    quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in parent_ids)
    found: dict[str, list[str]] = {}
    for r in client.search_runs([experiment_id], f"tags.mlflow.parentRunId IN ({quoted})", 1, limit):
        found.setdefault(r.data.tags["mlflow.parentRunId"], []).append(r.info.run_id)
    return found


# ======================================================================================================
# artifacts
# ======================================================================================================
def open_repo(uri: str, resolver: Any = None) -> Any:
    """The artifact repository of ``uri`` (through the host app's ``resolver`` when it has one)."""
    if resolver is not None:
        return resolver(uri)
    from tureen.artifacts import get_artifact_repository

    return get_artifact_repository(uri)


def _repo(client: Any, run_id: str, resolver: Any = None) -> Any:
    return open_repo(client.get_run(run_id).info.artifact_uri, resolver)


def artifact_bytes(client: Any, run_id: str, path: str, limit: int = PREVIEW_LIMIT,
                   resolver: Any = None) -> tuple[bytes, int, bool]:
    """``(first bytes, total size, truncated)`` of one artifact file, confined to the run's artifact root."""
    from tureen.artifacts.local import check_relative_path

    rel = check_relative_path(path)
    if not rel:
        raise InvalidParameterError("Give the path of an artifact file")
    repo = _repo(client, run_id, resolver)
    return read_repo_file(repo, rel, limit)


def read_repo_file(repo: Any, rel: str, limit: int) -> tuple[bytes, int, bool]:
    """Bounded read of ``rel`` in an artifact repository (local: in place; others: through a download)."""
    import os
    import shutil
    import tempfile

    target_of = getattr(repo, "_target", None)
    if target_of is not None:
        target = target_of(rel)  # refuses '..', absolute paths and symlinks leading out of the root
        if not target.is_file():
            raise ResourceNotFoundError(f"No artifact file at {rel!r}")
        size = target.stat().st_size
        with open(target, "rb") as fh:
            data = fh.read(limit + 1)
        return data[:limit], size, len(data) > limit
    parent = rel.rpartition("/")[0] or None
    listed = {f.path: f for f in repo.list_artifacts(parent)}
    info = listed.get(rel)
    if info is None or info.is_dir:
        raise ResourceNotFoundError(f"No artifact file at {rel!r}")
    if (info.file_size or 0) > 50 * limit:
        return b"", int(info.file_size or 0), True
    tmp = tempfile.mkdtemp(prefix="tureen-ui-")
    try:
        local = repo.download_artifacts(rel, tmp)
        size = os.path.getsize(local)
        with open(local, "rb") as fh:
            data = fh.read(limit + 1)
        return data[:limit], size, len(data) > limit
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp", ".bmp": "image/bmp"}
TEXT_SUFFIXES = {".txt", ".log", ".md", ".py", ".json", ".yaml", ".yml", ".csv", ".tsv", ".ini", ".cfg", ".toml",
                 ".sh", ".html", ".xml", ".svg", ".r", ".sql", ".jsonl"}


def preview_kind(path: str) -> str:
    """``mlmodel``, ``image``, ``csv``, ``json``, ``yaml``, ``text`` or ``binary`` by file name."""
    name = path.rsplit("/", 1)[-1]
    low = name.lower()
    suffix = "." + low.rsplit(".", 1)[-1] if "." in low else ""
    if name == "MLmodel":
        return "mlmodel"
    if suffix in IMAGE_TYPES:
        return "image"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".json", ".jsonl"):
        return "json"
    if suffix in (".yaml", ".yml") or name in ("MLproject", "conda.yaml", "python_env.yaml"):
        return "yaml"
    if suffix in TEXT_SUFFIXES or name in ("requirements.txt", "LICENSE", "README"):
        return "text"
    return "binary"


def decode_text(data: bytes) -> str | None:
    """Text of bytes, or ``None`` when they do not look like text."""
    if b"\x00" in data[:4096]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 4:  # a character cut by the preview limit
            return data[: exc.start].decode("utf-8")
        return None


def csv_table(text: str, delimiter: str = ",", rows: int = CSV_ROWS) -> tuple[list[str], list[list[str]], bool]:
    """Header, first ``rows`` rows and whether there are more, of a CSV text."""
    import csv

    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return [], [], False
    body: list[list[str]] = []
    more = False
    try:
        for row in reader:
            if len(body) >= rows:
                more = True
                break
            body.append(row)
    except csv.Error:
        more = True
    return header, body, more


def parse_schema(text: Any) -> list[dict[str, str]]:
    """Rows (name, type, shape, required) of an MLmodel signature part (a JSON string of column/tensor specs)."""
    if not text:
        return []
    try:
        specs = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return [{"name": "(unreadable)", "type": str(text)[:200], "shape": "", "required": ""}]
    rows = []
    for spec in specs if isinstance(specs, list) else []:
        if not isinstance(spec, dict):
            continue
        typ = spec.get("type", "")
        if typ == "tensor":
            ti = spec.get("tensor-spec", {}) or {}
            typ = f"tensor({ti.get('dtype', '?')})"
            shape = str(ti.get("shape", ""))
        else:
            shape = ""
            if isinstance(typ, dict):
                typ = json.dumps(typ)
        rows.append({"name": str(spec.get("name", "")), "type": str(typ), "shape": shape,
                     "required": "no" if spec.get("required") is False else "yes"})
    return rows


def mlmodel_info(text: str) -> dict[str, Any]:
    """Flavors, signature rows and other facts of an MLmodel file's text (YAML, read safely)."""
    from tureen.exceptions import ModelFormatError
    from tureen.models._yaml import load_untrusted_yaml

    try:
        doc = load_untrusted_yaml(text, what="The MLmodel file")
    except ModelFormatError as exc:
        return {"error": exc.message}
    if not isinstance(doc, dict):
        return {"error": "The MLmodel file is not a YAML mapping"}
    flavors = doc.get("flavors") if isinstance(doc.get("flavors"), dict) else {}
    sig = doc.get("signature") if isinstance(doc.get("signature"), dict) else {}
    flavor_rows = []
    for name, conf in flavors.items():
        conf = conf if isinstance(conf, dict) else {}
        facts = ", ".join(f"{k}: {v}" for k, v in conf.items() if not isinstance(v, (dict, list)))
        flavor_rows.append({"name": str(name), "facts": facts})
    return {
        "flavors": flavor_rows,
        "inputs": parse_schema(sig.get("inputs")),
        "outputs": parse_schema(sig.get("outputs")),
        "params": parse_schema(sig.get("params")),
        "facts": [(k, str(doc[k])) for k in ("model_uuid", "model_id", "run_id", "artifact_path", "utc_time_created",
                                             "mlflow_version", "tureen_version") if k in doc],
    }
