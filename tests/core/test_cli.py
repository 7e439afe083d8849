"""`tureen predict`, `tureen models inspect` and `tureen models verify`, run as real subprocesses."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest


def tureen(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tureen.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


@pytest.fixture(scope="module")
def rows(tmp_path_factory, breast_cancer):
    X, _ = breast_cancer
    d = tmp_path_factory.mktemp("rows")
    X[:7].to_csv(d / "rows.csv", index=False)
    X[:7].to_parquet(d / "rows.parquet")
    (d / "split.json").write_text(json.dumps({"dataframe_split": {"columns": list(X.columns),
                                                                  "data": X[:2].values.tolist()}}))
    (d / "records.json").write_text(json.dumps({"dataframe_records": X[:2].to_dict(orient="records")}))
    return d


@pytest.mark.parametrize("name, n", [("rows.csv", 7), ("rows.parquet", 7), ("split.json", 2),
                                     ("records.json", 2)])
def test_predict_every_input_form(saved_sklearn, sk_pipeline, breast_cancer, rows, tmp_path, name, n):
    X, _ = breast_cancer
    out = tmp_path / "preds.json"
    res = tureen("predict", "-m", saved_sklearn, "-i", rows / name, "-o", out, "--chunk-size", 3)
    assert res.returncode == 0, res.stderr
    assert json.loads(out.read_text()) == {"predictions": sk_pipeline.predict(X[:n]).tolist()}


def test_predict_csv_output_and_stdout(saved_sklearn, sk_pipeline, breast_cancer, rows, tmp_path):
    X, _ = breast_cancer
    res = tureen("predict", "-m", saved_sklearn, "-i", rows / "rows.csv", "-o", tmp_path / "p.csv")
    assert res.returncode == 0, res.stderr
    assert pd.read_csv(tmp_path / "p.csv")["prediction"].tolist() == sk_pipeline.predict(X[:7]).tolist()
    res = tureen("predict", "-m", saved_sklearn, "-i", rows / "rows.csv")
    assert json.loads(res.stdout)["predictions"] == sk_pipeline.predict(X[:7]).tolist()


@pytest.mark.parametrize("content, match", [
    ("", "is empty"),
    ("a,b\n", "has a header but no rows"),
    ('{"bad', "valid JSON"),
    ('{"instances": [1], "inputs": [2]}', "exactly one of the input fields"),
    ("[1, 2]", "must be a JSON dictionary"),
    ("a,b\n1,2,3\n4,5,6\n", "CSV line 2 has 3 fields, the header has 2"),  # never shifted into the index
    ("a,b\n1,2\n4\n", "CSV line 3 has 1 fields, the header has 2"),
    ('a,b\n1,"2\n', "CSV line 2 is not valid CSV"),
])
def test_predict_bad_input_files(saved_sklearn, tmp_path, content, match):
    suffix = ".json" if content.startswith(("{", "[")) else ".csv"
    f = tmp_path / f"in{suffix}"
    f.write_text(content)
    out = tmp_path / "out.json"
    res = tureen("predict", "-m", saved_sklearn, "-i", f, "-o", out)
    assert res.returncode != 0
    assert match in res.stderr and "Traceback" not in res.stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_predict_schema_error_is_one_line_and_writes_nothing(saved_sklearn, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("foo,bar\n1,2\n")
    res = tureen("predict", "-m", saved_sklearn, "-i", f, "-o", tmp_path / "o.json")
    assert res.returncode == 1 and "missing inputs" in res.stderr and "extra inputs ['foo', 'bar']" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "o.json").exists()


def test_predict_missing_file_and_bad_model(saved_sklearn, tmp_path):
    res = tureen("predict", "-m", saved_sklearn, "-i", tmp_path / "nope.csv")
    assert res.returncode == 2 and "does not exist" in res.stderr
    (tmp_path / "a.csv").write_text("a\n1\n")
    res = tureen("predict", "-m", tmp_path / "no-model", "-i", tmp_path / "a.csv")
    assert res.returncode == 1 and "RESOURCE_DOES_NOT_EXIST" in res.stderr
    res = tureen("predict", "-m", saved_sklearn, "-i", tmp_path / "a.csv", "--params", "[1]")
    assert res.returncode == 2 and "JSON object" in res.stderr


def test_inspect_readable_and_json(saved_sklearn):
    res = tureen("models", "inspect", saved_sklearn)
    assert res.returncode == 0, res.stderr
    for part in ("python_function, sklearn", "sklearn: skops", "Needs pickle: sklearn: no", "mean radius: double",
                 "Integrity:    verified", "scikit-learn=="):
        assert part in res.stdout
    info = json.loads(tureen("models", "inspect", saved_sklearn, "--json").stdout)
    assert info["integrity"] == "verified" and info["needs_pickle"] == {"sklearn": False}
    assert info["formats"] == {"sklearn": "skops"}


def test_verify_detects_tampering(saved_sklearn, tmp_path):
    assert tureen("models", "verify", saved_sklearn).returncode == 0
    copy = tmp_path / "c"
    shutil.copytree(saved_sklearn, copy)
    with open(copy / "model.skops", "ab") as f:
        f.write(b"x")
    res = tureen("models", "verify", copy)
    assert res.returncode == 1 and "model.skops: content differs" in res.stderr
    assert "FAILED" in tureen("models", "inspect", copy).stdout
