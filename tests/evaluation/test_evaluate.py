"""``tureen.models.evaluate`` against MLflow 3.17's ``mlflow.models.evaluate`` on the same MLflow-saved models
and data: the same metric names and values, the same artifacts (valid PNG/CSV files logged to the run), the
same dataset records; typed errors for bad arguments; hostile custom artifacts and saved results refused."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest

import tureen
from tureen.exceptions import InvalidParameterError, TureenError

pytestmark = pytest.mark.mlflow

KINDS = {"binary": "classifier", "multiclass": "classifier", "regressor": "regressor"}


def _data(work: Path, case: str) -> Any:
    import pandas as pd

    return pd.read_csv(work / f"{case}.csv")


def _same_metrics(ours: dict[str, Any], theirs: dict[str, float]) -> None:
    assert sorted(ours) == sorted(theirs)
    bad = {k: (ours[k], theirs[k]) for k in theirs if not math.isclose(float(ours[k]), theirs[k], rel_tol=1e-9,
                                                                          abs_tol=1e-12)}
    assert not bad, bad


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("case", list(KINDS))
def test_same_metrics_artifacts_and_run_records_as_mlflow(case: str, mlflow_evaluated) -> None:
    work, mlflow_side = mlflow_evaluated
    theirs = mlflow_side[case]
    df = _data(work, case)
    with tureen.start_run() as run:
        result = tureen.models.evaluate(str(work / case), df, targets="label", model_type=KINDS[case],
                                        evaluators="default")
    assert result.run_id == run.info.run_id
    _same_metrics(result.metrics, theirs["metrics"])
    assert sorted(result.artifacts) == theirs["artifacts"]

    logged = tureen.get_run(run.info.run_id)
    _same_metrics(logged.data.metrics, theirs["run_metrics"])
    files = sorted(f.path for f in tureen.tracking.TrackingClient().list_artifacts(run.info.run_id))
    assert files == theirs["files"]
    for art in result.artifacts.values():
        if art.uri.endswith(".png"):
            path = Path(art.uri.removeprefix("file://"))
            width, height = _png_size(path)
            assert width > 200 and height > 150
        elif art.uri.endswith(".csv"):
            assert list(art.content.columns) == list(theirs["per_class"])
            for col, values in theirs["per_class"].items():
                assert [pytest.approx(v) if isinstance(v, float) else v for v in values] == \
                    list(art.content[col]), col
    # the dataset: the run input digest and the "mlflow.datasets" tag (hash, name) as MLflow records them
    assert [d.dataset.digest for d in logged.inputs.dataset_inputs] == theirs["digests"]
    tag = json.loads(logged.data.tags["mlflow.datasets"])
    assert [(e["name"], e["hash"]) for e in tag] == [(e["name"], e["hash"]) for e in theirs["datasets_tag"]]


@pytest.mark.parametrize("case", list(KINDS))
def test_static_predictions_and_numpy_data_match_mlflow(case: str, mlflow_evaluated) -> None:
    work, mlflow_side = mlflow_evaluated
    theirs = mlflow_side[case]
    df = _data(work, case)
    model = tureen.pyfunc.load_model(str(work / case))
    features = df.drop(columns="label")
    static = tureen.models.evaluate(data=df.assign(pred=model.predict(features)), targets="label",
                                    predictions="pred", model_type=KINDS[case])
    _same_metrics(static.metrics, theirs["static_metrics"])
    assert sorted(static.artifacts) == theirs["static_artifacts"]
    arr = tureen.models.evaluate(str(work / case), features.to_numpy(), targets=df["label"].to_numpy(),
                                 model_type=KINDS[case], feature_names=list(features.columns))
    _same_metrics(arr.metrics, theirs["numpy_metrics"])


def test_a_function_as_model_and_a_new_run_when_none_is_active(mlflow_evaluated) -> None:
    work, mlflow_side = mlflow_evaluated
    df = _data(work, "regressor")
    model = tureen.pyfunc.load_model(str(work / "regressor"))
    assert tureen.active_run() is None
    result = tureen.models.evaluate(lambda x: model.predict(x), df, targets="label", model_type="regressor")
    assert tureen.active_run() is None  # the run evaluate started has ended
    expected = {k: v for k, v in mlflow_side["regressor"]["metrics"].items() if k != "score"}  # no sklearn object
    _same_metrics(result.metrics, expected)
    run = tureen.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["r2_score"] == pytest.approx(result.metrics["r2_score"])


def test_extra_metrics_prefix_and_custom_artifacts(mlflow_evaluated, tmp_path: Path) -> None:
    import pandas as pd

    work, _ = mlflow_evaluated
    df = _data(work, "binary")

    def hits(predictions, targets):  # noqa: ANN001, ANN202 - MLflow's metric-function shape
        return float((predictions == targets).sum())

    def per_row(predictions, targets):  # noqa: ANN001, ANN202
        return tureen.models.MetricValue(scores=[float(p == t) for p, t in zip(predictions, targets)],
                                         aggregate_results={"mean": float((predictions == targets).mean())})

    def table(eval_df, builtin_metrics, artifacts_dir):  # noqa: ANN001, ANN202
        return {"summary": pd.DataFrame({"n": [len(eval_df)], "acc": [builtin_metrics["accuracy_score"]]})}

    result = tureen.models.evaluate(
        str(work / "binary"), df, targets="label", model_type="classifier",
        evaluator_config={"metric_prefix": "val_"},
        extra_metrics=[tureen.models.make_metric(eval_fn=hits, greater_is_better=True),
                       tureen.models.make_metric(eval_fn=per_row, greater_is_better=True)],
        custom_artifacts=[table])
    assert result.metrics["val_hits"] == pytest.approx(result.metrics["val_accuracy_score"] * len(df))
    assert result.metrics["val_per_row/mean"] == pytest.approx(result.metrics["val_accuracy_score"])
    assert "accuracy_score" not in result.metrics
    files = {f.path for f in tureen.tracking.TrackingClient().list_artifacts(result.run_id)}
    assert {"val_confusion_matrix.png", "val_summary.csv", "val_eval_results_table.json"} <= files
    assert int(result.artifacts["summary"].content["n"][0]) == len(df)
    table_json = result.artifacts["eval_results_table"].content
    assert "per_row/score" in " ".join(table_json["columns"]) and len(table_json["data"]) == len(df)


@pytest.mark.parametrize("kwargs, match", [
    ({"model_type": "classifier"}, "targets"),
    ({"model_type": "ranker", "targets": "label"}, "model_type"),
    ({"model_type": "classifier", "targets": "label", "evaluators": "nosuch"}, "Unknown evaluator"),
    ({"model_type": "classifier", "targets": "nosuch"}, "not a column"),
    ({"model_type": None}, "extra_metrics"),
    ({"model_type": "classifier", "targets": "label", "env_manager": "conda"}, "env_manager"),
    ({"model_type": "classifier", "targets": "label", "evaluator_config": {"pos_label": 7, "label_list": [0, 1]}},
     "pos_label"),
])
def test_bad_arguments_are_typed_errors(kwargs: dict[str, Any], match: str, mlflow_evaluated) -> None:
    work, _ = mlflow_evaluated
    with pytest.raises(InvalidParameterError, match=match):
        tureen.models.evaluate(str(work / "binary"), _data(work, "binary"), **kwargs)


def test_bad_data_and_models_are_typed_errors(mlflow_evaluated) -> None:
    import numpy as np

    work, _ = mlflow_evaluated
    df = _data(work, "binary")
    with pytest.raises(InvalidParameterError, match="data"):
        tureen.models.evaluate(str(work / "binary"), None, targets="label", model_type="classifier")
    with pytest.raises(InvalidParameterError, match="2-dimensional"):
        tureen.models.evaluate(lambda x: x, np.zeros(3), targets=[0, 1, 0], model_type="classifier")
    with pytest.raises(InvalidParameterError, match="model must be"):
        tureen.models.evaluate(42, df, targets="label", model_type="classifier")
    with pytest.raises(InvalidParameterError, match="rows"):
        tureen.models.evaluate(lambda x: [0, 1], df, targets="label", model_type="classifier")
    with pytest.raises(TureenError):
        tureen.models.evaluate(str(work / "no-such-model"), df, targets="label", model_type="classifier")


def test_hostile_custom_artifact_and_saved_result_cannot_reach_outside_files(mlflow_evaluated, tmp_path) -> None:
    work, _ = mlflow_evaluated
    df = _data(work, "regressor")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy")

    def leak(eval_df, builtin_metrics, artifacts_dir):  # noqa: ANN001, ANN202
        return {"stolen": str(secret)}

    with pytest.raises(InvalidParameterError, match="outside its artifacts_dir"):
        tureen.models.evaluate(str(work / "regressor"), df, targets="label", model_type="regressor",
                               custom_artifacts=[leak])

    def pickled(eval_df, builtin_metrics, artifacts_dir):  # noqa: ANN001, ANN202
        return {"obj": object()}

    with pytest.raises(InvalidParameterError, match="no pickles"):
        tureen.models.evaluate(str(work / "regressor"), df, targets="label", model_type="regressor",
                               custom_artifacts=[pickled])
    # a saved result whose metadata points outside its artifacts directory is refused on load
    result = tureen.models.evaluate(str(work / "regressor"), df, targets="label", model_type="regressor")
    saved = tmp_path / "saved"
    result.save(saved)
    assert tureen.models.EvaluationResult.load(saved).metrics == pytest.approx(result.metrics)
    (saved / "artifacts_metadata.json").write_text(json.dumps(
        {"x": {"uri": "file:///etc/..", "class_name": "tureen.evaluation._results.JsonEvaluationArtifact"}}))
    with pytest.raises(InvalidParameterError, match="outside"):
        tureen.models.EvaluationResult.load(saved)
