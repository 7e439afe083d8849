"""Spark MLlib beyond the conformance case: hostile metadata (a stage id leaving the model, a stage class that is
not Spark's own), a single fitted stage saved as a pipeline, and scoring through spark_udf. One local session
(the flavor's own, shared with the conformance case) serves every test."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("pyspark")

from tureen import pyfunc  # noqa: E402
from tureen.exceptions import ModelFormatError, UntrustedCodeError  # noqa: E402
from tureen.flavors import spark as tspark  # noqa: E402
from tureen.flavors._integrity import seal_model_dir  # noqa: E402
from tureen.models import Model  # noqa: E402

pytestmark = [pytest.mark.spark,
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def data():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    pdf = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    pdf["label"] = (pdf["a"] - pdf["b"] > 0).astype(float)
    return pdf


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """A VectorAssembler + LogisticRegression pipeline, saved once."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    spark = tspark.get_session()
    model = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"),
                             LogisticRegression(maxIter=10)]).fit(spark.createDataFrame(data))
    path = tmp_path_factory.mktemp("spark") / "pipeline"
    tspark.save_model(model, path, input_example=data[["a", "b"]].head(3))
    return path


def _edit_metadata(src, dst, edit):
    shutil.copytree(src, dst)
    for file in (dst / "sparkml").rglob("part-*"):
        if file.parent.name == "metadata":
            lines = [json.dumps(edit(json.loads(line))) for line in file.read_text().splitlines() if line.strip()]
            file.write_text("\n".join(lines) + "\n")
    seal_model_dir(dst, Model.load(dst))  # digests recomputed: only the metadata check stands in the way
    return dst


def test_stage_id_leaving_the_model_is_refused(saved, tmp_path):
    def edit(meta):
        if "stageUids" in meta.get("paramMap", {}):
            meta["paramMap"]["stageUids"][0] = "../../../../outside"
        return meta

    path = _edit_metadata(saved, tmp_path / "escape", edit)
    with pytest.raises(ModelFormatError, match="plain name"):
        pyfunc.load_model(path, allow_pickle=True)


def test_stage_class_not_from_spark_passes_the_gate(saved, tmp_path, monkeypatch):
    def edit(meta):
        if meta["class"].endswith("VectorAssembler"):
            meta["class"] = "os.system"
        return meta

    path = _edit_metadata(saved, tmp_path / "foreign", edit)
    conf = Model.load(path).flavors["spark"]
    assert tspark.FLAVOR.needs_pickle(path, conf) and not tspark.FLAVOR.needs_pickle(saved, conf)
    with pytest.raises(UntrustedCodeError, match="os.system"):
        pyfunc.load_model(path, allow_pickle=False)
    monkeypatch.setenv("TUREEN_ALLOW_PICKLE", "false")
    with pytest.raises(UntrustedCodeError):
        tspark.load_model(path)


def test_one_fitted_stage_is_saved_as_a_pipeline(data, tmp_path):
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    spark = tspark.get_session()
    assembled = VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(spark.createDataFrame(data))
    scaler = StandardScaler(inputCol="features", outputCol="scaled").fit(assembled)
    path = tmp_path / "stage"
    tspark.save_model(scaler, path)
    meta = Model.load(path)
    assert meta.flavors["spark"]["model_class"] == "pyspark.ml.pipeline.PipelineModel"
    loaded = tspark.load_model(path)
    assert [type(s).__name__ for s in loaded.stages] == ["StandardScalerModel"]
    assert tspark.FLAVOR.describe(path, meta.flavors["spark"])["stages"] == ["StandardScalerModel"]


def test_scored_through_spark_udf(saved, data):
    from tureen.pyfunc.spark import spark_udf

    spark = tspark.get_session()
    want = pyfunc.load_model(saved).predict(data[["a", "b"]]).tolist()
    predict = spark_udf(spark, saved, result_type="double")
    got = [r.p for r in spark.createDataFrame(data[["a", "b"]]).withColumn("p", predict("a", "b")).collect()]
    assert got == want


@pytest.mark.parametrize("rows", [1, 40, 1500])
def test_pyfunc_answers_as_the_raw_transform_does(saved, data, rows):
    """A small frame's double predictions come back through collect(), a large one's through toPandas(): either
    way the Series equals the raw model's own transform, value for value, with its dtype and name."""
    import pandas as pd

    frame = pd.concat([data[["a", "b"]]] * (rows // len(data) + 1), ignore_index=True).head(rows)
    frame.index = frame.index + 7  # the answer keeps the caller's index
    got = pyfunc.load_model(saved).predict(frame)
    raw = tspark.load_model(saved)
    want = raw.transform(tspark.get_session().createDataFrame(frame)).select("prediction").toPandas()["prediction"]
    assert got.dtype == want.dtype == "float64"
    assert list(got.index) == list(frame.index)
    assert got.tolist() == want.tolist()


# ------------------------------------------------------------------------------------------------
# the Java pipeline path (one JVM call per transform) and its fallback; the warm-up prediction at load


def _frame(data, rows=40):
    import pandas as pd

    return pd.concat([data[["a", "b"]]] * (rows // len(data) + 1), ignore_index=True).head(rows)


def _raw_answer(model, frame):
    return model.transform(tspark.get_session().createDataFrame(frame)).select("prediction").toPandas()["prediction"]


def test_a_pipeline_of_java_stages_is_transformed_as_one_java_pipeline(saved, data):
    model = pyfunc.load_model(saved)
    impl = model._impl
    assert impl._java_stages is not None and impl._java is not None  # built by the warm-up at load
    frame = _frame(data)
    assert model.predict(frame).tolist() == _raw_answer(model.get_raw_model(), frame).tolist()


def test_params_changed_on_the_raw_stages_are_honoured(saved, data):
    model = pyfunc.load_model(saved)
    frame = _frame(data)
    before = model.predict(frame).tolist()
    lr = model.get_raw_model().stages[-1]
    lr.setThreshold(0.999)  # nearly everything becomes class 0
    after = model.predict(frame).tolist()
    assert after == _raw_answer(model.get_raw_model(), frame).tolist()
    assert after != before and sum(after) < sum(before)
    lr.setThreshold(0.5)
    assert model.predict(frame).tolist() == before


def test_nested_pipelines_take_the_java_path_with_the_same_answers(data):
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    spark = tspark.get_session()
    inner = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="raw_features"),
                             StandardScaler(inputCol="raw_features", outputCol="features")])
    fitted = Pipeline(stages=[inner, LogisticRegression(maxIter=5)]).fit(spark.createDataFrame(data))
    assert isinstance(fitted.stages[0], PipelineModel)
    impl = tspark._SparkPredictor(fitted)
    assert impl._java_stages is not None and len(impl._java_stages) == 3
    frame = _frame(data, 7)
    assert impl.predict(frame).tolist() == _raw_answer(fitted, frame).tolist()


def test_a_python_stage_falls_back_to_sparks_own_transform(data):
    from pyspark.ml import Pipeline, Transformer
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    class Doubler(Transformer):  # a stage written in Python: no Java object behind it
        def _transform(self, dataset):
            return dataset.withColumn("a", F.col("a") * 2.0)

    spark = tspark.get_session()
    fitted = Pipeline(stages=[Doubler(), VectorAssembler(inputCols=["a", "b"], outputCol="features"),
                              LogisticRegression(maxIter=5)]).fit(spark.createDataFrame(data))
    impl = tspark._SparkPredictor(fitted)
    assert impl._java_stages is None
    frame = _frame(data, 9)
    got = impl.predict(frame)
    assert impl._java is None
    assert got.tolist() == _raw_answer(fitted, frame).tolist()


def test_warm_up_frame_is_made_from_the_signature():
    from tureen.models.signature import ColSpec, ModelSignature, Schema, SparkMLVector

    sig = ModelSignature(Schema([ColSpec("double", "x"), ColSpec("long", "n"), ColSpec("string", "s"),
                                 ColSpec("boolean", "flag", required=False)]))
    frame = tspark._warm_up_frame(sig)
    assert list(frame.columns) == ["x", "n", "s", "flag"] and len(frame) == 1
    assert [str(t) for t in frame.dtypes] == ["float64", "int64", "object", "bool"]
    assert tspark._warm_up_frame(None) is None
    assert tspark._warm_up_frame(ModelSignature(Schema([ColSpec(SparkMLVector(), "v")]))) is None
    assert tspark._warm_up_frame(ModelSignature(Schema([ColSpec("double")]))) is None


def test_a_failing_warm_up_is_logged_and_the_model_loads(data, tmp_path, caplog):
    import logging

    import pandas as pd
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    spark = tspark.get_session()
    frame = data.assign(c=["x" if i % 2 else "y" for i in range(len(data))])
    fitted = Pipeline(stages=[StringIndexer(inputCol="c", outputCol="ci", handleInvalid="error"),
                              VectorAssembler(inputCols=["a", "b", "ci"], outputCol="features"),
                              LogisticRegression(maxIter=5)]).fit(spark.createDataFrame(frame))
    tspark.save_model(fitted, tmp_path / "m", input_example=frame[["a", "b", "c"]].head(3))
    with caplog.at_level(logging.INFO, logger="tureen.flavors.spark"):
        model = pyfunc.load_model(tmp_path / "m")  # the warm-up's text is a label the indexer never saw
    assert any("warm-up prediction failed" in r.getMessage() for r in caplog.records)
    rows = pd.DataFrame({"a": [0.5], "b": [-0.5], "c": ["x"]})
    assert model.predict(rows).tolist() == _raw_answer(fitted, rows).tolist()
