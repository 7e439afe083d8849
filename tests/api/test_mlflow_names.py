"""MLflow's names on tureen (issue 15 parts 1 and 2): the aliases, the fluent additions, the artifacts and data
functions, and the MLflow 1.x table rows with their DeprecationWarning."""

from __future__ import annotations

import json
import warnings

import pytest


def test_the_aliases_are_tureens_objects():
    import tureen as mlflow
    from tureen.tracking.client import TrackingClient

    assert mlflow.MlflowClient is TrackingClient is mlflow.tracking.MlflowClient is mlflow.client.MlflowClient
    assert mlflow.MlflowException is mlflow.exceptions.TureenError
    assert mlflow.entities.Metric is mlflow.tracking.entities.Metric
    assert mlflow.entities.model_registry.ModelVersion.__name__ == "ModelVersion"
    assert mlflow.sklearn.FLAVOR_NAME == "sklearn" and mlflow.xgboost.FLAVOR_NAME == "xgboost"
    assert mlflow.tracking.get_tracking_uri() == mlflow.get_tracking_uri()
    assert mlflow.data.pandas_dataset.PandasDataset is mlflow.data.PandasDataset
    with pytest.raises(AttributeError, match="no attribute 'langchain'"):
        mlflow.langchain  # noqa: B018
    assert mlflow.entities.RunStatus.to_string("finished") == "FINISHED"
    assert mlflow.entities.ViewType.from_string("all") == mlflow.entities.ViewType.ALL


def test_start_run_takes_tags_fifth_as_mlflow_1_did_and_parent_as_mlflow_3_does():
    import tureen as mlflow

    with mlflow.start_run(None, None, "outer", False, {"k": "v"}) as outer:
        assert mlflow.get_run(outer.info.run_id).data.tags["k"] == "v"
        with mlflow.start_run(None, None, "inner", True, outer.info.run_id) as inner:
            pass
    assert mlflow.get_parent_run(inner.info.run_id).info.run_id == outer.info.run_id
    assert mlflow.get_parent_run(outer.info.run_id) is None
    assert mlflow.last_active_run().info.run_id == outer.info.run_id


def test_mlflow_1_tables_warn_and_answer():
    import tureen as mlflow

    exp = mlflow.set_experiment("old-style")
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0)
    mlflow.MlflowClient().create_registered_model("old")
    client = mlflow.MlflowClient()
    cases = [
        (lambda: mlflow.list_run_infos(exp.experiment_id), "search_runs"),
        (lambda: client.list_run_infos(exp.experiment_id), "search_runs"),
        (lambda: mlflow.list_experiments(), "search_experiments"),
        (lambda: client.list_experiments(), "search_experiments"),
        (lambda: mlflow.list_registered_models(), "search_registered_models"),
        (lambda: client.list_registered_models(), "search_registered_models"),
    ]
    answers = []
    for call, newer in cases:
        with pytest.warns(DeprecationWarning, match=newer):
            answers.append(call())
    assert [i.run_id for i in answers[0]] == [i.run_id for i in answers[1]] == [run.info.run_id]
    assert isinstance(answers[0][0], mlflow.entities.RunInfo)
    assert "old-style" in {e.name for e in answers[2]} == {e.name for e in answers[3]}
    assert [m.name for m in answers[4]] == [m.name for m in answers[5]] == ["old"]
    mv = mlflow.register_model("file:///somewhere/model", "old", await_registration_for=0)
    with pytest.warns(DeprecationWarning, match="set_registered_model_alias"):
        assert client.get_model_version_stages("old", mv.version) == ["None", "Staging", "Production", "Archived"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(mlflow.exceptions.ResourceNotFoundError):
            client.get_model_version_stages("old", "9")


def test_fluent_search_and_experiment_tags():
    import tureen as mlflow

    mlflow.set_experiment("tagged")
    mlflow.set_experiment_tag("team", "ml")
    mlflow.set_experiment_tags({"a": "1", "b": "2"})
    exp = mlflow.get_experiment_by_name("tagged")
    assert {k: exp.tags[k] for k in ("team", "a", "b")} == {"team": "ml", "a": "1", "b": "2"}
    found = mlflow.search_experiments(filter_string="tags.team = 'ml'")
    assert [e.name for e in found] == ["tagged"]
    assert isinstance(found, list)
    assert len(mlflow.search_experiments(max_results=1)) == 1
    mlflow.MlflowClient().create_registered_model("a1")
    mlflow.MlflowClient().create_registered_model("a2")
    assert sorted(m.name for m in mlflow.search_registered_models(filter_string="name LIKE 'a%'")) == ["a1", "a2"]
    assert mlflow.search_model_versions(filter_string="name = 'a1'") == []


def test_artifact_functions(tmp_path):
    import numpy as np

    import tureen as mlflow

    with mlflow.start_run() as run:
        mlflow.log_dict({"k": [1, 2]}, "conf/settings.json")
        mlflow.log_dict({"k": 3}, "conf/settings.yaml")
        mlflow.log_text("hi", "notes.txt")
        mlflow.log_image(np.full((4, 6), 0.5), "gray.png")
        mlflow.log_image(np.zeros((4, 4, 3), dtype=np.uint8), key="frames", step=2)
        with pytest.raises(mlflow.exceptions.InvalidParameterError, match="out of the range"):
            mlflow.log_image(np.full((2, 2), 3.0), "bad.png")
    rid = run.info.run_id
    assert mlflow.artifacts.load_dict(f"runs:/{rid}/conf/settings.json") == {"k": [1, 2]}
    assert mlflow.artifacts.load_dict(f"runs:/{rid}/conf/settings.yaml") == {"k": 3}
    assert mlflow.artifacts.load_text(f"runs:/{rid}/notes.txt") == "hi"
    assert mlflow.artifacts.load_image(f"runs:/{rid}/gray.png").size == (6, 4)
    listed = {f.path for f in mlflow.artifacts.list_artifacts(run_id=rid)}
    assert {"conf", "notes.txt", "gray.png", "images"} <= listed
    assert {f.path for f in mlflow.artifacts.list_artifacts(f"runs:/{rid}/conf")} == {"conf/settings.json",
                                                                                        "conf/settings.yaml"}
    frames = [f.path for f in mlflow.artifacts.list_artifacts(run_id=rid, artifact_path="images")]
    assert len(frames) == 2 and all(p.startswith("images/frames%step%2%timestamp%") for p in frames)
    assert mlflow.get_run(rid).data.tags["mlflow.loggedImages"] == "true"
    local = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="conf", dst_path=str(tmp_path / "d"))
    assert sorted(p.name for p in (tmp_path / "d" / "conf").iterdir()) == ["settings.json", "settings.yaml"]
    assert local.endswith("conf")
    with pytest.raises(mlflow.exceptions.InvalidParameterError, match="not both"):
        mlflow.artifacts.download_artifacts(f"runs:/{rid}/notes.txt", run_id=rid)


def test_tables_append_and_load_across_runs():
    import tureen as mlflow

    for score in (0.1, 0.2):
        with mlflow.start_run():
            mlflow.log_table({"q": ["a"], "score": [score]}, "eval.json")
            mlflow.log_table({"q": ["b"], "score": [score * 2]}, "eval.json")
    with mlflow.start_run():
        mlflow.log_text("x", "other.txt")
    table = mlflow.load_table("eval.json", extra_columns=["run_id"])
    assert sorted(table["score"].tolist()) == pytest.approx([0.1, 0.2, 0.2, 0.4])
    assert table["run_id"].nunique() == 2
    with pytest.raises(mlflow.exceptions.InvalidParameterError, match=".json"):
        mlflow.log_table({"q": [1]}, "eval.csv")
    with pytest.raises(mlflow.exceptions.ResourceNotFoundError):
        mlflow.load_table("missing.json")


def test_log_figure_matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import tureen as mlflow

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    with mlflow.start_run() as run:
        mlflow.log_figure(fig, "plots/line.png")
        mlflow.log_figure(fig, "plots/line.svg")
        with pytest.raises(mlflow.exceptions.InvalidParameterError, match="matplotlib or plotly"):
            mlflow.log_figure(object(), "x.png")
    plt.close(fig)
    rid = run.info.run_id
    assert mlflow.artifacts.load_image(f"runs:/{rid}/plots/line.png").format == "PNG"
    assert "<svg" in mlflow.artifacts.load_text(f"runs:/{rid}/plots/line.svg")


def test_datasets_log_and_come_back():
    import numpy as np
    import pandas as pd

    import tureen as mlflow

    df = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    ds = mlflow.data.from_pandas(df, source="https://example.org/d.csv", targets="y")
    assert ds.name == "dataset" and ds.source.url == "https://example.org/d.csv" and ds.targets == "y"
    assert ds.profile == {"num_rows": 2, "num_elements": 4}
    with pytest.raises(mlflow.exceptions.InvalidParameterError, match="targets"):
        mlflow.data.from_pandas(df, targets="nope")
    arr = mlflow.data.from_numpy({"a": np.zeros((2, 2)), "b": np.ones(3)}, name="dict")
    assert json.loads(arr.to_dict()["profile"])["features_shape"] == {"a": [2, 2], "b": [3]}
    with mlflow.start_run() as run:
        mlflow.log_inputs([ds, arr], contexts=["train", "eval"], tags_list=[{"k": "v"}, None])
    inputs = {d.dataset.name: d for d in mlflow.get_run(run.info.run_id).inputs.dataset_inputs}
    assert inputs["dataset"].dataset.digest == ds.digest and inputs["dict"].dataset.digest == arr.digest
    assert {t.key: t.value for t in inputs["dataset"].tags} == {"k": "v", "mlflow.data.context": "train"}
    assert isinstance(mlflow.data.get_source(inputs["dataset"]), mlflow.data.HTTPDatasetSource)
    assert mlflow.data.get_source(inputs["dict"].dataset).to_dict()["tags"]["mlflow.source.type"] == "LOCAL"


def test_models_helpers(tmp_path):
    import pandas as pd

    import tureen as mlflow

    example = pd.DataFrame({"a": [1.0, 2.0]})
    mlflow.pyfunc.save_model(tmp_path / "m", python_model=lambda df: df["a"] * 2, input_example=example)
    body = mlflow.models.convert_input_example_to_serving_input(example)
    assert json.loads(body) == {"dataframe_split": {"columns": ["a"], "data": [[1.0], [2.0]]}}
    assert mlflow.models.validate_serving_input(tmp_path / "m", body).tolist() == [2.0, 4.0]
    with pytest.raises(mlflow.exceptions.TureenError):
        mlflow.models.validate_serving_input(tmp_path / "m", {"dataframe_split": {"columns": ["b"], "data": [[1]]}})
    info = mlflow.models.get_model_info(tmp_path / "m")
    assert info.signature.inputs.input_names() == ["a"]
    assert mlflow.models.convert_input_example_to_serving_input(None) is None
    with pytest.raises(mlflow.exceptions.InvalidParameterError):
        mlflow.models.set_model("not a model")
