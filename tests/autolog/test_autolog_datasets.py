"""Autologging with ``log_datasets=True`` records the training (and evaluation) datasets as run inputs."""

from __future__ import annotations

import json

import pytest

from autolog_support import runs

CONTEXT = "mlflow.data.context"


def _contexts(run) -> list[tuple[str, str]]:
    return sorted((d.dataset.digest, next(t.value for t in d.tags if t.key == CONTEXT))
                  for d in run.inputs.dataset_inputs)


def test_sklearn_fit_records_the_training_dataset(iris):
    from sklearn.linear_model import LogisticRegression

    import tureen.flavors.sklearn
    from tureen.autolog._common import dataset_record

    X, y = iris
    tureen.flavors.sklearn.autolog(log_models=False)  # log_datasets defaults to True
    LogisticRegression(max_iter=300).fit(X, y)
    (run,) = runs()
    (train,) = run.inputs.dataset_inputs
    expected = dataset_record(X, y)
    assert train.tags[0].key == CONTEXT and train.tags[0].value == "train"
    assert train.dataset.name == expected["name"] == "dataset"
    assert train.dataset.digest == expected["digest"]
    assert train.dataset.schema == expected["schema"]
    assert json.loads(train.dataset.schema)["mlflow_colspec"][0]["name"] == X.columns[0]
    assert json.loads(train.dataset.profile) == {"num_rows": len(X), "num_elements": int(X.size)}
    assert train.dataset.source_type == "code"
    # the run is found by its dataset
    found = tureen.search_runs(filter_string=f"datasets.digest = '{expected['digest']}' AND "
                                             "datasets.context = 'train'", output_format="list")
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_numpy_training_and_post_training_eval_datasets(binary):
    from sklearn.linear_model import LogisticRegression

    import tureen
    import tureen.flavors.sklearn
    from tureen.autolog._common import dataset_record

    X, y = binary
    tureen.flavors.sklearn.autolog(log_models=False)
    clf = LogisticRegression().fit(X[:90], y[:90])
    clf.predict(X[90:])  # a post-training call on held-out data: recorded as an eval input
    clf.predict(X[90:])  # again: the same input, recorded once
    (run,) = runs()
    assert _contexts(run) == sorted([(dataset_record(X[:90], y[:90])["digest"], "train"),
                                     (dataset_record(X[90:])["digest"], "eval")])
    # a second fit on the same data in another run reuses the stored dataset (one row per experiment)
    LogisticRegression().fit(X[:90], y[:90])
    client = tureen.TrackingClient()
    with client._store._engine.connect() as conn:
        from sqlalchemy import func, select

        from tureen.store import _schema as s

        assert conn.execute(select(func.count()).select_from(s.datasets)).scalar() == 2
        assert conn.execute(select(func.count()).select_from(s.inputs)).scalar() == 3


def test_log_datasets_false_records_none(iris):
    from sklearn.linear_model import LogisticRegression

    import tureen.flavors.sklearn

    X, y = iris
    tureen.flavors.sklearn.autolog(log_models=False, log_datasets=False)
    LogisticRegression(max_iter=300).fit(X, y)
    (run,) = runs()
    assert run.inputs.dataset_inputs == []


@pytest.mark.mlflow
def test_training_dataset_input_matches_mlflow(mlflow_run, tmp_path, binary):
    """MLflow 3.x autologging the same fit stores the same dataset fields and context."""
    from sklearn.linear_model import LogisticRegression

    import tureen.flavors.sklearn

    code = r'''
import json, sys, numpy as np, mlflow
from sklearn.linear_model import LogisticRegression
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
mlflow.sklearn.autolog(log_models=False)
rng = np.random.default_rng(0)
X = rng.normal(size=(120, 5)); y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
LogisticRegression().fit(X, y)
(run,) = mlflow.search_runs(output_format="list")
print(json.dumps([[d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.schema, d.dataset.profile,
                   [[t.key, t.value] for t in d.tags]] for d in run.inputs.dataset_inputs]))
'''
    theirs = mlflow_run(code, str(tmp_path / "mlflow.db"), timeout=300)
    X, y = binary
    tureen.flavors.sklearn.autolog(log_models=False)
    LogisticRegression().fit(X, y)
    (run,) = runs()
    ours = [[d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.schema, d.dataset.profile,
             [[t.key, t.value] for t in d.tags]] for d in run.inputs.dataset_inputs]
    assert len(ours) == len(theirs) == 1
    (o_name, o_digest, o_type, o_schema, o_profile, o_tags), = ours
    (t_name, t_digest, t_type, t_schema, t_profile, t_tags), = theirs
    assert (o_name, o_digest, o_type, o_tags) == (t_name, t_digest, t_type, t_tags)
    assert json.loads(o_schema) == json.loads(t_schema) and json.loads(o_profile) == json.loads(t_profile)
