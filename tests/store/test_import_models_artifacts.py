"""``tureen import`` of what MLflow 3.17 writes beyond runs: dataset inputs, logged models (params, tags,
metrics, inputs and outputs of runs) and, with ``--copy-artifacts``, the artifact files; checked by reading
the imported database back with the real MLflow and comparing with what MLflow reads from its file store.
Hostile: an artifact path that leaves its root is refused with a typed error."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tureen.exceptions import InvalidParameterError

# a file store made by MLflow itself, then MLflow's own view of it (what an import must reproduce)
_MAKE = r"""
import json, os, sys, tempfile, warnings
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
warnings.filterwarnings("ignore")
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelInput, LoggedModelOutput
mlflow.set_tracking_uri(sys.argv[1])
c = MlflowClient()
eid = c.create_experiment("lm-exp")
run = c.create_run(eid, run_name="trainer")
rid = run.info.run_id
ds = Dataset("train-set", "d1g3st", "code", '{"x": 1}', '{"cols": []}', '{"rows": 2}')
c.log_inputs(rid, datasets=[DatasetInput(ds, tags=[InputTag("mlflow.data.context", "training")])])
m = c.create_logged_model(eid, name="clf", source_run_id=rid, tags={"t": "1"}, params={"alpha": "0.5"},
                          model_type="agent")
c.log_outputs(rid, [LoggedModelOutput(m.model_id, 3)])
c.log_metric(rid, "acc", 0.9, step=3, timestamp=1000, model_id=m.model_id, dataset_name="train-set",
             dataset_digest="d1g3st")
c.log_metric(rid, "loss", 0.1, step=1, timestamp=1001, model_id=m.model_id)
d = tempfile.mkdtemp()
os.makedirs(f"{d}/sub")
open(f"{d}/MLmodel", "w").write("flavors: {}\n")
open(f"{d}/sub/weights.bin", "wb").write(os.urandom(3_000_000))
c.log_model_artifacts(m.model_id, d)
c.finalize_logged_model(m.model_id, "READY")
c.log_artifact(rid, f"{d}/MLmodel", "notes")
run2 = c.create_run(eid, run_name="consumer")
c.log_inputs(run2.info.run_id, models=[LoggedModelInput(m.model_id)])
c.set_terminated(rid)
c.set_terminated(run2.info.run_id)
c.create_registered_model("clf-reg")
c.create_model_version("clf-reg", f"models:/{m.model_id}", run_id=rid, model_id=m.model_id)
print(json.dumps({"experiment_id": eid, "runs": [rid, run2.info.run_id], "model_id": m.model_id}))
"""

# what MLflow reads from a store (file store or database), as comparable JSON
_VIEW = r"""
import json, os, sys, warnings
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
warnings.filterwarnings("ignore")
from mlflow import MlflowClient
c = MlflowClient(sys.argv[1])
exp = c.get_experiment_by_name("lm-exp")
runs = {}
for found in c.search_runs([exp.experiment_id], run_view_type=3):
    r = c.get_run(found.info.run_id)  # MLflow's SQL search leaves a run's model inputs out; get_run has them
    runs[r.info.run_id] = {
        "name": r.info.run_name, "status": r.info.status, "start": r.info.start_time, "end": r.info.end_time,
        "params": r.data.params, "tags": r.data.tags, "metrics": r.data.metrics,
        "history": {k: sorted([m.step, m.timestamp, m.value] for m in c.get_metric_history(r.info.run_id, k))
                    for k in r.data.metrics},
        "datasets": sorted([d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source,
                            d.dataset.schema, d.dataset.profile, sorted([t.key, t.value] for t in d.tags)]
                           for d in r.inputs.dataset_inputs),
        "model_inputs": sorted(m.model_id for m in (r.inputs.model_inputs or [])),
        "model_outputs": sorted([m.model_id, m.step] for m in (r.outputs.model_outputs if r.outputs else [])),
        "artifact_uri": r.info.artifact_uri}
models = {}
for m in c.search_logged_models([exp.experiment_id]):
    models[m.model_id] = {
        "name": m.name, "status": str(m.status), "type": m.model_type, "source_run_id": m.source_run_id,
        "created": m.creation_timestamp, "updated": m.last_updated_timestamp, "params": m.params, "tags": m.tags,
        "metrics": sorted([x.key, x.value, x.step, x.timestamp, x.run_id, x.dataset_name, x.dataset_digest]
                          for x in m.metrics or []), "artifact_location": m.artifact_location}
print(json.dumps({"runs": runs, "models": models}))
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory, mlflow_run):
    root = tmp_path_factory.mktemp("fs") / "mlruns"
    info = mlflow_run(_MAKE, root.as_uri(), cwd=str(root.parent))
    view = mlflow_run(_VIEW, root.as_uri(), cwd=str(root.parent))
    return root, info, view


def _step_as_the_file_store_reads_it(view: dict, info: dict, source_view: dict) -> dict:
    trainer = info["runs"][0]
    assert source_view["runs"][trainer]["history"]["acc"] == [[0, 1000, 0.9]]
    assert view["runs"][trainer]["history"]["acc"] == [[3, 1000, 0.9]]  # the step logged
    view["runs"][trainer]["history"]["acc"] = [[0, 1000, 0.9]]
    return view


def _without(view: dict, *keys: str) -> dict:
    return {kind: {i: {k: v for k, v in item.items() if k not in keys} for i, item in view[kind].items()}
            for kind in view}


@pytest.mark.mlflow
def test_dataset_inputs_and_logged_models_are_imported_as_mlflow_reads_them(made, tmp_path, mlflow_run):
    from tureen.store._import import import_file_store

    root, info, source_view = made
    uri = f"sqlite:///{tmp_path / 'out.db'}"
    summary = import_file_store(root, uri)
    assert summary.verified
    assert (summary.runs_added, summary.logged_models_added, summary.dataset_inputs) == (2, 1, 1)
    again = import_file_store(root, uri)
    assert (again.runs_added, again.logged_models_added, again.verified) == (0, 0, True)
    # MLflow reading the imported database sees what MLflow read from its own file store, locations included,
    # but for one point: MLflow's file store writes a run's metric logged with a dataset as "timestamp value
    # step name digest" and reads that line back with step 0; the import keeps the step that was logged
    view = _step_as_the_file_store_reads_it(mlflow_run(_VIEW, uri, cwd=str(tmp_path)), info, source_view)
    assert view == source_view
    run = source_view["runs"][info["runs"][0]]
    assert run["datasets"][0][:2] == ["train-set", "d1g3st"] and run["model_outputs"] == [[info["model_id"], 3]]
    assert source_view["runs"][info["runs"][1]]["model_inputs"] == [info["model_id"]]
    assert source_view["models"][info["model_id"]]["params"] == {"alpha": "0.5"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.mlflow
def test_copy_artifacts_streams_verifies_rewrites_and_resumes(made, tmp_path, mlflow_run, monkeypatch):
    from tureen.store._import import import_file_store

    root, info, source_view = made
    dest = tmp_path / "dest-artifacts"
    uri = f"sqlite:///{tmp_path / 'copied.db'}"
    monkeypatch.setenv("TUREEN_ARTIFACT_ROOT", str(dest))

    class Killed(Exception):
        pass

    def kill(done: int, _total: int) -> None:
        raise Killed

    with pytest.raises(Killed):  # killed after the first batch of one run: its files and rows are there
        import_file_store(root, uri, batch=1, progress=kill, copy_artifacts=True)
    from tureen.tracking import TrackingClient

    client = TrackingClient(uri)
    first = [r.info.run_id for r in client.search_runs([client.get_experiment_by_name("lm-exp").experiment_id],
                                                         run_view_type=3)]
    assert len(first) == 1
    summary = import_file_store(root, uri, batch=1, copy_artifacts=True)  # resumed
    again = import_file_store(root, uri, copy_artifacts=True)  # idempotent
    assert summary.verified and summary.runs_added == 1 and summary.logged_models_added == 1
    trainer_left = first != [info["runs"][0]]  # the trainer run (one file) was not in the first batch
    assert summary.artifact_files == 2 + trainer_left
    assert summary.artifact_bytes == 3_000_000 + len("flavors: {}\n") * (1 + trainer_left)
    assert summary.artifacts_source_checksum == summary.artifacts_copy_checksum
    assert (again.runs_added, again.artifact_files, again.verified) == (0, 0, True)

    view = _step_as_the_file_store_reads_it(mlflow_run(_VIEW, uri, cwd=str(tmp_path)), info, source_view)
    assert _without(view, "artifact_uri", "artifact_location") == _without(
        source_view, "artifact_uri", "artifact_location")
    trainer = view["runs"][info["runs"][0]]["artifact_uri"]
    model = view["models"][info["model_id"]]["artifact_location"]
    assert trainer.startswith(dest.as_uri()) and model.startswith(dest.as_uri())
    src_model = Path(source_view["models"][info["model_id"]]["artifact_location"][len("file://"):])
    copied = Path(model[len("file://"):])
    assert _sha(copied / "sub" / "weights.bin") == _sha(src_model / "sub" / "weights.bin")
    assert (Path(trainer[len("file://"):]) / "notes" / "MLmodel").read_text() == "flavors: {}\n"
    # the model version's storage location moved with its logged model
    mv = TrackingClient(uri, registry_uri=uri).get_model_version("clf-reg", "1")
    assert mv.source == f"models:/{info['model_id']}"
    assert not any(p.name.endswith(".tmp") for p in dest.rglob("*"))


@pytest.mark.mlflow
def test_copy_artifacts_copies_runs_imported_before_without_it(made, tmp_path, mlflow_run, monkeypatch):
    """An import without --copy-artifacts, then one with it: the runs and logged model imported first get
    their files copied (checked by SHA-256) and their locations repointed, one batch at a time (a kill in
    between resumes), and a third import copies nothing."""
    from tureen.store._import import import_file_store
    from tureen.tracking import TrackingClient

    root, info, source_view = made
    dest = tmp_path / "dest-artifacts"
    uri = f"sqlite:///{tmp_path / 'later.db'}"
    monkeypatch.setenv("TUREEN_ARTIFACT_ROOT", str(dest))
    first = import_file_store(root, uri)  # locations kept: the runs point into the file store
    assert first.verified and first.runs_added == 2 and first.artifact_files == 0
    client = TrackingClient(uri)
    exp = client.get_experiment_by_name("lm-exp")
    assert not exp.artifact_location.startswith(dest.as_uri())
    assert client.get_run(info["runs"][0]).info.artifact_uri == source_view["runs"][info["runs"][0]]["artifact_uri"]

    class Killed(Exception):
        pass

    def kill(done: int, _total: int) -> None:
        raise Killed

    with pytest.raises(Killed):  # killed after the first batch (one run): that run is copied and repointed
        import_file_store(root, uri, batch=1, progress=kill, copy_artifacts=True)
    moved = [r for r in info["runs"] if client.get_run(r).info.artifact_uri.startswith(dest.as_uri())]
    assert len(moved) == 1
    resumed = import_file_store(root, uri, batch=1, copy_artifacts=True)
    assert resumed.verified and resumed.runs_added == 0 and resumed.logged_models_added == 0
    assert resumed.runs_relocated == 1 and resumed.logged_models_relocated == 1
    assert resumed.artifacts_source_checksum == resumed.artifacts_copy_checksum
    trainer_left = moved != [info["runs"][0]]  # the trainer run holds one file, the consumer none
    assert resumed.artifact_files == 2 + trainer_left
    assert resumed.artifact_bytes == 3_000_000 + len("flavors: {}\n") * (1 + trainer_left)
    third = import_file_store(root, uri, copy_artifacts=True)
    assert (third.runs_added, third.runs_relocated, third.logged_models_relocated, third.artifact_files,
            third.verified) == (0, 0, 0, 0, True)

    # the same state as a first import with --copy-artifacts: everything but the locations as MLflow read
    # its file store, the locations in the destination's root (the experiment's too)
    view = _step_as_the_file_store_reads_it(mlflow_run(_VIEW, uri, cwd=str(tmp_path)), info, source_view)
    assert _without(view, "artifact_uri", "artifact_location") == _without(
        source_view, "artifact_uri", "artifact_location")
    assert client.get_experiment_by_name("lm-exp").artifact_location == f"{dest.as_uri()}/{exp.experiment_id}"
    for rid in info["runs"]:
        assert view["runs"][rid]["artifact_uri"] == f"{dest.as_uri()}/{exp.experiment_id}/{rid}/artifacts"
    model = view["models"][info["model_id"]]["artifact_location"]
    assert model == f"{dest.as_uri()}/{exp.experiment_id}/models/{info['model_id']}/artifacts"
    src_model = Path(source_view["models"][info["model_id"]]["artifact_location"][len("file://"):])
    assert _sha(Path(model[len("file://"):]) / "sub" / "weights.bin") == _sha(src_model / "sub" / "weights.bin")
    trainer = Path(view["runs"][info["runs"][0]]["artifact_uri"][len("file://"):])
    assert (trainer / "notes" / "MLmodel").read_text() == "flavors: {}\n"
    assert not any(p.name.endswith(".tmp") for p in dest.rglob("*"))
    assert TrackingClient(uri, registry_uri=uri).get_model_version("clf-reg", "1").source == \
        f"models:/{info['model_id']}"
    import sqlite3

    with sqlite3.connect(tmp_path / "later.db") as conn:  # the version's storage location moved with its model
        (stored,) = conn.execute("SELECT storage_location FROM model_versions WHERE name = 'clf-reg'").fetchone()
    assert stored == model


def test_copy_artifacts_later_refuses_a_path_escaping_the_source_and_copies_nothing(tmp_path, monkeypatch):
    """A store imported without --copy-artifacts (nothing read from its artifacts), then with it: a symlink
    among one run's files is refused, and no file of that batch is copied, no run repointed."""
    from tureen.store._import import import_file_store
    from tureen.tracking import TrackingClient

    dest = tmp_path / "dest"
    monkeypatch.setenv("TUREEN_ARTIFACT_ROOT", str(dest))
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("do not copy")
    root, bad = _tiny_store(tmp_path / "s")
    good = bad.parent / ("a" * 32)  # listed before the bad run, with a file of its own
    (good / "artifacts").mkdir(parents=True)
    (good / "meta.yaml").write_text(f"run_id: {'a' * 32}\nstatus: 3\nstart_time: 1\n"
                                    f"artifact_uri: {(good / 'artifacts').as_uri()}\n")
    (good / "artifacts" / "fine.txt").write_text("fine")
    (bad / "artifacts" / "zz-leak").symlink_to(secret / "key")  # after ok.txt in the bad run's listing
    uri = f"sqlite:///{tmp_path / 's.db'}"
    assert import_file_store(root, uri).verified

    with pytest.raises(InvalidParameterError, match="symbolic link"):
        import_file_store(root, uri, copy_artifacts=True)
    assert not dest.exists() or not [p for p in dest.rglob("*") if p.is_file()]
    client = TrackingClient(uri)
    assert client.get_run("a" * 32).info.artifact_uri == (good / "artifacts").as_uri()
    assert client.get_run("c" * 32).info.artifact_uri == (bad / "artifacts").as_uri()

    (bad / "meta.yaml").write_text(f"run_id: {'c' * 32}\nstatus: 3\nstart_time: 1\n"  # '..' out of the store
                                   f"artifact_uri: file://{bad}/artifacts/../../../../secret\n")
    (bad / "artifacts" / "zz-leak").unlink()
    uri = f"sqlite:///{tmp_path / 't.db'}"
    assert import_file_store(root, uri).verified
    with pytest.raises(InvalidParameterError, match="outside the source store"):
        import_file_store(root, uri, copy_artifacts=True)
    assert not dest.exists() or not [p for p in dest.rglob("*") if p.is_file()]
    assert TrackingClient(uri).get_run("a" * 32).info.artifact_uri == (good / "artifacts").as_uri()


def _tiny_store(tmp_path: Path, artifact_uri: str | None = None) -> tuple[Path, Path]:
    root = tmp_path / "mlruns"
    exp = root / "3"
    run = exp / ("c" * 32)
    (run / "artifacts").mkdir(parents=True)
    (exp / "meta.yaml").write_text("name: tiny\nexperiment_id: '3'\n")
    uri = artifact_uri or (run / "artifacts").as_uri()
    (run / "meta.yaml").write_text(f"run_id: {'c' * 32}\nstatus: 3\nstart_time: 1\nartifact_uri: {uri}\n")
    (run / "artifacts" / "ok.txt").write_text("fine")
    return root, run


def test_copy_artifacts_refuses_paths_leaving_the_source(tmp_path, monkeypatch):
    from tureen.store._import import import_file_store

    monkeypatch.setenv("TUREEN_ARTIFACT_ROOT", str(tmp_path / "dest"))
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("do not copy")

    root, run = _tiny_store(tmp_path / "a")
    (run / "artifacts" / "leak").symlink_to(secret / "key")  # a symlink among the artifacts
    with pytest.raises(InvalidParameterError, match="symbolic link"):
        import_file_store(root, f"sqlite:///{tmp_path / 'a.db'}", copy_artifacts=True)

    root, run = _tiny_store(tmp_path / "b", artifact_uri=secret.as_uri())  # an absolute location elsewhere
    with pytest.raises(InvalidParameterError, match="outside the source store"):
        import_file_store(root, f"sqlite:///{tmp_path / 'b.db'}", copy_artifacts=True)

    root, run = _tiny_store(tmp_path / "c")  # '..' climbing out of the store
    (run / "meta.yaml").write_text(f"run_id: {'c' * 32}\nstatus: 3\nstart_time: 1\n"
                                   f"artifact_uri: file://{run}/artifacts/../../../../secret\n")
    with pytest.raises(InvalidParameterError, match="outside the source store"):
        import_file_store(root, f"sqlite:///{tmp_path / 'c.db'}", copy_artifacts=True)

    root, run = _tiny_store(tmp_path / "d")
    os.symlink(secret, run / "artifacts" / "dir-link")  # a symlinked directory
    with pytest.raises(InvalidParameterError, match="symbolic link"):
        import_file_store(root, f"sqlite:///{tmp_path / 'd.db'}", copy_artifacts=True)
    assert not list((tmp_path / "dest").rglob("key"))

    # without --copy-artifacts nothing is read from the artifact location: it is kept as it is
    summary = import_file_store(root, f"sqlite:///{tmp_path / 'e.db'}")
    from tureen.tracking import TrackingClient

    assert summary.verified
    assert TrackingClient(f"sqlite:///{tmp_path / 'e.db'}").get_run("c" * 32).info.artifact_uri == \
        (run / "artifacts").as_uri()


def test_safe_relative_refuses_what_escapes():
    from tureen.store._import_artifacts import safe_relative

    assert safe_relative("model/MLmodel", "run r") == "model/MLmodel"
    for bad in ("../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\\..\\b", "", "a\x00b", None):
        with pytest.raises(InvalidParameterError):
            safe_relative(bad, "run r")
