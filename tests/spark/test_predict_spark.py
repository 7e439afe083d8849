"""``run_spark_predict`` (``tureen predict --spark``): files in, files out, on the shared local[2] session."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tureen.cli.predict_spark import run_spark_predict
from tureen.exceptions import (InvalidInputError, InvalidParameterError, ResourceAlreadyExistsError,
                               SchemaEnforcementError)

MASTER = "local[2]"  # the session fixture's master: run_spark_predict reuses that session


@pytest.fixture(scope="module")
def files(tmp_path_factory, iris):
    X, _ = iris
    d = tmp_path_factory.mktemp("predict-spark")
    frame = X.assign(id=np.arange(len(X)))
    frame.to_parquet(d / "iris.parquet")
    frame.to_csv(d / "iris.csv", index=False)
    pd.DataFrame({"x": np.arange(60) % 10 * 1.0, "plan": ["basic"] * 60, "id": np.arange(60)}).to_csv(
        d / "plans.csv", index=False)
    bad = pd.DataFrame({"x": np.arange(60) % 10 * 1.0, "plan": ["basic"] * 59 + [None], "id": np.arange(60)})
    bad.to_parquet(d / "plans-with-gap.parquet")
    return d


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if ".tureen-" in p.name)


def test_parquet_in_parquet_out(spark, files, tmp_path, iris, iris_lr, sk_named):
    X, _ = iris
    out = tmp_path / "scored.parquet"
    rows = run_spark_predict(MASTER, str(sk_named), str(files / "iris.parquet"), str(out), result_type="long",
                             progress=False)
    assert rows == len(X)
    got = pd.read_parquet(out).sort_values("id")
    assert list(got.columns) == [*X.columns, "id", "prediction"]
    np.testing.assert_array_equal(got["prediction"].to_numpy(), iris_lr.predict(X))
    assert _leftovers(tmp_path) == []


def test_csv_in_csv_out_with_a_struct_result_and_params(spark, files, tmp_path, scorer):
    out = tmp_path / "scored.csv"
    rows = run_spark_predict(MASTER, str(scorer), str(files / "plans.csv"), str(out),
                             result_type="struct<label:string,score:double>", params={"threshold": 0.65},
                             progress=True)
    assert rows == 60
    got = pd.concat(pd.read_csv(p) for p in sorted(out.glob("part-*.csv"))).sort_values("id")
    assert list(got.columns) == ["x", "plan", "id", "label", "score"]
    np.testing.assert_allclose(got["score"], got["x"] / 10)
    assert (got["label"] == np.where(got["score"] > 0.65, "high", "low")).all()


def test_array_results_are_json_text_in_csv(spark, files, tmp_path, iris, iris_lr, sk_proba):
    X, _ = iris
    out = tmp_path / "proba.csv"
    run_spark_predict(MASTER, str(sk_proba), str(files / "iris.csv"), str(out), result_type="array<double>",
                      columns=list(X.columns), progress=False, prediction_column="proba")
    got = pd.concat(pd.read_csv(p) for p in sorted(out.glob("part-*.csv"))).sort_values("id")
    proba = np.array([json.loads(v) for v in got["proba"]])
    np.testing.assert_allclose(proba, iris_lr.predict_proba(X), rtol=1e-9)


def test_schema_violation_fails_with_the_models_error_and_writes_nothing(spark, files, tmp_path, scorer):
    out = tmp_path / "never.parquet"
    with pytest.raises(SchemaEnforcementError) as info:
        run_spark_predict(MASTER, str(scorer), str(files / "plans-with-gap.parquet"), str(out),
                          result_type="struct<label:string>", progress=False)
    assert "column 'plan': missing values in a required string column" in info.value.message
    assert "[Spark partition" in info.value.message
    assert not out.exists() and _leftovers(tmp_path) == []


def test_bad_arguments_fail_before_spark_runs(spark, files, tmp_path, sk_named, scorer):
    existing = tmp_path / "exists.parquet"
    existing.mkdir()
    with pytest.raises(ResourceAlreadyExistsError, match="already exists"):
        run_spark_predict(MASTER, str(sk_named), str(files / "iris.parquet"), str(existing))
    unknown_suffix = tmp_path / "iris.data"
    unknown_suffix.write_bytes((files / "iris.parquet").read_bytes())
    with pytest.raises(InvalidInputError, match="Cannot tell the format"):
        run_spark_predict(MASTER, str(sk_named), str(unknown_suffix), str(tmp_path / "o"))
    with pytest.raises(InvalidParameterError, match="'json' is not supported"):
        run_spark_predict(MASTER, str(sk_named), str(files / "iris.parquet"), str(tmp_path / "o"),
                          output_format="json")
    # columns the signature needs are missing from the input: named, before the job
    with pytest.raises(SchemaEnforcementError, match="missing inputs \\['x', 'plan'\\]"):
        run_spark_predict(MASTER, str(scorer), str(files / "iris.parquet"), str(tmp_path / "o"),
                          result_type="struct<label:string>")
    with pytest.raises(InvalidInputError, match="has no columns \\['nope'\\]"):
        run_spark_predict(MASTER, str(sk_named), str(files / "iris.parquet"), str(tmp_path / "o"),
                          columns=["sepal_length", "nope"])
    assert not (tmp_path / "o").exists()


def test_no_java_says_what_to_install(files, tmp_path, sk_named):
    """A process without Java: the error names the JDK, before any Spark start."""
    code = ("import sys\nfrom tureen.cli.predict_spark import run_spark_predict\n"
            "try:\n    run_spark_predict('local[1]', sys.argv[1], sys.argv[2], sys.argv[3])\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "SPARK_HOME")}
    env["PATH"] = str(empty)
    out = subprocess.run([sys.executable, "-c", code, str(sk_named), str(files / "iris.parquet"),
                          str(tmp_path / "out.parquet")], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.startswith("MissingDependencyError"), out.stdout + out.stderr
    assert "JDK 17" in out.stdout and "JAVA_HOME" in out.stdout
    assert not (tmp_path / "out.parquet").exists()




@pytest.mark.slow
def test_the_cli_starts_and_stops_its_own_session(files, tmp_path, iris, iris_lr, sk_named):
    """``tureen predict --spark local[1]`` in a fresh process: a second JVM, so marked slow."""
    X, _ = iris
    out = tmp_path / "cli.parquet"
    res = subprocess.run([sys.executable, "-m", "tureen.cli", "predict", "--spark", "local[1]", "-m", str(sk_named),
                          "-i", str(files / "iris.parquet"), "-o", str(out), "--result-type", "long"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"{len(X)} rows" in res.stderr
    got = pd.read_parquet(out).sort_values("id")
    np.testing.assert_array_equal(got["prediction"].to_numpy(), iris_lr.predict(X))
