"""Spark MLlib: a VectorAssembler + LogisticRegression pipeline on a small table, saved by Spark's own writer in
MLflow's ``spark`` layout; pyfunc returns the prediction column. Spark is slow to start: the one local session
(the flavor's, reused by every test in the process) is shared."""

from __future__ import annotations

import pytest

from cases import Built, FlavorCase, as_numpy, table

#: runs on both sides (tureen's venv and the MLflow peer): defines build_pipeline(spark, pdf)
BUILD = """
def build_pipeline(spark, pdf):
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    features = [c for c in pdf.columns if c != "label"]
    stages = [VectorAssembler(inputCols=features, outputCol="features"), LogisticRegression(maxIter=20)]
    return Pipeline(stages=stages).fit(spark.createDataFrame(pdf))
"""


def _build() -> Built:
    from tureen.flavors.spark import get_session

    namespace: dict = {}
    exec(BUILD, namespace)  # noqa: S102 - our own test code, shared with the MLflow side
    X, y = table()
    model = namespace["build_pipeline"](get_session(), X.assign(label=y.astype(float)))
    return Built(model, X, y, X.head(5))


def _native(model, X):
    from tureen.flavors.spark import get_session

    return as_numpy(model.transform(get_session().createDataFrame(X)).select("prediction").toPandas()["prediction"])


MLFLOW_SESSION = """
import sys
os.environ["PYSPARK_PYTHON"] = sys.executable
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1").getOrCreate())
spark.sparkContext.setLogLevel("OFF")
def native(model, frame):
    return tolist(model.transform(spark.createDataFrame(frame)).select("prediction").toPandas()["prediction"])
"""

MLFLOW_SAVE = BUILD + MLFLOW_SESSION + """
import mlflow.spark, mlflow.pyfunc
model = build_pipeline(spark, X.assign(label=y.astype(float)))
p = f"{root}/sparkml"
mlflow.spark.save_model(model, p, input_example=X.head(3), pip_requirements=[])
out["sparkml"] = {"native": native(model, X), "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
"""

MLFLOW_LOAD = MLFLOW_SESSION + """
import mlflow.spark, mlflow.pyfunc
out["native"] = native(mlflow.spark.load_model(path), X)
out["pyfunc"] = tolist(mlflow.pyfunc.load_model(path).predict(X))
"""

CASES = [
    FlavorCase(id="spark-pipeline", module="tureen.flavors.spark", framework="pyspark", build=_build, section="spark",
               keys={"pyspark_version", "model_data", "code", "model_class"}, loader_module="mlflow.spark",
               requirement="pyspark", mlflow_save=MLFLOW_SAVE, mlflow_load=MLFLOW_LOAD, pickle_kw=None,
               native_predict=_native, bad_dtype=lambda X: X.assign(f0="high"),
               bad_shape=lambda X: X.drop(columns=["f3"]), unsupported=(object(), "Spark ML"),
               version_key="pyspark_version", data_file="sparkml/metadata/_SUCCESS",  # Spark names its part files at random
               serve_settings={"preload": False}, marks=[pytest.mark.spark]),
]
