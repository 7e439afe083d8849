"""The Flask app in-process: endpoints, the scoring protocol's forms and shapes, errors and limits."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from tureen.serving import ServingSettings, create_app


@pytest.fixture(scope="module")
def shapes_client(shapes_model):
    app = create_app(shapes_model, ServingSettings(access_log=False, timeout=2))
    return app.test_client()


@pytest.fixture(scope="module")
def sk_client(saved_sklearn):
    return create_app(saved_sklearn, ServingSettings(access_log=False, max_request_bytes=20_000)).test_client()


@pytest.fixture(scope="module")
def tensor_client(tensor_model):
    return create_app(tensor_model, ServingSettings(access_log=False)).test_client()


def post(client, body, content_type="application/json", path="/invocations"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type)


SPLIT = {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 0.5, "x"], [2, 1.5, "y"]]}}


# -- the four JSON forms, CSV and Parquet give the same answer ------------------------------------------
@pytest.mark.parametrize("body", [
    SPLIT,
    {"dataframe_records": [{"a": 1, "b": 0.5, "c": "x"}, {"a": 2, "b": 1.5, "c": "y"}]},
    {"instances": [{"a": 1, "b": 0.5, "c": "x"}, {"a": 2, "b": 1.5, "c": "y"}]},
    {"inputs": {"a": [1, 2], "b": [0.5, 1.5], "c": ["x", "y"]}},
    {"inputs": [{"a": 1, "b": 0.5, "c": "x"}, {"a": 2, "b": 1.5, "c": "y"}]},
    {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 0.5, "x"], [2, 1.5, "y"]], "index": [7, 8]}},
])
def test_every_json_form_scores(shapes_client, body):
    r = post(shapes_client, body)
    assert r.status_code == 200, r.data
    assert r.json == {"predictions": [2, 4]}


def test_csv_and_parquet(shapes_client):
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5], "c": ["007", "y"]})
    r = post(shapes_client, df.to_csv(index=False), content_type="text/csv")
    assert r.status_code == 200 and r.json == {"predictions": [2, 4]}, r.data
    buf = io.BytesIO()
    df.to_parquet(buf)
    r = post(shapes_client, buf.getvalue(), content_type="application/vnd.apache.parquet")
    assert r.status_code == 200 and r.json == {"predictions": [2, 4]}, r.data
    r = post(shapes_client, b"a,b\n1,2\n", content_type="text/csv")
    assert r.status_code == 400 and "'c'" in r.json["message"]
    r = post(shapes_client, b"not parquet", content_type="application/vnd.apache.parquet")
    assert r.status_code == 400 and r.json["error_code"] == "BAD_REQUEST"


@pytest.mark.parametrize("body,fragment", [
    (b"a,b,c\n1,0.5,x,extra\n2,1.5,y,extra\n", "line 2 has 4 fields"),  # pandas would shift a into the index
    (b"a,b,c\n1,0.5,x\n2,1.5,y,extra\n", "line 3 has 4 fields"),
    (b"a,b,c\n1,0.5\n2,1.5,y\n", "line 2 has 2 fields"),                  # pandas would fill c with NaN
    (b'a,b,c\n1,0.5,"x\n2,1.5,y\n', "line 2"),                              # a quote never closed
    (b'a,b,c\n1,0.5,"x"y\n', "line 2"),                                      # text after a closing quote
    (b'a,b,c\n1,0.5,"x,y",z\n', "line 2 has 4 fields"),
])
def test_csv_rows_that_do_not_match_the_header_are_400_naming_the_line(shapes_client, body, fragment):
    r = post(shapes_client, body, content_type="text/csv")
    assert r.status_code == 400 and r.json["error_code"] == "BAD_REQUEST", r.data
    assert fragment in r.json["message"], r.json["message"]


def test_csv_quoting_and_blank_lines_that_are_fine(shapes_client):
    r = post(shapes_client, b'a,b,c\n1,0.5,"x, with a comma"\n\n2,1.5,"y ""quoted"""\n', content_type="text/csv")
    assert r.status_code == 200 and r.json == {"predictions": [2, 4]}, r.data
    r = post(shapes_client, b'a,b,c\r\n1,0.5,"two\nlines"\r\n2,1.5,y\r\n', content_type="text/csv")
    assert r.status_code == 200 and r.json == {"predictions": [2, 4]}, r.data


# -- output shapes as MLflow returns them ------------------------------------------------------------
@pytest.mark.parametrize("output,expected", [
    ("array", [2, 4]),
    ("frame", [{"s": 2, "t": "x"}, {"s": 4, "t": "y"}]),
    ("series", [{"y": 2}, {"y": 4}]),
    ("unnamed_series", [{"0": 2}, {"0": 4}]),
    ("dict", {"n": 2, "cols": ["a", "b", "c"]}),
    ("str", "hello"),
])
def test_output_shapes(shapes_client, output, expected):
    r = post(shapes_client, {**SPLIT, "params": {"output": output}})
    assert r.status_code == 200, r.data
    assert r.json == {"predictions": expected}


def test_nan_is_emitted_as_mlflow_does_and_strict_json_turns_it_into_null(shapes_model):
    body = json.dumps({**SPLIT, "params": {"output": "nan"}})
    loose = create_app(shapes_model, ServingSettings(access_log=False)).test_client()
    assert post(loose, body).data == b'{"predictions":[NaN,1.5]}'
    strict = create_app(shapes_model, ServingSettings(access_log=False, strict_json=True)).test_client()
    assert json.loads(post(strict, body).data) == {"predictions": [None, 1.5]}


def test_types_reach_the_model_as_the_signature_says(shapes_client):
    for body in (SPLIT, {"dataframe_records": [{"a": 1, "b": 2, "c": "x"}]}, {"inputs": {"a": [1], "b": [2], "c": ["x"]}}):
        r = post(shapes_client, {**body, "params": {"output": "types"}})
        assert r.status_code == 200, r.data
        assert r.json["predictions"][:2] == ["int64", "float64"]


def test_unified_llm_form_is_unwrapped_and_params_split_off(shapes_client):
    # the whole object is the input; declared params move to params; the answer has no "predictions"
    r = post(shapes_client, {"input": "x", "output": "str"})
    assert r.status_code == 400  # the input has none of a/b/c: listed by enforcement
    assert "missing inputs" in r.json["message"]


# -- strictness where MLflow is loose ------------------------------------------------------------------
@pytest.mark.parametrize("row,fragment", [
    ([1.7, 0.5, "x"], "1.7 is not a whole number"),
    (["1", 0.5, "x"], "strings are never read as numbers"),
    ([True, 0.5, "x"], "booleans"),
    ([1, 0.5, 3], "expected strings"),
    ([None, 0.5, "x"], "missing values (null) in a required column"),
    ([2 ** 64, 0.5, "x"], "do not fit"),
])
def test_lossy_or_wrong_values_are_400_naming_the_column(shapes_client, row, fragment):
    r = post(shapes_client, {"dataframe_split": {"columns": ["a", "b", "c"], "data": [row]}})
    assert r.status_code == 400, r.data
    assert fragment in r.json["message"] and ("'a'" in r.json["message"] or "'c'" in r.json["message"])
    assert "stack_trace" not in r.json


def test_whole_floats_fit_integer_columns(shapes_client):
    r = post(shapes_client, {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[3.0, 1, "x"]]}})
    assert r.status_code == 200 and r.json == {"predictions": [6]}


def test_every_bad_field_is_listed(shapes_client):
    r = post(shapes_client, {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1.5, "z", 3]]}})
    assert r.status_code == 400
    msg = r.json["message"]
    assert "'a'" in msg and "'b'" in msg and "'c'" in msg


# -- protocol errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("body,status,code,fragment", [
    (b"{", 400, "BAD_REQUEST", "valid JSON"),
    (b"\xff\xfe", 400, "BAD_REQUEST", "not UTF-8"),
    (b"[1, 2]", 400, "BAD_REQUEST", "Received a list"),
    (b"3", 400, "BAD_REQUEST", "JSON dictionary"),
    (json.dumps({"columns": ["a"], "data": [[1]]}), 400, "BAD_REQUEST", "exactly one of the input fields"),
    (json.dumps({"inputs": [1], "instances": [1]}), 400, "BAD_REQUEST", "exactly one"),
    (json.dumps({"dataframe_split": [[1]]}), 400, "BAD_REQUEST", "must be a dictionary"),
    (json.dumps({"dataframe_split": {"columns": ["a"]}}), 400, "BAD_REQUEST", "'data' field"),
    (json.dumps({"dataframe_split": {"data": [[1, 2], [1]]}}), 400, "BAD_REQUEST", "row 1 has 1 values"),
    (json.dumps({"dataframe_records": {"a": 1}}), 400, "BAD_REQUEST", "list of records"),
    (json.dumps({**SPLIT, "params": [1]}), 400, "INVALID_PARAMETER_VALUE", "'params' must be"),
    (json.dumps({**SPLIT, "params": {"nope": 1}}), 400, "INVALID_PARAMETER_VALUE", "unknown params"),
    (b"[" * 100_000, 400, "BAD_REQUEST", "JSON"),
])
def test_malformed_requests(shapes_client, body, status, code, fragment):
    r = post(shapes_client, body)
    assert r.status_code == status, r.data
    assert r.json["error_code"] == code
    assert fragment in r.json["message"]


@pytest.mark.parametrize("content_type,fragment", [
    (None, "no Content-Type"),
    ("text/plain", "only supports the following content types"),
    ("application/json; charset=latin-1", "only supports UTF-8"),
    ("application/json; format=pandas-split", "Unrecognized content type parameters: format"),
])
def test_unsupported_media_types_are_415_json(shapes_client, content_type, fragment):
    r = shapes_client.post("/invocations", data=json.dumps(SPLIT), headers={"Content-Type": content_type}
                           if content_type else {})
    assert r.status_code == 415
    assert r.json["error_code"] == "BAD_REQUEST" and fragment in r.json["message"]


def test_charset_utf8_and_upper_case_type_are_accepted(shapes_client):
    assert post(shapes_client, SPLIT, content_type="application/json; charset=UTF-8").status_code == 200
    assert post(shapes_client, SPLIT, content_type="Application/JSON").status_code == 200


def test_model_failures(shapes_client, shapes_model):
    r = post(shapes_client, {**SPLIT, "params": {"fail": "runtime"}})
    assert r.status_code == 500 and r.json["error_code"] == "INTERNAL_ERROR"
    assert "boom from the model" in r.json["message"] and "stack_trace" not in r.json
    r = post(shapes_client, {**SPLIT, "params": {"fail": "value"}})
    assert r.status_code == 400 and "dislikes this value" in r.json["message"]
    debug = create_app(shapes_model, ServingSettings(access_log=False, debug=True)).test_client()
    r = post(debug, {**SPLIT, "params": {"fail": "runtime"}})
    assert r.status_code == 500 and "Traceback" in r.json["stack_trace"]


def test_timeout_is_504(shapes_client):
    r = post(shapes_client, {**SPLIT, "params": {"sleep": 5.0}})
    assert r.status_code == 504
    assert r.json["error_code"] == "DEADLINE_EXCEEDED" and "2 s" in r.json["message"]
    assert post(shapes_client, SPLIT).status_code == 200  # the next request is fine


def test_body_over_the_limit_is_413_naming_it(sk_client):
    r = sk_client.post("/invocations", data=b"{" + b" " * 30_000 + b"}", content_type="application/json")
    assert r.status_code == 413
    assert r.json["error_code"] == "REQUEST_LIMIT_EXCEEDED" and "20000 bytes" in r.json["message"]


def test_unknown_path_and_method(sk_client):
    r = sk_client.get("/nope")
    assert r.status_code == 404 and r.json["error_code"] == "ENDPOINT_NOT_FOUND"
    r = sk_client.get("/invocations")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]


# -- the other endpoints -----------------------------------------------------------------------------
def test_health_version_ready(sk_client):
    assert sk_client.get("/ping").status_code == 200
    assert sk_client.get("/health").status_code == 200
    assert sk_client.get("/ready").json == {"status": "ready"}
    from tureen import __version__

    assert sk_client.get("/version").data.decode() == __version__


def test_metadata(shapes_client):
    meta = shapes_client.get("/metadata").json
    assert "python_function" in meta["flavors"]
    assert json.loads(meta["signature"]["inputs"])[0] == {"type": "long", "name": "a", "required": True}
    assert meta["input_example"]["dataframe_split"]["columns"] == ["a", "b", "c"]
    assert meta["model_name"] == "shapes"


def test_openapi_describes_the_signature_and_example(shapes_client):
    doc = shapes_client.get("/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    content = doc["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]
    split = next(f for f in content["schema"]["oneOf"] if "dataframe_split" in f["properties"])
    cells = split["properties"]["dataframe_split"]["properties"]["data"]["items"]["prefixItems"]
    assert [c["type"] for c in cells] == ["integer", "number", "string"]
    assert content["example"]["dataframe_split"]["data"] == [[1, 0.5, "x"], [2, 1.5, "y"]]
    assert "/v2/models/shapes/infer" in doc["paths"]


def test_metrics_count_requests_by_endpoint_and_code(shapes_model):
    client = create_app(shapes_model, ServingSettings(access_log=False)).test_client()
    post(client, SPLIT)
    post(client, b"{")
    text = client.get("/metrics").data.decode()
    assert 'tureen_requests_total{endpoint="/invocations",code="200"} 1' in text
    assert 'tureen_requests_total{endpoint="/invocations",code="400"} 1' in text
    assert 'tureen_request_duration_seconds_count{endpoint="/invocations"} 2' in text
    assert "tureen_requests_in_flight 1" in text  # the /metrics request itself
    assert "tureen_model_load_seconds" in text


def test_access_log_is_one_json_line_per_request(shapes_model, capsys):
    client = create_app(shapes_model, ServingSettings(access_log=True)).test_client()
    client.post("/invocations", data=json.dumps(SPLIT), content_type="application/json",
                headers={"X-Request-ID": "abc"})
    lines = [json.loads(l) for l in capsys.readouterr().err.splitlines() if l.startswith("{")]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["path"] == "/invocations" and entry["status"] == 200 and entry["request_id"] == "abc"
    assert entry["method"] == "POST" and entry["ms"] > 0 and entry["out"] > 0


def test_ready_is_503_while_loading_and_names_a_load_failure(tmp_path, shapes_model):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(shapes_model, broken)
    (broken / "python_model.pkl").write_bytes(b"garbage")
    app = create_app(broken, ServingSettings(access_log=False), load_in_background=True)
    client = app.test_client()
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = client.get("/ready")
        if r.json["status"] == "failed":
            break
        assert r.status_code == 503
        time.sleep(0.05)
    assert r.status_code == 503 and "failed to load" in r.json["message"]
    assert client.get("/ping").status_code == 200
    r = post(client, SPLIT)
    assert r.status_code == 503 and r.json["error_code"] == "TEMPORARILY_UNAVAILABLE"


# -- tensors, no signature, sklearn -------------------------------------------------------------------
def test_tensor_model_fast_path_and_strictness(tensor_client):
    r = post(tensor_client, {"inputs": [[1, 2, 3], [0.5, 0.5, 0.5]]})
    assert r.status_code == 200 and r.json == {"predictions": [6.0, 1.5]}
    r = post(tensor_client, {"instances": [[1, 2, 3]]})
    assert r.status_code == 200 and r.json == {"predictions": [6.0]}
    r = post(tensor_client, {"inputs": [[1, 2]]})
    assert r.status_code == 400 and "shape" in r.json["message"]
    r = post(tensor_client, {"inputs": [[1, 2, "x"]]})
    assert r.status_code == 400
    r = post(tensor_client, {"inputs": [[1, 2], [3]]})
    assert r.status_code == 400 and "ragged" in r.json["message"]


def test_model_without_signature_gets_arrays(echo_model):
    client = create_app(echo_model, ServingSettings(access_log=False)).test_client()
    r = post(client, {"inputs": [[1, 2], [3, 4]]})
    assert r.status_code == 200 and r.json["predictions"]["type"] == "ndarray"
    r = post(client, {"dataframe_split": {"columns": ["x"], "data": [[1]]}})
    assert r.json["predictions"]["type"] == "DataFrame"


def test_sklearn_split_fast_path_matches_pyfunc(sk_client, saved_sklearn, breast_cancer):
    from tureen.pyfunc import load_model

    X, _ = breast_cancer
    rows = X.iloc[:20]
    expected = load_model(saved_sklearn).predict(rows).tolist()
    split = {"dataframe_split": {"columns": list(X.columns), "data": rows.to_numpy().tolist()}}
    assert post(sk_client, split).json == {"predictions": expected}
    records = {"dataframe_records": rows.to_dict(orient="records")}
    assert post(sk_client, records).json == {"predictions": expected}
    ints = {"dataframe_split": {"columns": list(X.columns), "data": np.round(rows.to_numpy()).astype(int).tolist()}}
    assert post(sk_client, ints).status_code == 200  # JSON integers fit double columns
    swapped = {"dataframe_split": {"columns": list(X.columns)[::-1], "data": rows.to_numpy()[:, ::-1].tolist()}}
    assert post(sk_client, swapped).json == {"predictions": expected}  # columns by name, any order


# -- Open Inference Protocol -------------------------------------------------------------------------
def test_v2_endpoints(shapes_client, tensor_client):
    assert shapes_client.get("/v2/health/live").status_code == 200
    assert shapes_client.get("/v2/health/ready").json == {"ready": True}
    meta = shapes_client.get("/v2/models/shapes").json
    assert meta["name"] == "shapes"
    assert meta["inputs"] == [{"name": "a", "datatype": "INT64", "shape": [-1]},
                              {"name": "b", "datatype": "FP64", "shape": [-1]},
                              {"name": "c", "datatype": "BYTES", "shape": [-1]}]
    assert shapes_client.get("/v2/models/shapes/ready").status_code == 200
    r = shapes_client.get("/v2/models/other")
    assert r.status_code == 404 and "error" in r.json
    body = {"id": "r1", "inputs": [{"name": "a", "shape": [2], "datatype": "INT64", "data": [1, 2]},
                                   {"name": "b", "shape": [2], "datatype": "FP64", "data": [0.5, 1.5]},
                                   {"name": "c", "shape": [2], "datatype": "BYTES", "data": ["x", "y"]}]}
    r = post(shapes_client, body, path="/v2/models/shapes/infer")
    assert r.status_code == 200, r.data
    assert r.json["id"] == "r1" and r.json["model_name"] == "shapes"
    assert r.json["outputs"] == [{"name": "predict", "shape": [2], "datatype": "INT64", "data": [2, 4]}]
    r = post(tensor_client, {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32",
                                         "data": [1, 2, 3, 4, 5, 6]}]}, path="/v2/models/tensor/infer")
    assert r.status_code == 200, r.data
    assert r.json["outputs"][0] == {"name": "predict", "shape": [2], "datatype": "FP32", "data": [6.0, 15.0]}


def test_v2_metadata_names_the_outputs_infer_returns(sk_client, breast_cancer):
    # the signature's output is one unnamed tensor: metadata must call it what infer answers ("predict"), so a
    # client asking for the outputs the metadata lists gets them
    X, _ = breast_cancer
    meta = sk_client.get("/v2/models/sk").json
    assert [o["name"] for o in meta["outputs"]] == ["predict"]
    columns = [{"name": str(c), "shape": [2], "datatype": "FP64", "data": X[c].iloc[:2].tolist()} for c in X.columns]
    r = post(sk_client, {"inputs": columns, "outputs": [{"name": meta["outputs"][0]["name"]}]},
             path="/v2/models/sk/infer")
    assert r.status_code == 200, r.data
    assert [o["name"] for o in r.json["outputs"]] == ["predict"]


@pytest.mark.parametrize("body,fragment", [
    ({}, "'inputs'"),
    ({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1]}]}, "holds 2 values"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "FLOAT", "data": [1]}]}, "unknown datatype"),
    ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "INT64", "data": [1.5, 2, 3]}]}, "whole number"),
    ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}, "shape"),
])
def test_v2_errors_are_400_with_error_field(tensor_client, body, fragment):
    r = post(tensor_client, body, path="/v2/models/tensor/infer")
    assert r.status_code == 400, r.data
    assert fragment in r.json["error"]
