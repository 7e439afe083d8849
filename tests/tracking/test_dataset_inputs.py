"""Dataset inputs of runs (MLflow's ``log_inputs``), on SQLite and a real PostgreSQL server."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError
from tureen.tracking.entities import Dataset, DatasetInput, InputTag
from tureen.store import _schema as s

CONTEXT = "mlflow.data.context"


def _record(name: str = "iris", digest: str = "c5cd3c2d", **extra: object) -> dict:
    dataset = {"name": name, "digest": digest, "source_type": "code", "source": json.dumps({"tags": {}}),
               "schema": json.dumps({"mlflow_colspec": [{"type": "double", "name": "x", "required": True}]}),
               "profile": json.dumps({"num_rows": 3, "num_elements": 3})}
    dataset.update(extra)
    return dataset


def _input(context: str | None = "train", **dataset: object) -> dict:
    return {"dataset": _record(**dataset),  # type: ignore[arg-type]
            "tags": [] if context is None else [{"key": CONTEXT, "value": context}]}


def _counts(client) -> tuple[int, int, int]:
    with client._store._engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar()  # type: ignore[return-value]
                     for t in (s.datasets, s.inputs, s.input_tags))


def test_logged_inputs_read_back_with_mlflow_field_names(client):
    rid = client.create_run("0").info.run_id
    client.log_inputs(rid, datasets=[_input("train"), _input("eval", name="holdout", digest="0badf00d")])
    inputs = client.get_run(rid).inputs.dataset_inputs
    assert [(d.dataset.name, d.dataset.digest) for d in inputs] == [("holdout", "0badf00d"), ("iris", "c5cd3c2d")]
    iris = inputs[1]
    assert iris.dataset == Dataset(**_record())
    assert iris.tags == [InputTag(CONTEXT, "train")]
    assert inputs[0].tags == [InputTag(CONTEXT, "eval")]
    assert client.get_run(rid).to_dict()["inputs"]["dataset_inputs"][1]["dataset"]["digest"] == "c5cd3c2d"
    # searches return the same inputs
    (found,) = client.search_runs(["0"])
    assert found.inputs == client.get_run(rid).inputs


def test_entities_and_dicts_are_accepted_alike(client):
    rid = client.create_run("0").info.run_id
    entity = DatasetInput(Dataset("a", "1", "code", "{}"), [InputTag("k", "v"), InputTag(CONTEXT, "train")])
    as_dict = {"dataset": {"name": "b", "digest": "2", "source_type": "code", "source": {"uri": "s3://b"}},
               "tags": {CONTEXT: "eval"}}
    client.log_inputs(rid, [entity, as_dict])
    a, b = client.get_run(rid).inputs.dataset_inputs
    assert a == entity  # (tags read back ordered by key)
    assert b.dataset.source == '{"uri": "s3://b"}' and b.dataset.schema is None and b.dataset.profile is None
    assert b.tags == [InputTag(CONTEXT, "eval")]


def test_a_dataset_is_stored_once_per_experiment_and_reused(client):
    r1 = client.create_run("0").info.run_id
    r2 = client.create_run("0").info.run_id
    client.log_inputs(r1, [_input("train")])
    # the same (name, digest) from another run links to the stored dataset: the first record is kept
    client.log_inputs(r2, [_input("eval", profile=json.dumps({"num_rows": 999}))])
    assert _counts(client) == (1, 2, 2)
    d1 = client.get_run(r1).inputs.dataset_inputs[0]
    d2 = client.get_run(r2).inputs.dataset_inputs[0]
    assert d1.dataset == d2.dataset and json.loads(d2.dataset.profile)["num_rows"] == 3
    assert d2.tags == [InputTag(CONTEXT, "eval")]
    # another experiment keeps its own copy; another digest is another dataset
    other = client.create_experiment("other")
    r3 = client.create_run(other).info.run_id
    client.log_inputs(r3, [_input("train"), _input("train", digest="ffff0000")])
    assert _counts(client) == (3, 4, 4)


def test_the_same_input_logged_twice_is_idempotent(client):
    rid = client.create_run("0").info.run_id
    client.log_inputs(rid, [_input("train")])
    before = client.get_run(rid).inputs
    client.log_inputs(rid, [_input("train")])
    client.log_inputs(rid, [_input("eval")])  # an existing input keeps its first tags (MLflow's rule)
    client.log_inputs(rid, [_input("train"), _input("train")])  # duplicates within a call: the first wins
    assert client.get_run(rid).inputs == before
    assert _counts(client) == (1, 1, 1)


@pytest.mark.parametrize("bad, match", [
    ({"dataset": None}, r"datasets\[1\]\.dataset is missing"),
    (_input(name=None), r"datasets\[1\]\.dataset\.name is missing"),
    (_input(digest=None), r"datasets\[1\]\.dataset\.digest is missing"),
    (_input(digest=""), r"digest must not be empty"),
    (_input(source=None), r"source is missing"),
    (_input(source_type=None), r"source_type is missing"),
    (_input(name="n" * 501), r"name is 501 characters long, at most 500"),
    (_input(digest="d" * 37), r"digest is 37 characters long, at most 36"),
    (_input(source="s" * 65536), r"source is 65536 characters long, at most 65535"),
    (_input(schema="s" * 1048576), r"schema is 1048576 characters long, at most 1048575"),
    (_input(source_type="t" * 37), r"source_type is 37 characters long, at most 36"),
    (_input(name=3), r"name must be a string, got int"),
    ({"dataset": _record(), "tags": [{"key": "k" * 256, "value": "v"}]}, r"key is 256 characters long, at most 255"),
    ({"dataset": _record(), "tags": [{"key": CONTEXT, "value": "v" * 501}]},
     r"value \(of 'mlflow.data.context'\) is 501 characters long, at most 500"),
    ({"dataset": _record(), "tags": [{"key": CONTEXT, "value": None}]}, r"value \(of 'mlflow.data.context'\) is "
                                                                         r"missing"),
    ({"dataset": _record(), "tags": [{"key": "", "value": "x"}]}, r"key must be a non-empty string"),
    ({"dataset": _record(), "tags": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]}, r"tag 'k' twice"),
])
def test_bad_input_is_a_typed_error_and_writes_nothing(client, bad, match):
    rid = client.create_run("0").info.run_id
    good = _input("train", name="good", digest="00000000")
    with pytest.raises(InvalidParameterError, match=match) as info:
        client.log_inputs(rid, [good, bad])  # the valid first item is not written either
    assert info.value.error_code == "INVALID_PARAMETER_VALUE" and info.value.http_status == 400
    assert _counts(client) == (0, 0, 0)
    assert client.get_run(rid).inputs.dataset_inputs == []


def test_bad_calls(client):
    rid = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameterError, match="expected a list"):
        client.log_inputs(rid, _input())
    with pytest.raises(InvalidParameterError, match="at most 1000"):
        client.log_inputs(rid, [_input(digest=str(i)) for i in range(1001)])
    with pytest.raises(ResourceNotFoundError):
        client.log_inputs("0" * 32, [_input()])
    client.delete_run(rid)
    with pytest.raises(InvalidParameterError, match="active"):
        client.log_inputs(rid, [_input()])
    assert _counts(client) == (0, 0, 0)


def test_model_inputs(client):
    rid = client.create_run("0").info.run_id
    model = client.create_logged_model("0", name="m")
    client.log_inputs(rid, models=[model.model_id])
    client.log_inputs(rid, models=[{"model_id": model.model_id}])
    assert [m.model_id for m in client.get_run(rid).inputs.model_inputs] == [model.model_id]
    with pytest.raises(ResourceNotFoundError, match="m-nope"):
        client.log_inputs(rid, models=["m-nope"])


def test_search_runs_by_dataset(client):
    ids = {}
    for run_name, inputs in {"a": [_input("train", name="iris", digest="aaaa"), _input("eval", name="holdout")],
                             "b": [_input("train", name="iris", digest="bbbb")],
                             "c": [_input(None, name="wine")],
                             "none": []}.items():
        ids[run_name] = client.create_run("0", run_name=run_name).info.run_id
        client.log_inputs(ids[run_name], inputs)

    def names(filter_string: str) -> list[str]:
        return sorted(r.info.run_name for r in client.search_runs(["0"], filter_string))

    assert names("datasets.name = 'iris'") == ["a", "b"]
    assert names("dataset.digest = 'bbbb'") == ["b"]
    assert names("datasets.name = 'iris' AND datasets.digest = 'aaaa'") == ["a"]
    assert names("datasets.context = 'eval'") == ["a"]
    assert names("datasets.context IN ('train', 'eval')") == ["a", "b"]
    assert names("datasets.context NOT IN ('train')") == ["a"]  # a has an eval input besides its train one
    assert names("datasets.name LIKE 'IR%'") == []  # LIKE is case-sensitive
    assert names("datasets.name ILIKE 'IR%'") == ["a", "b"]
    assert names("datasets.name != 'iris'") == ["a", "c"]  # some input with another name
    assert names("datasets.name = 'wine' AND params.x IS NULL") == ["c"]
    for bad, match in [("datasets.profile = 'x'", "Invalid dataset key 'profile'"),
                       ("datasets.name > 'a'", "Invalid comparator '>'"),
                       ("datasets.name IS NULL", "Invalid comparator 'IS NULL'"),
                       ("datasets.digest = 3", "expected a quoted string")]:
        with pytest.raises(InvalidParameterError, match=match):
            client.search_runs(["0"], bad)


def test_fluent_log_input(client):
    import numpy as np
    import pandas as pd

    import tureen
    from tureen.autolog._common import dataset_record

    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "city": ["a", "b", "c"]})
    with tureen.start_run() as run:
        tureen.log_input(df, context="train", name="cities")
        tureen.log_input(Dataset("ref", "12345678", "code", "{}"), tags={"split": "holdout"})
        tureen.log_input(np.arange(6).reshape(3, 2), context="eval")
        model = client.create_logged_model("0", name="m")
        tureen.log_input(model=model)
    assert tureen.get_run(run.info.run_id).inputs.model_inputs[0].model_id == model.model_id
    inputs = {d.dataset.name: d for d in tureen.get_run(run.info.run_id).inputs.dataset_inputs}
    expected = dataset_record(df, name="cities")
    assert inputs["cities"].dataset.digest == expected["digest"]
    assert inputs["cities"].dataset.schema == expected["schema"]
    assert inputs["cities"].tags == [InputTag(CONTEXT, "train")]
    assert inputs["ref"].tags == [InputTag("split", "holdout")]
    assert inputs["dataset"].tags == [InputTag(CONTEXT, "eval")]
    with pytest.raises(InvalidParameterError, match="Cannot describe a str"):
        with tureen.start_run():
            tureen.log_input("not data")
    with pytest.raises(InvalidParameterError, match="needs a dataset or a model"):
        tureen.log_input()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path) -> str:
    """A URI of an empty database (not migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    import uuid

    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = f"m_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(host=server["host"], port=server["port"], user=server["user"], dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:{server['port']}/{name}"


def test_a_database_at_0002_migrates_in_place(empty_database, tmp_path):
    from tureen.tracking import TrackingClient
    from tureen.store._engine import make_engine
    from tureen.store._migrate import current_revision, migrate

    engine = make_engine(empty_database)
    migrate(engine, default_artifact_location=lambda eid: (tmp_path / str(eid)).as_uri(), target="0002")
    with engine.begin() as conn:
        conn.execute(s.runs.insert().values(run_uuid="a" * 32, name="old", experiment_id=0, user_id="u",
                                            status="FINISHED", start_time=1, artifact_uri="file:///x",
                                            lifecycle_stage="active"))
        conn.execute(s.params.insert().values(run_uuid="a" * 32, key="C", value="0.5"))
    with engine.connect() as conn:
        assert current_revision(conn) == "0002"
        from sqlalchemy import inspect

        assert not {"datasets", "inputs", "input_tags"} & set(inspect(conn).get_table_names())
    engine.dispose()

    client = TrackingClient(empty_database)  # the store migrates on open
    old = client.get_run("a" * 32)
    assert (old.info.run_name, old.data.params) == ("old", {"C": "0.5"})
    assert old.inputs.dataset_inputs == []
    client.log_inputs("a" * 32, [_input("train")])
    assert [r.info.run_id for r in client.search_runs(["0"], "datasets.context = 'train'")] == ["a" * 32]
    with client._store._engine.connect() as conn:
        assert current_revision(conn) == s.HEAD_REVISION == "0004"  # and on MLflow's schema since 0004
    client._store.close()
