"""Several processes logging to one SQLite database at once: no errors, no lost rows."""

from __future__ import annotations

import multiprocessing as mp

import pytest

N_PROCS = 8
N_METRICS = 250  # per process, one call each; the benchmark runs the full 2,000


def _worker(uri: str, index: int, queue: "mp.Queue[object]") -> None:
    try:
        from tureen.tracking import TrackingClient
        from tureen.tracking.entities import Metric

        client = TrackingClient(uri)
        run_id = client.create_run("0", run_name=f"worker-{index}").info.run_id
        for step in range(N_METRICS):
            client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        client.log_batch(run_id, metrics=[Metric("batch", float(i), 1, i) for i in range(N_METRICS)],
                         params=[("worker", str(index))])
        client.set_terminated(run_id)
        queue.put(run_id)
    except BaseException as exc:  # report to the parent instead of dying silently
        queue.put(exc)


@pytest.mark.timeout(300)
def test_eight_processes_log_to_one_sqlite_database(tmp_path):
    uri = f"sqlite:///{tmp_path / 'shared.db'}"  # fresh: the processes also race to create the schema
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(uri, i, queue)) for i in range(N_PROCS)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=280) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors

    from tureen.tracking import TrackingClient

    client = TrackingClient(uri)
    runs = client.search_runs(["0"], "", max_results=100)
    assert len(runs) == N_PROCS and {r.info.status for r in runs} == {"FINISHED"}
    for run in runs:
        assert len(client.get_metric_history(run.info.run_id, "loss")) == N_METRICS
        assert len(client.get_metric_history(run.info.run_id, "batch")) == N_METRICS
        assert run.data.metrics == {"loss": 1.0 / N_METRICS, "batch": float(N_METRICS - 1)}
    assert sorted(r.data.params["worker"] for r in runs) == sorted(str(i) for i in range(N_PROCS))
