"""One local[2] Spark session for every Spark test, and the small models they score with.

Every test in this folder gets the ``spark`` marker, and pyspark's own FutureWarning about pandas >= 3 is
ignored for these tests only (pyspark 4.3 warns on every pandas UDF; we do not silence warnings globally).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
MASTER = "local[2]"
# pyspark 4.3 and pandas 3: pyspark's own warnings about it, filtered for these tests only
PANDAS3_WARNINGS = ("ignore:PySpark does not yet fully support pandas:FutureWarning",
                    "ignore::pandas.errors.Pandas4Warning:pyspark")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.spark)
            for spec in PANDAS3_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture(scope="session")
def spark():
    """A local[2] session: workers run this interpreter, no UI, driver on 127.0.0.1, small Arrow batches."""
    import warnings

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        # a session another test folder left running (the spark flavor starts a local[*] one lazily, for
        # its pyfunc) would be handed back by getOrCreate on the wrong master: stop it, the flavor restarts
        # its own when it needs one again
        active = SparkContext._active_spark_context
        if active is not None and active.master != MASTER:
            active.stop()
        session = (SparkSession.builder.master(MASTER).appName("tureen-tests")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.pyspark.python", sys.executable)
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.sql.execution.arrow.maxRecordsPerBatch", "25")
                   .config("spark.task.maxFailures", "1")
                   .getOrCreate())
    session.sparkContext.setLogLevel("OFF")  # failing tasks are expected in the bad-input tests
    yield session
    session.stop()


# ------------------------------------------------------------------------------------------------
# data and models (all small; session-scoped)


@pytest.fixture(scope="session")
def iris():
    """(X, y) of iris with identifier-like column names."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in X.columns]
    return X, y


@pytest.fixture(scope="session")
def iris_lr(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    return LogisticRegression(max_iter=1000).fit(X, y)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("spark-models")


@pytest.fixture(scope="session")
def sk_named(models_dir, iris, iris_lr):
    """sklearn classifier with a named signature (inferred from a DataFrame example)."""
    from tureen.flavors import sklearn

    X, _ = iris
    path = models_dir / "sk_named"
    sklearn.save_model(iris_lr, path, input_example=X.head(3))
    return path


@pytest.fixture(scope="session")
def sk_proba(models_dir, iris, iris_lr):
    """The same classifier scoring predict_proba (3 values per row), named signature."""
    from tureen.flavors import sklearn

    X, _ = iris
    path = models_dir / "sk_proba"
    sklearn.save_model(iris_lr, path, input_example=X.head(3), pyfunc_predict_fn="predict_proba")
    return path


@pytest.fixture(scope="session")
def sk_unnamed(models_dir, iris):
    """A classifier fitted on a plain array: its signature (from an array example) has no column names."""
    from sklearn.linear_model import LogisticRegression

    from tureen.flavors import sklearn

    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X.to_numpy(), y.to_numpy())
    path = models_dir / "sk_unnamed"
    sklearn.save_model(model, path, input_example=X.to_numpy()[:3])
    return path, model


@pytest.fixture(scope="session")
def sk_nosig(models_dir, iris, iris_lr):
    """The named classifier saved without any signature."""
    from tureen.flavors import sklearn

    path = models_dir / "sk_nosig"
    sklearn.save_model(iris_lr, path)
    return path


def _scorer_class():
    """A custom PythonModel (defined in a function so cloudpickle stores it by value for the workers).

    Inputs: ``x`` (double) and ``plan`` (string). Output: columns ``label`` (string), ``score`` (double),
    ``load_id`` (string: which load of the model produced the row). Each load appends a line to
    ``model_config["log_dir"]/loads``; the ``threshold`` param decides the label.
    """
    from tureen.pyfunc import PythonModel

    class Scorer(PythonModel):
        def load_context(self, context):
            import os
            import uuid

            self.load_id = uuid.uuid4().hex
            log_dir = context.model_config.get("log_dir")
            if log_dir:
                with open(os.path.join(log_dir, "loads"), "a") as f:
                    f.write(f"{os.getpid()} {self.load_id}\n")

        def predict(self, context, model_input, params=None):
            import pandas as pd

            threshold = (params or {}).get("threshold", 0.5)
            score = model_input["x"] / 10.0
            label = ["high" if s > threshold else "low" for s in score]
            return pd.DataFrame({"label": label, "score": score.to_numpy(), "load_id": self.load_id},
                                index=model_input.index)

    return Scorer


def save_scorer(path: Path, log_dir: Path) -> Path:
    """Save the custom model (named signature, a ``threshold`` param) logging its loads into ``log_dir``."""
    import pandas as pd

    from tureen.models.signature import ColSpec, ModelSignature, ParamSchema, ParamSpec, Schema
    from tureen.pyfunc import save_model

    log_dir.mkdir(parents=True, exist_ok=True)
    sig = ModelSignature(
        inputs=Schema([ColSpec("double", "x"), ColSpec("string", "plan")]),
        outputs=Schema([ColSpec("string", "label"), ColSpec("double", "score"), ColSpec("string", "load_id")]),
        params=ParamSchema([ParamSpec("threshold", "double", 0.5)]))
    save_model(path, python_model=_scorer_class()(), signature=sig, model_config={"log_dir": str(log_dir)},
               input_example=pd.DataFrame({"x": [1.0], "plan": ["basic"]}))
    return path


@pytest.fixture(scope="session")
def make_scorer():
    """``make_scorer(path, log_dir)`` saves a fresh copy of the custom model."""
    return save_scorer


@pytest.fixture(scope="session")
def scorer(models_dir):
    """The custom model, saved once."""
    return save_scorer(models_dir / "scorer", models_dir / "scorer-log")
