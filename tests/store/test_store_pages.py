"""Pages of runs: in the default order the next page starts after the last row (keyset), and paging through
gives exactly the runs of one big page, in the same order (equal start times, missing start times, and
tokens of the offset form included)."""

from __future__ import annotations

import base64
import json
import sqlite3

import pytest

from tureen.exceptions import InvalidParameterError


def test_paging_through_runs_gives_every_run_once_in_order(tmp_path):
    from tureen.store.sql import SqlStore

    path = tmp_path / "p.db"
    store = SqlStore(f"sqlite:///{path}")
    eid = store.create_experiment("e")
    for i in range(23):
        store.create_run(eid, start_time=1000 + (i // 3))  # groups of equal start times
    ids = [store.create_run(eid).info.run_id for _ in range(2)]
    with sqlite3.connect(path) as conn:  # a start time MLflow's schema allows to be missing
        conn.execute("UPDATE runs SET start_time = NULL WHERE run_uuid = ?", (ids[0],))
    everything = [r.info.run_id for r in store.search_runs([eid], max_results=1000)]
    assert len(everything) == 25
    for size in (1, 4, 7):
        got, token, tokens = [], None, []
        while True:
            page = store.search_runs([eid], max_results=size, page_token=token)
            got += [r.info.run_id for r in page]
            token = page.token
            if token is None:
                break
            tokens.append(json.loads(base64.b64decode(token)))
        assert got == everything
        assert any("after" in t for t in tokens)  # keyset tokens were used
    # the UI's column-limited search pages the same way
    got, token = [], None
    while True:
        page = store.search_runs_columns([eid], max_results=6, page_token=token, params=[], metrics=[], tags=[])
        got += [r.info.run_id for r in page]
        token = page.token
        if token is None:
            break
    assert got == everything
    # a token of the offset form (an older tureen's, or another order's) still works
    old = base64.b64encode(json.dumps({"offset": 5}).encode()).decode()
    assert [r.info.run_id for r in store.search_runs([eid], max_results=3, page_token=old)] == everything[5:8]
    # with an explicit order the offset is used
    ordered = [r.info.run_id for r in store.search_runs([eid], max_results=1000, order_by=["attributes.run_name"])]
    page = store.search_runs([eid], max_results=10, order_by=["attributes.run_name"])
    nxt = store.search_runs([eid], max_results=10, order_by=["attributes.run_name"], page_token=page.token)
    assert [r.info.run_id for r in list(page) + list(nxt)] == ordered[:20]
    bad = base64.b64encode(json.dumps({"offset": 1, "after": ["x", 3]}).encode()).decode()
    with pytest.raises(InvalidParameterError, match="page token"):
        store.search_runs([eid], max_results=3, page_token=bad)
    store.close()


def _varied_runs(store, eid):
    """Runs with every piece a page reads: params, tags, latest metrics (NaN and infinities included),
    dataset inputs with tags, model inputs and outputs, and a deleted run."""
    from tureen.tracking.entities import Dataset, DatasetInput, InputTag, LoggedModelInput, LoggedModelOutput, Metric

    ids = []
    for i in range(30):
        rid = store.create_run(eid, start_time=5000 - (i // 4), run_name=f"r{i}").info.run_id
        ids.append(rid)
        store.log_batch(rid, metrics=[Metric("auc", i / 30, 1, 0), Metric("auc", 1 - i / 30, 2, 1),
                                      Metric("odd", [float("nan"), float("inf"), -float("inf"), 0.5][i % 4], 1, 0)],
                        params=[("C", str(i % 3)), ("penalty", "l2"), (f"only{i}", "x")],
                        tags=[("team", "ab"[i % 2]), (f"t{i % 5}", "y")])
        if i % 3 == 0:
            ds = Dataset(f"d{i % 2}", f"{i:08x}", "code", '{"uri": "x"}', '{"s": 1}', '{"rows": 3}')
            store.log_inputs(rid, [DatasetInput(ds, [InputTag("mlflow.data.context", "train"), InputTag("k", "v")])])
    model = store.create_logged_model(eid, name="m", source_run_id=ids[0])
    store.log_outputs(ids[0], [LoggedModelOutput(model.model_id, 3)])
    store.log_inputs(ids[1], models=[LoggedModelInput(model.model_id)])
    store.delete_run(ids[7])
    return ids


def _as_plain(runs):
    """Every field of the runs, dict key order included."""
    return [(r.info, list(r.data.metrics.items()), list(r.data.params.items()), list(r.data.tags.items()),
             r.inputs, r.outputs) for r in runs]


def test_the_sqlite_page_read_on_the_driver_equals_the_sqlalchemy_read(tmp_path):
    """On SQLite a page of runs is read with SQL compiled once and run on the driver (ids as one JSON
    array); every search, order, filter and view gives what the SQLAlchemy statements give."""
    from tureen.store.sql import SqlStore
    from tureen.tracking.entities import ViewType

    path = tmp_path / "p.db"
    store = SqlStore(f"sqlite:///{path}")
    assert store._page_sql is not None  # the driver path is the one in use
    eid = store.create_experiment("e")
    ids = _varied_runs(store, eid)
    core = SqlStore(f"sqlite:///{path}")
    core._page_sql = None
    searches = [dict(), dict(filter_string="metrics.auc > 0.3 AND params.C = '1'"),
                dict(filter_string="tags.team = 'a'", order_by=["metrics.odd DESC"]),
                dict(run_view_type=ViewType.ALL, order_by=["params.C", "attributes.run_name DESC"]),
                dict(run_view_type=ViewType.DELETED_ONLY), dict(filter_string="datasets.context = 'train'"),
                dict(max_results=4)]
    for kw in searches:
        got, want = store.search_runs([eid], **kw), core.search_runs([eid], **kw)
        assert _as_plain(got) == _as_plain(want), kw
        assert got.token == want.token
    assert _as_plain(store.search_runs([eid], run_view_type=ViewType.ALL)) and len(ids) == 30
    first, second = store.get_run(ids[0]), store.get_run(ids[1])
    assert _as_plain([first, second]) == _as_plain([core.get_run(ids[0]), core.get_run(ids[1])])
    assert first.outputs.model_outputs[0].step == 3 and second.inputs.model_inputs
    assert first.inputs.dataset_inputs[0].dataset.profile == '{"rows": 3}'
    assert [t.key for t in first.inputs.dataset_inputs[0].tags] == ["k", "mlflow.data.context"]
    assert first.data.metrics["odd"] != first.data.metrics["odd"]  # NaN
    assert store.get_run(ids[1]).data.metrics["odd"] == 1.7976931348623157e308  # +inf as MLflow stores it
    store.close()
    core.close()


def test_a_failing_driver_read_is_a_typed_store_error(tmp_path):
    from tureen.exceptions import StoreUnavailableError
    from tureen.store.sql import SqlStore

    path = tmp_path / "p.db"
    store = SqlStore(f"sqlite:///{path}")
    rid = store.create_run(store.create_experiment("e")).info.run_id
    with sqlite3.connect(path) as conn:  # a table read by the page's driver-level queries goes missing
        conn.execute("DROP TABLE latest_metrics")
    with pytest.raises(StoreUnavailableError, match="no such table: latest_metrics"):
        store.get_run(rid)
    store.close()


def test_the_collector_pause_of_a_page_read_leaves_the_collector_as_it_found_it():
    import gc
    import threading

    from tureen.store._common import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError):
        with gc_paused():
            raise KeyError("x")
    assert gc.isenabled()
    # overlapping pauses of two threads: switched back on when the last one ends, not the first
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gc_paused():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    inside.wait(10)
    with gc_paused():
        pass
    assert not gc.isenabled()
    release.set()
    t.join()
    assert gc.isenabled()
    # a collector the program switched off stays off
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("driver_sql", [True, False], ids=["json-array-ids", "bound-ids"])
def test_a_filtered_search_in_the_default_order_gives_the_filtered_runs_in_order_at_every_selectivity(tmp_path,
                                                                                                     driver_sql):
    """SQLite tests metric/param/tag conditions on slices of the ordered runs until the page is full (a
    first slice, a longer second one, then the rest in one query): whichever stage fills the page, the
    runs are those of the filter, in ``start_time DESC, run_id`` order (equal and missing start times
    included), and paging through gives each once."""
    from tureen.store.sql import SqlStore
    from tureen.tracking.entities import Metric

    path = tmp_path / "f.db"
    store = SqlStore(f"sqlite:///{path}")
    if not driver_sql:  # as on a SQLite library without the JSON functions
        store._page_sql = None
    eid = store.create_experiment("e")
    runs = []
    for i in range(400):
        rid = store.create_run(eid, start_time=10_000 - (i // 3)).info.run_id  # groups of equal start times
        store.log_batch(rid, metrics=[Metric("auc", float(i % 100), 1, 0)], params=[("p", str(i % 7))])
        runs.append((10_000 - (i // 3), rid, i))
    with sqlite3.connect(path) as conn:  # two runs without a start time (MLflow's schema allows it)
        conn.execute("UPDATE runs SET start_time = NULL WHERE run_uuid IN (?, ?)", (runs[5][1], runs[6][1]))
    runs[5], runs[6] = (None, runs[5][1], 5), (None, runs[6][1], 6)
    order = sorted(runs, key=lambda r: (r[0] is None, -(r[0] or 0), r[1]))
    cases = {"metrics.auc >= 0": lambda i: True, "metrics.auc > 49": lambda i: i % 100 > 49,
             "metrics.auc >= 90": lambda i: i % 100 >= 90, "metrics.auc = 5": lambda i: i % 100 == 5,
             "metrics.auc = 5 AND params.p = '3'": lambda i: i % 100 == 5 and i % 7 == 3,
             "metrics.auc > 1000": lambda i: False, "params.p = '0'": lambda i: i % 7 == 0}
    for flt, keep in cases.items():
        expected = [rid for _, rid, i in order if keep(i)]
        assert [r.info.run_id for r in store.search_runs([eid], flt, max_results=1000)] == expected, flt
        for size in (1, 3, 10, 64):
            got, token = [], None
            while True:
                page = store.search_runs([eid], flt, max_results=size, page_token=token)
                got += [r.info.run_id for r in page]
                token = page.token
                if token is None:
                    break
            assert got == expected, (flt, size)
    store.close()


def test_a_page_read_with_its_points_gives_the_latest_steps_and_timestamps(tmp_path):
    """``search_runs_and_points`` and ``get_run_and_points`` give the runs ``search_runs``/``get_run`` give
    and, per run, the (timestamp, step) of each latest metric that ``latest_metric_points`` gives."""
    from tureen.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'p.db'}")
    eid = store.create_experiment("e")
    ids = _varied_runs(store, eid)
    for kw in (dict(), dict(filter_string="metrics.auc > 0.3"), dict(order_by=["metrics.odd DESC"]),
               dict(max_results=4)):
        page, points = store.search_runs_and_points([eid], **kw)
        assert _as_plain(page) == _as_plain(store.search_runs([eid], **kw))
        latest = store.latest_metric_points([r.info.run_id for r in page])
        assert points == {rid: {k: (m.timestamp, m.step) for k, m in ms.items()} for rid, ms in latest.items()}
        assert points and all(points[r.info.run_id] for r in page)
    run, points = store.get_run_and_points(ids[3])
    assert _as_plain([run]) == _as_plain([store.get_run(ids[3])])
    assert points == {"auc": (2, 1), "odd": (1, 0)}
    store.close()
