"""log_model end to end (the real sklearn flavor) and every runs:/ and models:/ URI form."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import tureen
from tureen.exceptions import InvalidParameterError, ModelIntegrityError, ResourceNotFoundError
from tureen.models import Model
from tureen.tracking._log_model import log_model
from tureen.uri import resolve_model_uri


def _save_minimal(path: str) -> None:
    Path(path).mkdir()
    model = Model()
    model.add_flavor("python_function", loader_module="tureen.pyfunc.model")
    model.save(path)
    Path(path, "weights.txt").write_text("42")


def test_sklearn_log_register_stage_alias_and_load(client, sk_pipeline, breast_cancer):
    from tureen import flavors, pyfunc

    X, _ = breast_cancer
    tureen.set_experiment("churn")
    with tureen.start_run() as run:
        tureen.log_params({"C": 0.5})
        tureen.log_metric("auc", 0.91, step=3)
        info = flavors.sklearn.log_model(sk_pipeline, name="model", input_example=X[:5],
                                         registered_model_name="churn")
    assert info.model_uri == f"models:/{info.model_id}" and info.model_id.startswith("m-")
    assert info.run_id == run.info.run_id and info.registered_model_version == 1
    assert "sklearn" in info.flavors and info.signature is not None
    assert info.artifact_path.endswith(f"/models/{info.model_id}/artifacts")
    client.transition_model_version_stage("churn", info.registered_model_version, "Production")
    client.set_registered_model_alias("churn", "champion", info.registered_model_version)
    expected = sk_pipeline.predict(X[:10])
    for uri in ("models:/churn/Production", "models:/churn/production", "models:/churn/1", "models:/churn@champion",
                "models:/churn/latest", f"runs:/{run.info.run_id}/model", info.model_uri):
        assert list(pyfunc.load_model(uri).predict(X[:10])) == list(expected), uri
    mlmodel = Model.load(resolve_model_uri("models:/churn/1"))
    assert (mlmodel.run_id, mlmodel.model_id, mlmodel.model_uuid) == (run.info.run_id, info.model_id, info.model_id)
    stored = client.get_run(run.info.run_id)
    history = json.loads(stored.data.tags["mlflow.log-model.history"])
    assert history[0]["artifact_path"] == "model" and history[0]["model_id"] == info.model_id
    assert [o.model_id for o in stored.outputs.model_outputs] == [info.model_id]
    lm = client.get_logged_model(info.model_id)
    assert lm.status == "LOGGED_MODEL_READY" and lm.params == {"C": "0.5"} and lm.source_run_id == run.info.run_id
    assert json.loads(lm.tags["mlflow.modelVersions"]) == [{"name": "churn", "version": 1}]
    mv = client.get_model_version("churn", "1")
    assert (mv.source, mv.run_id, mv.model_id) == (info.model_uri, run.info.run_id, info.model_id)
    assert client.get_model_version_download_uri("churn", "1") == lm.artifact_location


def test_register_model_from_each_uri_kind(client):
    with tureen.start_run() as run:
        info = log_model("custom", _save_minimal, name="model")
        tureen.log_text("x", "plain/MLmodel")  # a model-looking directory among the run's own artifacts
    v1 = tureen.register_model(f"runs:/{run.info.run_id}/model", "m")
    assert v1.model_id == info.model_id and v1.source == info.model_uri
    v2 = tureen.register_model(info.model_uri, "m")
    v3 = tureen.register_model("models:/m/1", "m2")
    v4 = tureen.register_model(f"runs:/{run.info.run_id}/plain", "m")
    assert (v2.version, v3.version, v4.version) == (2, 1, 3)  # ints from a SQL store, as MLflow's
    assert v4.source == f"{run.info.artifact_uri}/plain" and v4.run_id == run.info.run_id
    assert resolve_model_uri("models:/m2/1") == resolve_model_uri("models:/m/1")
    with pytest.raises(ResourceNotFoundError, match="Models logged by this run: model"):
        tureen.register_model(f"runs:/{run.info.run_id}/nothing", "m")
    copied = client.copy_model_version("models:/m/2", "m3")
    assert copied.version == 1 and resolve_model_uri("models:/m3/1") == resolve_model_uri("models:/m/2")


def test_log_model_without_run_starts_one_and_explicit_run_id(client):
    info = log_model("custom", _save_minimal, name="model")
    assert tureen.active_run().info.run_id == info.run_id
    tureen.end_run()
    other = client.create_run("0")
    info2 = log_model("custom", _save_minimal, name="model", run_id=other.info.run_id)
    assert info2.run_id == other.info.run_id and tureen.active_run() is None


def test_failed_save_leaves_nothing_behind(client):
    def broken(path: str) -> None:
        Path(path).mkdir()
        Path(path, "half.bin").write_text("x")
        raise RuntimeError("disk full")

    with tureen.start_run() as run:
        with pytest.raises(RuntimeError, match="disk full"):
            log_model("custom", broken, name="model", registered_model_name="never")
    (output,) = client.get_run(run.info.run_id).outputs.model_outputs
    lm = client.get_logged_model(output.model_id)
    assert lm.status == "LOGGED_MODEL_UPLOAD_FAILED"
    assert not Path(lm.artifact_location.replace("file://", "")).exists()
    assert client.search_registered_models() == []


def test_bad_log_model_names(client):
    for bad in (None, "", "a/b", "x:y", "../up"):
        with pytest.raises(InvalidParameterError):
            log_model("custom", _save_minimal, name=bad)
    with pytest.raises(InvalidParameterError):
        log_model("custom", _save_minimal, name="ok", registered_model_name="a/b")


def test_tampered_files_are_detected(client):
    with tureen.start_run():
        info = log_model("custom", _save_minimal, name="model", registered_model_name="t")
    path = resolve_model_uri("models:/t/1")
    (path / "weights.txt").write_text("43")
    with pytest.raises(ModelIntegrityError, match="changed or truncated"):
        resolve_model_uri(info.model_uri)


@pytest.mark.parametrize("meta, tolerated", [
    ("model_name: t\nmodel_version: '1'\n", True),           # MLflow's own file, as its models:/ load writes it
    ("model_name: t\nmodel_version: 1\n", True),
    ("model_name: t\nmodel_version: '1'\nloader: os.system\n", False),  # another key: not MLflow's file
    ("- model_name\n", False),
    ("model_name: " + "x" * 5000 + "\n", False),               # too large for MLflow's two fields
])
def test_mlflows_registered_model_meta_is_the_one_file_tolerated_beside_a_logged_model(client, meta, tolerated):
    with tureen.start_run():
        log_model("custom", _save_minimal, name="model", registered_model_name="t")
    path = resolve_model_uri("models:/t/1")
    (path / "registered_model_meta").write_text(meta)
    if tolerated:
        assert resolve_model_uri("models:/t/1") == path
        (path / "weights.txt").write_text("43")  # the other files are still checked
    with pytest.raises(ModelIntegrityError, match="changed or truncated"):
        resolve_model_uri("models:/t/1")


def test_any_other_added_file_is_caught(client):
    with tureen.start_run():
        log_model("custom", _save_minimal, name="model", registered_model_name="t")
    path = resolve_model_uri("models:/t/1")
    (path / "registered_model_metadata").write_text("model_name: t\n")
    with pytest.raises(ModelIntegrityError, match="changed or truncated"):
        resolve_model_uri("models:/t/1")


def test_downloads_from_remote_repositories_are_cached_and_verified(client, tmp_path, monkeypatch):
    """A repository without a local path is downloaded once into the cache, then reused while it verifies."""
    from tureen import artifacts
    from tureen.artifacts.local import LocalArtifactRepository

    calls = []

    class Remote(LocalArtifactRepository):  # the same files, reachable only by download
        def __init__(self, uri: str) -> None:
            super().__init__("file://" + uri[len("remote://"):])

        local_path = None  # type: ignore[assignment]

        def download_artifacts(self, artifact_path=None, dst_path=None):
            calls.append(artifact_path)
            return super().download_artifacts(artifact_path, dst_path)

    monkeypatch.setitem(artifacts._REPOS, "remote", Remote)
    with tureen.start_run():
        info = log_model("custom", _save_minimal, name="model")
    src = Path(client.get_logged_model(info.model_id).artifact_location.replace("file://", ""))
    client.create_registered_model("r")
    client.create_model_version("r", "remote://" + str(src))
    first = resolve_model_uri("models:/r/1")
    second = resolve_model_uri("models:/r/1")
    assert first == second and first != src and len(calls) == 1
    assert (first / "weights.txt").read_text() == "42"
    (first / "weights.txt").write_text("damaged")  # a damaged cache entry is fetched again
    third = resolve_model_uri("models:/r/1")
    assert (third / "weights.txt").read_text() == "42" and len(calls) == 2
    shutil.rmtree(first)
    assert (resolve_model_uri("models:/r/1") / "weights.txt").read_text() == "42"


@pytest.mark.parametrize("uri, message", [
    ("models:/", "Not a proper models:/ URI"),
    ("models://churn/1", "Not a proper models:/ URI"),
    ("models:/churn/", "empty"),
    ("models:/churn@", "empty"),
    ("models:/churn/prod", "neither a version number"),
    ("runs:/", "run id is empty"),
    ("runs:/abc/../x", "'..'"),
])
def test_malformed_uris(client, uri, message):
    with pytest.raises(InvalidParameterError, match=message):
        resolve_model_uri(uri)


def test_unresolvable_uris_say_what_exists(client):
    with tureen.start_run() as run:
        log_model("custom", _save_minimal, name="model", registered_model_name="churn")
    client.set_registered_model_alias("churn", "champion", "1")
    cases = {
        "models:/churn/7": "no version 7; versions: 1 (None)",
        "models:/churn/Production": "no versions of model 'churn' in stage 'Production'; versions: 1 (None)",
        "models:/churn@nope": "its aliases: champion -> version 1",
        "models:/nope/1": "Registered models: churn",
        "models:/m-0000": "no logged model with id 'm-0000'",
        f"runs:/{run.info.run_id}/other": "Models logged by this run: model",
        "runs:/0123456789abcdef0123456789abcdef/model": "no run with id",
        "models:/churn/1/missing.txt": "no path 'missing.txt'",
    }
    for uri, message in cases.items():
        with pytest.raises(ResourceNotFoundError) as err:
            resolve_model_uri(uri)
        assert message in str(err.value), uri


def test_registry_in_its_own_database(client, tmp_path, monkeypatch):
    """TUREEN_REGISTRY_URI pointing elsewhere: versions live there, files and logged models stay in tracking."""
    registry_uri = f"sqlite:///{tmp_path / 'registry.db'}"
    monkeypatch.setenv("TUREEN_REGISTRY_URI", registry_uri)
    with tureen.start_run() as run:
        info = log_model("custom", _save_minimal, name="model", registered_model_name="sep")
    from tureen.tracking import TrackingClient

    registry_only = TrackingClient(registry_uri)
    assert registry_only.get_model_version("sep", "1").model_id == info.model_id
    assert client.search_registered_models() == []  # nothing registered in the tracking database
    both = TrackingClient()
    assert both.registry_uri == registry_uri and both.tracking_uri == client.tracking_uri
    assert both.get_model_version("sep", "1").run_id == run.info.run_id
    assert resolve_model_uri("models:/sep/1") == resolve_model_uri(info.model_uri)
    tureen.register_model(f"runs:/{run.info.run_id}/model", "sep")
    assert resolve_model_uri("models:/sep/2") == resolve_model_uri(info.model_uri)
