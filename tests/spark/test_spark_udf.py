"""``tureen.pyfunc.spark_udf`` on a real local[2] Spark session."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from tureen.exceptions import (InvalidParameterError, ModelFormatError, ResourceNotFoundError,
                               SchemaEnforcementError)
from tureen.pyfunc import spark_udf
from tureen.pyfunc.spark import error_from_spark


def _iris_df(spark, iris, partitions=4):
    X, _ = iris
    return spark.createDataFrame(X.assign(id=np.arange(len(X)))).repartition(partitions, "id")


def _scorer_df(spark, n=200, partitions=4):
    from pyspark.sql import functions as F

    return (spark.range(0, n, numPartitions=partitions)
            .withColumn("x", F.col("id") % 10 * 1.0)
            .withColumn("plan", F.lit("basic")))


# ------------------------------------------------------------------------------------------------
# sklearn: columns by name, by position, a struct argument, no signature


def test_sklearn_columns_by_name_match_local_predictions(spark, iris, iris_lr, sk_named):
    X, _ = iris
    predict = spark_udf(spark, sk_named, result_type="long")
    # columns given in another order than the signature's, beside an id column the model never sees
    out = _iris_df(spark, iris).withColumn("pred", predict(*reversed(list(X.columns)))).toPandas()
    out = out.sort_values("id")
    expected = iris_lr.predict(X)
    assert out["pred"].dtype == np.int64
    np.testing.assert_array_equal(out["pred"].to_numpy(), expected)


def test_registry_uri_resolves_on_the_driver_only(spark, iris, iris_lr):
    """models:/name/Production: resolved on the driver; the executors only see the shipped files."""
    import tureen
    from tureen import flavors

    X, _ = iris
    tureen.set_experiment("spark-udf")
    with tureen.start_run():
        info = flavors.sklearn.log_model(iris_lr, name="model", input_example=X[:3],
                                         registered_model_name="iris-spark")
    tureen.TrackingClient().transition_model_version_stage("iris-spark", info.registered_model_version,
                                                           "Production")
    predict = spark_udf(spark, "models:/iris-spark/Production", result_type="long")
    out = _iris_df(spark, iris).withColumn("pred", predict(*X.columns)).toPandas().sort_values("id")
    np.testing.assert_array_equal(out["pred"].to_numpy(), iris_lr.predict(X))
    with pytest.raises(ResourceNotFoundError):
        spark_udf(spark, "models:/iris-spark/Staging")


def test_no_arguments_means_the_signature_columns(spark, iris, iris_lr, sk_named):
    X, _ = iris
    predict = spark_udf(spark, sk_named, result_type="double")
    out = _iris_df(spark, iris).withColumn("pred", predict()).toPandas().sort_values("id")
    np.testing.assert_array_equal(out["pred"].to_numpy(), iris_lr.predict(X).astype(float))


def test_one_struct_argument_supplies_the_columns(spark, iris, iris_lr, sk_named):
    from pyspark.sql import functions as F

    X, _ = iris
    predict = spark_udf(spark, sk_named, result_type="integer")
    out = _iris_df(spark, iris).select("id", predict(F.struct(*X.columns)).alias("pred")).toPandas()
    out = out.sort_values("id")
    np.testing.assert_array_equal(out["pred"].to_numpy(), iris_lr.predict(X))


def test_unnamed_signature_takes_columns_by_position(spark, iris, sk_unnamed):
    from pyspark.sql import functions as F

    X, _ = iris
    path, model = sk_unnamed
    predict = spark_udf(spark, path, result_type="long")
    df = _iris_df(spark, iris).select("id", *[F.col(c).alias(f"feature_{i}") for i, c in enumerate(X.columns)])
    out = df.withColumn("pred", predict("feature_0", "feature_1", "feature_2", "feature_3")).toPandas()
    out = out.sort_values("id")
    np.testing.assert_array_equal(out["pred"].to_numpy(), model.predict(X.to_numpy()))
    with pytest.raises(SchemaEnforcementError, match="takes 4 unnamed columns, got 3"):
        predict("feature_0", "feature_1", "feature_2")


def test_model_without_signature_gets_spark_column_names(spark, iris, iris_lr, sk_nosig):
    X, _ = iris
    predict = spark_udf(spark, sk_nosig, result_type="long")
    out = _iris_df(spark, iris).withColumn("pred", predict(*X.columns)).toPandas().sort_values("id")
    np.testing.assert_array_equal(out["pred"].to_numpy(), iris_lr.predict(X))


def test_array_result_for_several_values_per_row(spark, iris, iris_lr, sk_proba):
    X, _ = iris
    predict = spark_udf(spark, sk_proba, result_type="array<double>")
    out = _iris_df(spark, iris).withColumn("proba", predict()).toPandas().sort_values("id")
    got = np.stack(out["proba"].to_list())
    np.testing.assert_allclose(got, iris_lr.predict_proba(X), rtol=1e-12)
    # a scalar type for 3 values per row is refused, naming the output and the type
    scalar = spark_udf(spark, sk_proba, result_type="double")
    with pytest.raises(Exception) as info:
        _iris_df(spark, iris).withColumn("p", scalar()).collect()
    err = error_from_spark(info.value)
    assert isinstance(err, InvalidParameterError)
    assert "3 values per row" in err.message and "double" in err.message and "array<double>" in err.message


# ------------------------------------------------------------------------------------------------
# the custom model: struct results, params, loads


def test_struct_result_and_params(spark, scorer):
    predict = spark_udf(spark, scorer, result_type="struct<label:string,score:double>")
    out = _scorer_df(spark).withColumn("r", predict("x", "plan")).select("id", "x", "r.label", "r.score")
    rows = out.toPandas().sort_values("id")
    np.testing.assert_allclose(rows["score"].to_numpy(), rows["x"].to_numpy() / 10)
    assert (rows["label"] == np.where(rows["score"] > 0.5, "high", "low")).all()

    strict = spark_udf(spark, scorer, result_type="struct<label:string,score:double>", params={"threshold": 0.85})
    rows = _scorer_df(spark).select("x", strict("x", "plan").alias("r")).select("x", "r.label").toPandas()
    assert set(rows.loc[rows["x"] == 9.0, "label"]) == {"high"}
    assert set(rows.loc[rows["x"] == 8.0, "label"]) == {"low"}


def test_params_are_checked_before_the_job(spark, scorer):
    with pytest.raises(SchemaEnforcementError, match="unknown params"):
        spark_udf(spark, scorer, result_type="struct<label:string>", params={"treshold": 0.2})
    with pytest.raises(SchemaEnforcementError, match="threshold"):
        spark_udf(spark, scorer, result_type="struct<label:string>", params={"threshold": "high"})


def test_model_loads_once_per_python_worker_not_per_batch(spark, models_dir, make_scorer):
    """400 rows in 8 partitions and 25-row Arrow batches: 16 batches, 8 tasks, 2 workers (local[2])."""
    log_dir = models_dir / "load-count-log"
    path = make_scorer(models_dir / "load-count", log_dir)
    predict = spark_udf(spark, path, result_type="struct<label:string,load_id:string>")
    rows = _scorer_df(spark, n=400, partitions=8).select(predict("x", "plan").alias("r")).select("r.*").toPandas()
    assert len(rows) == 400
    loads = (log_dir / "loads").read_text().split()
    pids, load_ids = loads[0::2], loads[1::2]
    # every row was scored by a model loaded once in its worker process: as many loads as workers
    assert set(rows["load_id"]) == set(load_ids)
    assert len(load_ids) == len(set(pids)) <= 2, loads
    batches = 400 // 25
    assert batches > 2 * len(load_ids)
    # the UDF's own counter (a Spark accumulator) agrees: one load per worker
    counts = predict.load_counts
    assert sorted(int(k.rsplit(":", 1)[1]) for k in counts) == sorted(int(p) for p in pids)
    assert set(counts.values()) == {1}
    # a second job on the same workers loads nothing
    _scorer_df(spark, n=400, partitions=8).select(predict("x", "plan").alias("r")).collect()
    assert len((log_dir / "loads").read_text().split()) == len(loads)


def test_schema_violation_in_one_partition_fails_the_job(spark, scorer):
    from pyspark.sql import functions as F

    predict = spark_udf(spark, scorer, result_type="struct<label:string,score:double>")
    # ids 300..399 are partition 3: only there is the required string column missing values
    df = _scorer_df(spark, n=400, partitions=4).withColumn(
        "plan", F.when(F.col("id") >= 350, F.lit(None)).otherwise(F.col("plan")))
    with pytest.raises(Exception) as info:
        df.withColumn("r", predict("x", "plan")).collect()
    text = str(info.value)
    assert "tureen.exceptions.SchemaEnforcementError" in text
    assert "column 'plan': missing values in a required string column" in text
    assert "[Spark partition 3]" in text
    err = error_from_spark(info.value)
    assert isinstance(err, SchemaEnforcementError)
    assert err.message.startswith("Input does not match the model signature: column 'plan'")
    # the other partitions alone score fine
    assert df.where("id < 300").withColumn("r", predict("x", "plan")).count() == 300


def test_output_the_result_type_cannot_hold_names_both(spark, scorer):
    from pyspark.sql import functions as F

    # the signature says 'label' is a string: a numeric field for it is refused before any job
    with pytest.raises(InvalidParameterError, match="'label' as str values.*label:double"):
        spark_udf(spark, scorer, result_type="struct<label:double,score:double>")
    with pytest.raises(InvalidParameterError, match="needs fields \\['margin'\\]"):
        spark_udf(spark, scorer, result_type="struct<label:string,margin:double>")
    with pytest.raises(InvalidParameterError, match="3 output columns"):
        spark_udf(spark, scorer, result_type="double")

    # a model without an output schema fails in the job, with the same kind of message
    from tureen.pyfunc import save_model

    def words(model_input):
        return pd.Series(["cat"] * len(model_input))

    path = scorer.parent / "words"
    if not path.exists():
        save_model(path, python_model=words)
    predict = spark_udf(spark, path, result_type="double")
    with pytest.raises(Exception) as info:
        spark.range(10).select(predict(F.col("id")).alias("p")).collect()
    err = error_from_spark(info.value)
    assert isinstance(err, InvalidParameterError)
    assert "cannot be converted to the Spark result type double" in err.message
    assert "str values like 'cat'" in err.message and "result_type='string'" in err.message


# ------------------------------------------------------------------------------------------------
# another flavor


def test_xgboost_model_scores_like_locally(spark, iris, models_dir):
    xgb = pytest.importorskip("xgboost")
    from tureen.flavors import xgboost as txgb

    X, y = iris
    model = xgb.XGBRegressor(n_estimators=20, max_depth=3).fit(X, y)
    path = models_dir / "xgb"
    txgb.save_model(model, path, input_example=X.head(3))
    predict = spark_udf(spark, path, result_type="float")
    out = _iris_df(spark, iris).withColumn("pred", predict(*X.columns)).toPandas().sort_values("id")
    np.testing.assert_allclose(out["pred"].to_numpy(), model.predict(X), rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# bad input, caught on the driver


def test_bad_model_uri_fails_before_any_job(spark, tmp_path):
    started = time.monotonic()
    with pytest.raises(ResourceNotFoundError, match="does-not-exist"):
        spark_udf(spark, tmp_path / "does-not-exist")
    assert time.monotonic() - started < 2


def test_columns_not_in_the_signature_are_named(spark, sk_named):
    predict = spark_udf(spark, sk_named)
    with pytest.raises(SchemaEnforcementError) as info:
        predict("sepal_length", "sepal_width", "petal_length", "petal_widht")
    assert "missing inputs ['petal_width']" in info.value.message
    assert "extra inputs ['petal_widht']" in info.value.message


def test_bad_result_types_and_env_manager(spark, sk_named):
    with pytest.raises(InvalidParameterError, match="'map<string,double>' is not supported"):
        spark_udf(spark, sk_named, result_type="map<string,double>")
    with pytest.raises(InvalidParameterError, match="not a Spark type"):
        spark_udf(spark, sk_named, result_type="dubble<")
    with pytest.raises(InvalidParameterError, match="int values.*binary"):
        spark_udf(spark, sk_named, result_type="binary")
    with pytest.raises(InvalidParameterError, match="env_manager='virtualenv' is not supported"):
        spark_udf(spark, sk_named, env_manager="virtualenv")


@pytest.mark.parametrize("digests", ["recorded", "none"])
def test_shipped_files_are_verified_on_the_executor(spark, iris, iris_lr, models_dir, digests):
    """Tamper with the copy Spark unpacked for the executors: the next load fails with the integrity error.

    A tureen model is checked against the digests recorded at save time; a model without them (as MLflow
    saves it) against the digests the driver took before shipping.
    """
    from pyspark import SparkFiles

    from tureen.flavors import sklearn
    from tureen.models.mlmodel import Model

    X, _ = iris
    path = models_dir / f"tamper-{digests}"
    sklearn.save_model(iris_lr, path, input_example=X.head(2), metadata={"unique": f"tamper-{digests}"})
    if digests == "none":
        meta = Model.load(path)
        meta.tureen = {}
        meta.save(path)
    first = spark_udf(spark, path, result_type="long", allow_pickle=False)
    assert _iris_df(spark, iris).withColumn("p", first()).count() == len(X)  # executors unpacked the archive
    unpacked = os.path.join(SparkFiles.get(first._cfg.archive_name), "model", "model.skops")
    with open(unpacked, "ab") as f:  # local mode: the executors read the driver's SparkFiles directory
        f.write(b"tampered")
    # another load option: the workers load the model again, from the tampered files
    second = spark_udf(spark, path, result_type="long", allow_pickle=True)
    assert second._cfg.archive_name == first._cfg.archive_name
    with pytest.raises(Exception) as info:
        _iris_df(spark, iris).withColumn("p", second()).collect()
    err = error_from_spark(info.value)
    assert err is not None and err.error_code == "MODEL_INTEGRITY_FAILED", str(info.value)[-2000:]
    assert "model.skops" in err.message
    assert ("tampered or truncated" if digests == "recorded" else "differs from the driver's copy") in err.message


def test_no_pyspark_says_what_to_install(sk_named):
    code = ("import sys; sys.modules['pyspark'] = None\n"
            "from tureen.pyfunc import spark_udf\n"
            "try:\n    spark_udf(object(), sys.argv[1])\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(sk_named)], capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("MissingDependencyError"), out.stdout + out.stderr
    assert "pip install 'tureen[spark]'" in out.stdout and "JDK 17" in out.stdout


def test_model_error_text_is_recovered_from_a_spark_failure():
    text = ("py4j...\nTraceback...\ntureen.exceptions.ModelIntegrityError: Model failed its integrity check"
            " [Spark partition 2]\n SQLSTATE: 38000")
    err = error_from_spark(RuntimeError(text))
    assert isinstance(err, ModelFormatError) and err.message.endswith("[Spark partition 2]")
    assert error_from_spark(RuntimeError("java.lang.OutOfMemoryError")) is None
