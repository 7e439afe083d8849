"""The registry store contract (registered models, versions, stages, aliases), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tureen.exceptions import InvalidParameterError, ResourceAlreadyExistsError, ResourceNotFoundError


def _v(client, number: int):
    """A version number as MLflow's client gives it: an int from a database store, a string over REST
    (MLflow's protobuf carries it as a string)."""
    from tureen.tracking.stores.rest import RestStore

    return str(number) if isinstance(client._registry, RestStore) else number


def _model_with_versions(client, name="churn", n=3):
    client.create_registered_model(name, tags={"team": "ml"}, description="d")
    run = client.create_run("0")
    return [client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
            for _ in range(n)]


def test_registered_model_crud(client):
    rm = client.create_registered_model("churn", tags={"team": "ml"}, description="first")
    assert (rm.name, rm.tags, rm.description, rm.latest_versions) == ("churn", {"team": "ml"}, "first", [])
    with pytest.raises(ResourceAlreadyExistsError, match=r"Registered Model \(name=churn\) already exists"):
        client.create_registered_model("churn")
    client.update_registered_model("churn", "second")
    client.set_registered_model_tag("churn", "owner", "ana")
    client.delete_registered_model_tag("churn", "team")
    client.delete_registered_model_tag("churn", "never-set")  # a missing key is a no-op
    got = client.get_registered_model("churn")
    assert (got.description, got.tags) == ("second", {"owner": "ana"})
    with pytest.raises(ResourceNotFoundError, match="name=nope not found"):
        client.get_registered_model("nope")


@pytest.mark.parametrize("name", ["", "  ", "a/b", "a:b", "..", "."])
def test_invalid_model_names(client, name):
    with pytest.raises(InvalidParameterError):
        client.create_registered_model(name)


def test_versions_are_numbered_and_never_reused(client):
    versions = _model_with_versions(client, n=3)
    assert [v.version for v in versions] == [_v(client, 1), _v(client, 2), _v(client, 3)]
    assert all(v.current_stage == "None" and v.status == "READY" for v in versions)
    client.delete_model_version("churn", 3)
    with pytest.raises(ResourceNotFoundError, match="version=3"):
        client.get_model_version("churn", "3")
    run = client.create_run("0")
    assert client.create_model_version("churn", "file:///x", run_id=run.info.run_id).version == _v(client, 4)
    client.update_model_version("churn", 4, description="four")
    assert client.get_model_version("churn", "4").description == "four"
    with pytest.raises(InvalidParameterError, match="integer"):
        client.get_model_version("churn", "one")


def test_model_version_source_must_not_escape(client):
    client.create_registered_model("churn")
    for bad in ("file:///a/../../etc", "runs:/abc/../x", "file:///a/%2e%2e/x", "", "a\x00b"):
        with pytest.raises(InvalidParameterError):
            client.create_model_version("churn", bad)
    assert client.search_model_versions("name = 'churn'") == []


def test_stages_and_archive_existing(client):
    _model_with_versions(client, n=3)
    mv = client.transition_model_version_stage("churn", "1", "production")
    assert mv.current_stage == "Production"
    client.transition_model_version_stage("churn", "2", "Production")
    client.transition_model_version_stage("churn", "3", "PRODUCTION", archive_existing_versions=True)
    stages = {v.version: v.current_stage for v in client.search_model_versions("name = 'churn'")}
    assert stages == {_v(client, 1): "Archived", _v(client, 2): "Archived", _v(client, 3): "Production"}
    latest = client.get_latest_versions("churn")
    assert [(v.version, v.current_stage) for v in latest] == [(_v(client, 3), "Production"),
                                                               (_v(client, 2), "Archived")]
    assert [v.version for v in client.get_latest_versions("churn", ["Archived"])] == [_v(client, 2)]
    with pytest.raises(InvalidParameterError, match="stage"):
        client.transition_model_version_stage("churn", "1", "Prod")
    with pytest.raises(InvalidParameterError, match="archive_existing_versions"):
        client.transition_model_version_stage("churn", "1", "Archived", archive_existing_versions=True)
    assert client.get_model_version("churn", "1").current_stage == "Archived"  # nothing half-done
    rm = client.get_registered_model("churn")
    assert {v.current_stage for v in rm.latest_versions} == {"Production", "Archived"}


def test_aliases_and_their_history(client):
    _model_with_versions(client, n=2)
    client.set_registered_model_alias("churn", "champion", "1")
    client.set_registered_model_alias("churn", "champion", 2)  # moves it
    client.set_registered_model_alias("churn", "challenger", "1")
    assert client.get_model_version_by_alias("churn", "champion").version == _v(client, 2)
    aliases = client.get_registered_model("churn").aliases
    assert aliases == {"challenger": _v(client, 1), "champion": _v(client, 2)}
    assert {type(v) for v in aliases.values()} == {type(_v(client, 1))}
    assert client.get_model_version("churn", "2").aliases == ["champion"]
    assert client.get_model_version_by_alias("churn", "LATEST").version == _v(client, 2)
    for reserved in ("latest", "Latest", "v1", "V12"):
        with pytest.raises(InvalidParameterError, match="reserved"):
            client.set_registered_model_alias("churn", reserved, "1")
    for bad in ("", "a b", "a" * 256):
        with pytest.raises(InvalidParameterError):
            client.set_registered_model_alias("churn", bad, "1")
    with pytest.raises(ResourceNotFoundError):
        client.set_registered_model_alias("churn", "x", "9")
    with pytest.raises(InvalidParameterError, match="alias nope not found"):
        client.get_model_version_by_alias("churn", "nope")
    client.delete_registered_model_alias("churn", "challenger")
    client.delete_registered_model_alias("churn", "challenger")  # no error when absent
    client.delete_model_version("churn", "2")  # removes the alias on it
    assert client.get_registered_model("churn").aliases == {}
    history = [(h.alias, h.version) for h in client.get_registered_model_alias_history("churn")]
    assert history == [("champion", "1"), ("champion", "2"), ("challenger", "1"), ("challenger", None),
                       ("champion", None)]
    assert [h.version for h in client.get_registered_model_alias_history("churn", "champion")] == ["1", "2", None]


def test_rename_and_delete_cascade(client):
    _model_with_versions(client, n=2)
    client.set_registered_model_alias("churn", "champion", "1")
    client.set_model_version_tag("churn", "1", "k", "v")
    client.create_registered_model("taken")
    with pytest.raises(ResourceAlreadyExistsError):
        client.rename_registered_model("churn", "taken")
    renamed = client.rename_registered_model("churn", "attrition")
    assert renamed.aliases == {"champion": _v(client, 1)}
    mv = client.get_model_version("attrition", "1")
    assert mv.tags == {"k": "v"} and mv.name == "attrition"
    assert client.get_registered_model_alias_history("attrition", "champion")[0].version == "1"
    client.delete_registered_model("attrition")
    with pytest.raises(ResourceNotFoundError):
        client.get_model_version("attrition", "1")
    assert client.search_model_versions("name = 'attrition'") == []


def test_model_version_tags(client):
    _model_with_versions(client, n=2)
    client.set_model_version_tag("churn", "1", "validated", "yes")
    client.transition_model_version_stage("churn", "2", "Staging")
    client.set_model_version_tag("churn", key="by_stage", value="1", stage="staging")
    assert client.get_model_version("churn", "2").tags == {"by_stage": "1"}
    client.delete_model_version_tag("churn", "1", "validated")
    assert client.get_model_version("churn", "1").tags == {}
    with pytest.raises(InvalidParameterError):
        client.set_model_version_tag("churn", "1", "bad/../key", "x")


def test_search_registered_models_and_versions(client):
    for name in ("iris", "iris-v2", "churn"):
        _model_with_versions(client, name=name, n=2)
    client.set_registered_model_tag("churn", "prod", "yes")
    names = lambda models: [m.name for m in models]  # noqa: E731
    assert names(client.search_registered_models("name LIKE 'iris%'")) == ["iris", "iris-v2"]
    assert names(client.search_registered_models("name ILIKE 'IRIS'")) == ["iris"]
    assert names(client.search_registered_models("tags.prod = 'yes'")) == ["churn"]
    assert names(client.search_registered_models("name IN ('churn', 'iris')")) == ["churn", "iris"]
    page = client.search_registered_models(max_results=2)
    assert names(page) == ["churn", "iris"] and page.token
    assert names(client.search_registered_models(max_results=2, page_token=page.token)) == ["iris-v2"]
    with pytest.raises(InvalidParameterError, match="Invalid attribute key"):
        client.search_registered_models("description = 'x'")
    found = client.search_model_versions("name = 'iris' AND version_number >= 2")
    assert [(v.name, v.version) for v in found] == [("iris", _v(client, 2))]
    ordered = client.search_model_versions("name LIKE 'iris%'", order_by=["name DESC", "version_number ASC"])
    assert [(v.name, v.version) for v in ordered] == [("iris-v2", _v(client, 1)), ("iris-v2", _v(client, 2)),
                                                      ("iris", _v(client, 1)), ("iris", _v(client, 2))]
    with pytest.raises(InvalidParameterError, match="integer"):
        client.search_model_versions("version_number = 1.5")
    with pytest.raises(InvalidParameterError, match="max_results"):
        client.search_registered_models(max_results=1001)


def test_search_leaves_out_prompts_as_mlflow_does(client):
    """MLflow's client adds ``tags.`mlflow.prompt.is_prompt` != 'true'`` to its searches; MLflow's store then
    matches every model without that tag (prompts, which carry it, are left out by default; a filter asking
    for prompts gets them)."""
    for name in ("churn", "iris"):
        _model_with_versions(client, name=name, n=1)
    client.create_registered_model("greeting", tags={"mlflow.prompt.is_prompt": "true"})
    names = lambda models: [m.name for m in models]  # noqa: E731
    not_prompt = "tags.`mlflow.prompt.is_prompt` != 'true'"
    assert names(client.search_registered_models(not_prompt)) == ["churn", "iris"]
    assert names(client.search_registered_models(f"name LIKE 'i%' AND {not_prompt}")) == ["iris"]
    assert names(client.search_registered_models()) == ["churn", "iris"]
    assert names(client.search_registered_models("tags.`mlflow.prompt.is_prompt` = 'true'")) == ["greeting"]
    assert sorted(v.name for v in client.search_model_versions(not_prompt)) == ["churn", "iris"]


def test_download_uri(client):
    run = client.create_run("0")
    client.create_registered_model("churn")
    mv = client.create_model_version("churn", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    assert client.get_model_version_download_uri("churn", mv.version) == f"{run.info.artifact_uri}/model"
    mv2 = client.create_model_version("churn", "file:///somewhere/model")
    assert client.get_model_version_download_uri("churn", mv2.version) == "file:///somewhere/model"


def test_concurrent_version_creation_gives_unique_numbers(client):
    """Writers racing on one model (threads, so separate connections) never get the same version."""
    from concurrent.futures import ThreadPoolExecutor

    client.create_registered_model("race")
    run = client.create_run("0")

    def register(_: int) -> str:
        return client.create_model_version("race", f"{run.info.artifact_uri}/m", run_id=run.info.run_id).version

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = sorted(int(v) for v in pool.map(register, range(24)))
    assert numbers == list(range(1, 25))
