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
