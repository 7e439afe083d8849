"""Answer for answer against MLflow's own server (``mlflow models serve --env-manager local``).

Each row of the table is one request sent to both servers. ``same`` rows must get the same status and the
same JSON (predictions, or error_code for errors). ``DIFFERENT`` rows are the deliberate differences
documented in docs/serving.md ("Differences from MLflow's server"): the table pins MLflow's answer as well
as ours, so the documentation stays true for the MLflow version we test against.
"""

from __future__ import annotations

import io
import json
import math

import pandas as pd
import pytest
import requests

pytestmark = pytest.mark.mlflow

COLS = ["a", "b", "c"]
ROWS = [[1, 0.5, "x"], [2, 1.5, "y"]]
SPLIT = {"dataframe_split": {"columns": COLS, "data": ROWS}}
JSON = "application/json"


def _csv() -> bytes:
    return pd.DataFrame(ROWS, columns=COLS).to_csv(index=False).encode()


# (id, method, path, body, content_type, expectation) - expectation: "same" or (ours, mlflow) statuses
SHAPES_TABLE = [
    ("split", "POST", "/invocations", SPLIT, JSON, "same"),
    ("split-index", "POST", "/invocations", {"dataframe_split": {"columns": COLS, "data": ROWS, "index": [5, 6]}},
     JSON, "same"),
    ("records", "POST", "/invocations", {"dataframe_records": [dict(zip(COLS, r)) for r in ROWS]}, JSON, "same"),
    ("instances", "POST", "/invocations", {"instances": [dict(zip(COLS, r)) for r in ROWS]}, JSON, "same"),
    ("inputs-columns", "POST", "/invocations", {"inputs": {"a": [1, 2], "b": [0.5, 1.5], "c": ["x", "y"]}},
     JSON, "same"),
    ("ints-into-double", "POST", "/invocations", {"dataframe_split": {"columns": COLS, "data": [[1, 2, "x"]]}},
     JSON, "same"),
    ("extra-keys-ignored", "POST", "/invocations", {**SPLIT, "signature_name": "x"}, JSON, "same"),
    ("out-frame", "POST", "/invocations", {**SPLIT, "params": {"output": "frame"}}, JSON, "same"),
    ("out-series", "POST", "/invocations", {**SPLIT, "params": {"output": "series"}}, JSON, "same"),
    ("out-unnamed-series", "POST", "/invocations", {**SPLIT, "params": {"output": "unnamed_series"}}, JSON, "same"),
    ("out-dict", "POST", "/invocations", {**SPLIT, "params": {"output": "dict"}}, JSON, "same"),
    ("out-str", "POST", "/invocations", {**SPLIT, "params": {"output": "str"}}, JSON, "same"),
    ("out-nan", "POST", "/invocations", {**SPLIT, "params": {"output": "nan"}}, JSON, "same"),
    ("csv", "POST", "/invocations", _csv(), "text/csv", "same"),
    ("charset-utf8", "POST", "/invocations", SPLIT, "application/json; charset=utf-8", "same"),
    ("bad-json", "POST", "/invocations", b"{", JSON, "same"),
    ("list-body", "POST", "/invocations", b"[1, 2]", JSON, "same"),
    ("no-data-key", "POST", "/invocations", {"columns": COLS, "data": ROWS}, JSON, "same"),
    ("two-data-keys", "POST", "/invocations", {**SPLIT, "inputs": [1]}, JSON, "same"),
    ("split-not-dict", "POST", "/invocations", {"dataframe_split": ROWS}, JSON, "same"),
    ("split-no-data", "POST", "/invocations", {"dataframe_split": {"columns": COLS}}, JSON, "same"),
    ("records-not-list", "POST", "/invocations", {"dataframe_records": {"a": 1}}, JSON, "same"),
    ("missing-column", "POST", "/invocations", {"dataframe_records": [{"a": 1, "b": 0.5}]}, JSON, "status"),
    ("model-value-error", "POST", "/invocations", {**SPLIT, "params": {"fail": "value"}}, JSON, "same"),
    ("text-plain", "POST", "/invocations", SPLIT, "text/plain", "status"),
    ("charset-latin1", "POST", "/invocations", SPLIT, "application/json; charset=latin-1", "status"),
    ("format-param", "POST", "/invocations", SPLIT, "application/json; format=pandas-split", "status"),
    ("timeout", "POST", "/invocations", {**SPLIT, "params": {"sleep": 3.5}}, JSON, "status"),
    ("ping", "GET", "/ping", None, None, "status"),
    ("health", "GET", "/health", None, None, "status"),
    ("version", "GET", "/version", None, None, "status"),
    ("unknown-path", "GET", "/nope", None, None, "status"),
    ("wrong-method", "GET", "/invocations", None, None, "status"),
    # deliberate differences: (our status, MLflow's status)
    ("DIFFERENT no-content-type", "POST", "/invocations", SPLIT, None, (415, 500)),
    ("DIFFERENT float-truncated-into-long", "POST", "/invocations",
     {"dataframe_split": {"columns": COLS, "data": [[1.7, 0.5, "x"]]}}, JSON, (400, 200)),
    ("DIFFERENT string-read-as-number", "POST", "/invocations",
     {"dataframe_split": {"columns": COLS, "data": [["1", 0.5, "x"]]}}, JSON, (400, 200)),
    ("DIFFERENT model-runtime-error", "POST", "/invocations", {**SPLIT, "params": {"fail": "runtime"}}, JSON,
     (500, 400)),
]


def _send(base: str, method: str, path: str, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    if body is not None and content_type is None:
        # requests would add no header for raw bytes: exactly "no Content-Type"
        pass
    return requests.request(method, base + path, data=body, headers=headers, timeout=60)


def _json(resp):
    try:
        return json.loads(resp.text)
    except ValueError:
        return None


def _same_json(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    return a == b


def _check(row, ours_base: str, theirs_base: str) -> None:
    name, method, path, body, ctype, expect = row
    ours = _send(ours_base, method, path, body, ctype)
    theirs = _send(theirs_base, method, path, body, ctype)
    if isinstance(expect, tuple):
        assert (ours.status_code, theirs.status_code) == expect, (name, ours.text, theirs.text[:300])
    else:
        assert ours.status_code == theirs.status_code, (name, ours.text, theirs.text[:300])
    if ours.status_code >= 400:
        # ours is always a JSON error without a stack trace
        err = ours.json()
        assert set(err) >= {"error_code", "message"} and "stack_trace" not in err, name
    if expect == "same":
        a, b = _json(ours), _json(theirs)
        if ours.status_code == 200:
            assert _same_json(a, b), (name, a, b)
        else:
            assert a["error_code"] == b["error_code"], (name, a, b)


@pytest.fixture(scope="module")
def shapes_pair(shapes_server, shapes_model, mlflow_servers):
    return shapes_server.url, mlflow_servers(shapes_model).url


@pytest.mark.parametrize("row", SHAPES_TABLE, ids=[r[0] for r in SHAPES_TABLE])
def test_custom_model_answers_like_mlflow(row, shapes_pair):
    _check(row, *shapes_pair)


@pytest.fixture(scope="module")
def sklearn_pair(sk_server, saved_sklearn, mlflow_servers):
    return sk_server.url, mlflow_servers(saved_sklearn).url


def _sk_rows(breast_cancer, n):
    X, _ = breast_cancer
    return X, X.iloc[:n]


@pytest.mark.parametrize("form", ["split-1", "split-all", "records", "csv", "parquet", "inputs-2d", "ints"])
def test_sklearn_answers_like_mlflow(form, sklearn_pair, breast_cancer):
    ours, theirs = sklearn_pair
    X, _ = breast_cancer
    rows = X.iloc[:1] if form == "split-1" else X
    ctype = JSON
    if form in ("split-1", "split-all"):
        body = {"dataframe_split": {"columns": list(X.columns), "data": rows.to_numpy().tolist()}}
    elif form == "records":
        body = {"dataframe_records": rows.iloc[:50].to_dict(orient="records")}
    elif form == "csv":
        body, ctype = rows.to_csv(index=False).encode(), "text/csv"
    elif form == "parquet":
        buf = io.BytesIO()
        rows.to_parquet(buf)
        body, ctype = buf.getvalue(), "application/vnd.apache.parquet"
    elif form == "inputs-2d":
        body = {"inputs": rows.iloc[:3].to_numpy().tolist()}  # unnamed columns: both say the columns are missing
    else:
        body = {"dataframe_split": {"columns": list(X.columns), "data": rows.iloc[:5].round().astype(int).to_numpy().tolist()}}
    _check((form, "POST", "/invocations", body, ctype, "same"), ours, theirs)
