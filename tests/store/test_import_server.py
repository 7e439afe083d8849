"""``tureen import http://...`` from a real ``mlflow server`` (3.17.2, peer venv): lossless, idempotent,
resumable after a kill, verified."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent / "server"))  # server_support, which tests/server/conftest.py imports
_spec = importlib.util.spec_from_file_location("_server_conftest", _HERE.parent / "server" / "conftest.py")
_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server)  # its start_mlflow_server / stop_process_group: one way to run mlflow server

_FILL = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import mlflow
from mlflow import MlflowClient
from mlflow.entities import DatasetInput, InputTag, Metric
import pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
c = MlflowClient()
eid = c.create_experiment("served", tags={"team": "ml"})
gone = c.create_experiment("gone")
c.delete_experiment(gone)
ids = []
for r in range(7):
    run = c.create_run(eid, run_name=f"r{r}", start_time=1_700_000_000_000 + r)
    rid = run.info.run_id
    c.log_param(rid, "C", str(r))
    c.set_tag(rid, "a/b", "nested")
    c.log_batch(rid, metrics=[Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(30)])
    c.log_metric(rid, "nan", float("nan"), timestamp=5)
    c.log_metric(rid, "acc", 0.5, timestamp=6, step=2)
    if r == 0:
        ds = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="train-set")._to_mlflow_entity()
        c.log_inputs(rid, datasets=[DatasetInput(ds, tags=[InputTag("mlflow.data.context", "training")])])
    c.set_terminated(rid, end_time=1_700_000_999_000 + r)
    ids.append(rid)
c.log_text(ids[0], "hello", "notes/a.txt")
import os, tempfile
d = tempfile.mkdtemp()
open(os.path.join(d, "blob.bin"), "wb").write(os.urandom(2_500_000))
c.log_artifact(ids[0], os.path.join(d, "blob.bin"), "data")
from mlflow.entities import LoggedModelOutput
m = c.create_logged_model(eid, name="served-lm", source_run_id=ids[1], tags={"t": "1"}, params={"alpha": "0.5"})
c.log_outputs(ids[1], [LoggedModelOutput(m.model_id, 2)])
c.log_metric(ids[1], "lm_acc", 0.75, step=2, timestamp=9, model_id=m.model_id)
os.makedirs(os.path.join(d, "lm", "sub"))
open(os.path.join(d, "lm", "MLmodel"), "w").write("flavors: {}\n")
open(os.path.join(d, "lm", "sub", "w.bin"), "wb").write(os.urandom(1_200_000))
c.log_model_artifacts(m.model_id, os.path.join(d, "lm"))
c.finalize_logged_model(m.model_id, "READY")
c.delete_run(ids[-1])
c.create_registered_model("served-model", tags={"o": "x"}, description="d")
c.create_model_version("served-model", f"runs:/{ids[0]}/model", run_id=ids[0])
c.create_model_version("served-model", f"runs:/{ids[1]}/model", run_id=ids[1], tags={"k": "v"})
c.set_registered_model_alias("served-model", "champ", "2")
c.transition_model_version_stage("served-model", "1", "Staging")
print(json.dumps({"experiment_id": eid, "runs": ids, "model_id": m.model_id}))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, mlflow_python):
    """One mlflow server for the module, filled once through MLflow's own client."""
    tmp = tmp_path_factory.mktemp("served")
    template = tmp / "template.db"
    code = ("import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as S; "
            "S('sqlite:///' + sys.argv[1], sys.argv[2]); print('{}')")
    subprocess.run([str(mlflow_python), "-c", code, str(template), str(tmp / "art")], check=True,
                   capture_output=True, timeout=300)
    server = _server.start_mlflow_server(mlflow_python, template, tmp)
    try:
        out = subprocess.run([str(mlflow_python), "-c", _FILL, server], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        import json

        yield str(server), json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        _server.stop_process_group(server.process)


@pytest.mark.mlflow
def test_import_from_a_live_server_is_lossless_idempotent_and_resumable(served, tmp_path):
    from tureen.store._import_server import import_server
    from tureen.tracking import TrackingClient

    url, made = served
    uri = f"sqlite:///{tmp_path / 'imported.db'}"

    class Killed(Exception):
        pass

    def die_after_first_batch(done: int, total: int) -> None:
        if done >= 3:
            raise Killed()

    with pytest.raises(Killed):  # killed after the first committed batch of 3 runs
        import_server(url, uri, batch=3, progress=die_after_first_batch)
    first = TrackingClient(uri).search_runs([made["experiment_id"]], run_view_type=3)
    assert len(first) == 3
    summary = import_server(url, uri, batch=3)  # resumes
    assert summary.verified and summary.runs_added == 4 and summary.runs_seen == 7
    again = import_server(url, uri, batch=3)  # adds nothing
    assert again.runs_added == 0 and again.verified

    c = TrackingClient(uri)
    eid = made["experiment_id"]
    exp = c.get_experiment(eid)  # the id was free: kept
    assert exp.name == "served" and exp.tags.get("team") == "ml"
    assert c.get_experiment_by_name("gone").lifecycle_stage == "deleted"
    runs = {r.info.run_id: r for r in c.search_runs([eid], run_view_type=3)}
    assert set(runs) == set(made["runs"])
    r0 = runs[made["runs"][0]]
    assert r0.info.start_time == 1_700_000_000_000 and r0.info.end_time == 1_700_000_999_000
    assert r0.info.status == "FINISHED" and r0.info.run_name == "r0"
    assert r0.data.params == {"C": "0"} and r0.data.tags["a/b"] == "nested"
    history = c.get_metric_history(r0.info.run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (i, 1.0 / (i + 1), 1_700_000_000_000 + i) for i in range(30)]
    assert math.isnan(r0.data.metrics["nan"]) and r0.data.metrics["acc"] == 0.5
    assert [d.dataset.name for d in r0.inputs.dataset_inputs] == ["train-set"]
    assert {t.key: t.value for t in r0.inputs.dataset_inputs[0].tags}["mlflow.data.context"] == "training"
    assert runs[made["runs"][-1]].info.lifecycle_stage == "deleted"
    assert runs[made["runs"][0]].info.artifact_uri.startswith("mlflow-artifacts:")  # kept: no --copy-artifacts
    lm = c.get_logged_model(made["model_id"])
    assert (lm.name, lm.params, lm.tags["t"], lm.status, lm.source_run_id) == (
        "served-lm", {"alpha": "0.5"}, "1", "LOGGED_MODEL_READY", made["runs"][1])
    assert lm.artifact_location.startswith("mlflow-artifacts:")
    assert [(o.model_id, o.step) for o in runs[made["runs"][1]].outputs.model_outputs] == [(made["model_id"], 2)]
    assert summary.logged_models_added == 1 and again.logged_models_added == 0
    reg = TrackingClient(uri, registry_uri=uri)
    model = reg.get_registered_model("served-model")
    assert model.description == "d" and model.tags == {"o": "x"} and model.aliases == {"champ": 2}
    assert reg.get_model_version("served-model", "1").current_stage == "Staging"
    v2 = reg.get_model_version("served-model", "2")
    assert v2.tags == {"k": "v"} and v2.run_id == made["runs"][1]


@pytest.mark.mlflow
def test_pages_of_runs_asked_for_side_by_side_give_every_run_once(served, tmp_path, monkeypatch):
    """Small pages (2 runs) of MLflow's offset tokens, three asked for at once: every run arrives once, in
    the server's order, and pages asked for beyond the last one add nothing."""
    from tureen.store import _import_server as m
    from tureen.store._import import ExperimentRecord

    url, made = served
    monkeypatch.setattr(m, "_RUNS_PAGE", 2)
    src = m.ServerSource(url)
    asked: list[str | None] = []
    search = src._search
    monkeypatch.setattr(src, "_search", lambda eid, token: (asked.append(token), search(eid, token))[1])
    try:
        pages = list(src.run_pages(ExperimentRecord(made["experiment_id"], "served", None, "active", 0, 0, [])))
    finally:
        src.close()
    got = [stub.run_id for page in pages for stub in page]
    assert sorted(got) == sorted(made["runs"]) and len(got) == 7  # the 7 runs of every stage, once
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    offsets = [m._offset_of(t) if t else 0 for t in asked]  # (the threads may start in any order)
    assert None not in offsets and {0, 2, 4, 6} <= set(offsets) and len(offsets) <= 4 + m._SEARCH_AHEAD
    uri = f"sqlite:///{tmp_path / 'paged.db'}"
    summary = m.import_server(url, uri, batch=2)
    assert summary.verified and summary.runs_added == 7


def test_only_mlflow_offset_tokens_are_taken_as_offsets():
    import base64
    import json

    from tureen.store._import_server import _offset_of
    from tureen.tracking._filter import encode_page_token

    def tok(obj: object) -> str:
        return base64.b64encode(json.dumps(obj).encode()).decode()

    assert _offset_of(encode_page_token(1000)) == 1000 and _offset_of(tok({"offset": 7})) == 7
    for other in (tok({"offset": 5, "after": [1, "x"]}), tok({"offset": -1}), tok({"offset": True}),
                  tok({"offset": "5"}), tok([5]), tok({"offset": 0}), "not base64!", base64.b64encode(b"\xff").decode()):
        assert _offset_of(other) is None, other


@pytest.mark.mlflow
def test_tureen_import_command_from_a_server(served, tmp_path):
    url, made = served
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    out = subprocess.run([sys.executable, "-m", "tureen.cli", "import", url, "--to", uri], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "runs: 7 seen, 7 added" in out.stdout and "verified" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "tureen.cli", "import", "http://127.0.0.1:9/", "--to", uri],
                         capture_output=True, text=True, timeout=300, env={**__import__("os").environ,
                                                                           "TUREEN_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert bad.returncode == 1 and "Error" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.mlflow
def test_copy_artifacts_from_a_live_server(served, tmp_path, monkeypatch, mlflow_run):
    """Files come through the server's artifact API (its mlflow-artifacts proxy here), are checked by SHA-256,
    and the imported runs and logged models point at the copies, which MLflow itself then reads."""
    from tureen.store._import_server import import_server

    url, made = served
    dest = tmp_path / "copies"
    monkeypatch.setenv("TUREEN_ARTIFACT_ROOT", str(dest))
    uri = f"sqlite:///{tmp_path / 'copied.db'}"
    summary = import_server(url, uri, batch=3, copy_artifacts=True)
    assert summary.verified and summary.artifact_files == 4
    assert summary.artifact_bytes == len("hello") + 2_500_000 + len("flavors: {}\n") + 1_200_000
    again = import_server(url, uri, batch=3, copy_artifacts=True)
    assert again.verified and again.runs_added == 0 and again.artifact_files == 0
    code = r"""
import json, sys, hashlib
from mlflow import MlflowClient
import mlflow.artifacts
c = MlflowClient(sys.argv[1])
run = c.get_run(sys.argv[2])
lm = c.get_logged_model(sys.argv[3])
text = mlflow.artifacts.load_text(run.info.artifact_uri + "/notes/a.txt")
blob = mlflow.artifacts.download_artifacts(run.info.artifact_uri + "/data/blob.bin", dst_path=sys.argv[4])
w = mlflow.artifacts.download_artifacts(lm.artifact_location + "/sub/w.bin", dst_path=sys.argv[4])
print(json.dumps({"uri": run.info.artifact_uri, "lm": lm.artifact_location, "text": text,
                  "blob": hashlib.sha256(open(blob, "rb").read()).hexdigest(),
                  "w": hashlib.sha256(open(w, "rb").read()).hexdigest()}))
"""
    seen = mlflow_run(code, uri, made["runs"][0], made["model_id"], str(tmp_path / "dl"), cwd=str(tmp_path))
    assert seen["uri"].startswith(dest.as_uri()) and seen["lm"].startswith(dest.as_uri())
    assert seen["text"] == "hello"
    import hashlib

    on_disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in dest.rglob("*.bin")}
    assert on_disk == {"blob.bin": seen["blob"], "w.bin": seen["w"]}


@pytest.mark.mlflow
def test_copy_artifacts_after_an_import_without_it_from_a_live_server(served, tmp_path, monkeypatch):
    """Runs and logged models imported first with their server locations kept: a later import with
    --copy-artifacts fetches their files (only theirs: nothing else is read again), repoints them, resumes
    after a kill, and a third import copies nothing."""
    import hashlib

    from tureen.store._import_server import import_server
    from tureen.tracking import TrackingClient

    url, made = served
    dest = tmp_path / "copies"
    monkeypatch.setenv("TUREEN_ARTIFACT_ROOT", str(dest))
    uri = f"sqlite:///{tmp_path / 'later.db'}"
    assert import_server(url, uri, batch=3).verified
    c = TrackingClient(uri)
    assert c.get_run(made["runs"][0]).info.artifact_uri.startswith("mlflow-artifacts:")

    class Killed(Exception):
        pass

    def die(done: int, total: int) -> None:
        raise Killed()

    with pytest.raises(Killed):  # killed after the first batch of 3 runs: those 3 are repointed
        import_server(url, uri, batch=3, progress=die, copy_artifacts=True)
    assert sum(c.get_run(r).info.artifact_uri.startswith(dest.as_uri()) for r in made["runs"]) == 3
    resumed = import_server(url, uri, batch=3, copy_artifacts=True)
    assert resumed.verified and resumed.runs_added == 0 and resumed.runs_relocated == 4
    assert resumed.logged_models_relocated == 1
    third = import_server(url, uri, batch=3, copy_artifacts=True)
    assert (third.runs_relocated, third.logged_models_relocated, third.artifact_files, third.verified) == (
        0, 0, 0, True)
    eid = made["experiment_id"]
    assert c.get_experiment(eid).artifact_location == f"{dest.as_uri()}/{eid}"
    for rid in made["runs"]:
        assert c.get_run(rid).info.artifact_uri == f"{dest.as_uri()}/{eid}/{rid}/artifacts"
    lm = c.get_logged_model(made["model_id"])
    assert lm.artifact_location == f"{dest.as_uri()}/{eid}/models/{made['model_id']}/artifacts"
    run0 = Path(c.get_run(made["runs"][0]).info.artifact_uri[len("file://"):])
    assert (run0 / "notes" / "a.txt").read_text() == "hello"
    assert (run0 / "data" / "blob.bin").stat().st_size == 2_500_000
    assert (Path(lm.artifact_location[len("file://"):]) / "sub" / "w.bin").stat().st_size == 1_200_000


class _Hostile:
    """A fake tracking server over loopback whose artifact listing names ``path`` (an attack, not MLflow)."""

    def __init__(self, listing: dict):
        import http.server
        import json
        import threading

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.endswith("experiments/search"):
                    return self._send({"experiments": [{"experiment_id": "5", "name": "evil",
                                                         "lifecycle_stage": "active"}]})
                if self.path.endswith("runs/search"):
                    return self._send({"runs": [{"info": {"run_id": "e" * 32, "status": "FINISHED",
                                                          "start_time": 1, "lifecycle_stage": "active",
                                                          "artifact_uri": "mlflow-artifacts:/5/x/artifacts"},
                                                 "data": {}}]})
                return self._send({})

            def do_GET(self):
                if "artifacts/list" in self.path:
                    from urllib.parse import parse_qs, urlparse

                    asked = parse_qs(urlparse(self.path).query).get("path", [""])[0]
                    return self._send(outer.listing.get(asked, {}))
                if "get-artifact" in self.path:
                    outer.downloaded = True
                return self._send({})

        self.listing = listing
        self.downloaded = False
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("listing", [
    {"": {"files": [{"path": "../../outside.txt", "is_dir": False}]}},
    {"": {"files": [{"path": "/etc/passwd", "is_dir": False}]}},
    {"": {"files": [{"path": "a", "is_dir": True}]}, "a": {"files": [{"path": "b/../../x", "is_dir": False}]}},
    {"": {"files": [{"path": "a", "is_dir": True}]}, "a": {"files": [{"path": "elsewhere/x", "is_dir": False}]}},
])
def test_copy_artifacts_refuses_paths_a_server_names_outside_the_root(listing, tmp_path, monkeypatch):
    from tureen.exceptions import InvalidParameterError
    from tureen.store._import_server import import_server
    from tureen.tracking import TrackingClient

    monkeypatch.setenv("TUREEN_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("TUREEN_ARTIFACT_ROOT", str(tmp_path / "dest"))
    hostile = _Hostile(listing)
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    try:
        with pytest.raises(InvalidParameterError, match="artifact path"):
            import_server(hostile.url, uri, copy_artifacts=True)
    finally:
        hostile.close()
    assert not hostile.downloaded  # refused before anything was fetched or written
    assert not list((tmp_path / "dest").rglob("*x*")) and not (tmp_path / "outside.txt").exists()
    assert TrackingClient(uri).search_runs(["5"], run_view_type=3) == []  # the batch was not committed


def test_copy_artifacts_later_refuses_a_path_a_server_names_outside_the_root(tmp_path, monkeypatch):
    """A run imported without --copy-artifacts, then with it from a server naming ``../``: refused before
    anything is fetched, and the run keeps the location it had."""
    from tureen.exceptions import InvalidParameterError
    from tureen.store._import_server import import_server
    from tureen.tracking import TrackingClient

    monkeypatch.setenv("TUREEN_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("TUREEN_ARTIFACT_ROOT", str(tmp_path / "dest"))
    hostile = _Hostile({"": {"files": [{"path": "../../outside.txt", "is_dir": False}]}})
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    try:
        assert import_server(hostile.url, uri).runs_added == 1  # nothing listed without --copy-artifacts
        with pytest.raises(InvalidParameterError, match="artifact path"):
            import_server(hostile.url, uri, copy_artifacts=True)
    finally:
        hostile.close()
    assert not hostile.downloaded and not (tmp_path / "dest").exists()
    assert TrackingClient(uri).get_run("e" * 32).info.artifact_uri == "mlflow-artifacts:/5/x/artifacts"
