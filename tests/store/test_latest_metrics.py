"""``latest_metrics`` after batches: per key the point with the greatest (step, timestamp, value) wins, within
one batch (repeated keys) and across batches, as MLflow's store keeps it; NaN
is compared as the 0 it is stored as."""

from __future__ import annotations

import math

from tureen.tracking.entities import Metric


def _latest(store, rid):
    points = store.latest_metric_points([rid])[rid]
    return {k: (m.value, m.timestamp, m.step) for k, m in points.items()}


def test_the_latest_point_per_key_within_and_across_batches(tmp_path):
    from tureen.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'l.db'}")
    rid = store.create_run(store.create_experiment("e")).info.run_id
    # distinct keys: each point is its key's latest
    store.log_batch(rid, metrics=[Metric("a", 1.0, 10, 1), Metric("b", 2.0, 10, 1), Metric("c", 3.0, 10, 1)])
    assert _latest(store, rid) == {"a": (1.0, 10, 1), "b": (2.0, 10, 1), "c": (3.0, 10, 1)}
    # repeated keys in one batch: the greatest (step, timestamp, value) of the batch, against the stored one
    store.log_batch(rid, metrics=[Metric("a", 9.0, 99, 0), Metric("a", 5.0, 5, 2), Metric("a", 4.0, 6, 2),
                                  Metric("b", 1.0, 10, 1), Metric("b", 3.0, 10, 1),
                                  Metric("c", 7.0, 9, 1), Metric("c", 8.0, 8, 1)])
    assert _latest(store, rid) == {"a": (4.0, 6, 2), "b": (3.0, 10, 1), "c": (3.0, 10, 1)}
    # distinct keys again: an older step never replaces, a newer one always does; equal step and timestamp
    # is decided by the value
    store.log_batch(rid, metrics=[Metric("a", 100.0, 1000, 1), Metric("b", 2.5, 10, 1), Metric("c", 0.0, 1, 3)])
    assert _latest(store, rid) == {"a": (4.0, 6, 2), "b": (3.0, 10, 1), "c": (0.0, 1, 3)}
    store.log_batch(rid, metrics=[Metric("b", 3.5, 10, 1)])
    assert _latest(store, rid)["b"] == (3.5, 10, 1)
    # NaN: stored as 0 (is_nan), so at an equal step and timestamp a positive value beats it, and it beats
    # a negative one
    store.log_batch(rid, metrics=[Metric("n", math.nan, 5, 0), Metric("m", -1.0, 5, 0)])
    store.log_batch(rid, metrics=[Metric("n", 0.5, 5, 0), Metric("m", math.nan, 5, 0)])
    got = _latest(store, rid)
    assert got["n"] == (0.5, 5, 0)
    assert math.isnan(got["m"][0]) and got["m"][1:] == (5, 0)
    assert store.get_run(rid).data.metrics["b"] == 3.5
    store.close()
