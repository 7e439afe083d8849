"""Property-based fuzzing of /invocations: payloads generated from the server's own /openapi.json (which must
then be accepted), arbitrary JSON, mutated payloads and raw bytes. Never a 5xx, always a JSON error."""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tureen.serving import ServingSettings, create_app

FUZZ = settings(max_examples=250, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


def from_schema(schema) -> st.SearchStrategy:
    """A hypothesis strategy for the JSON Schema subset /openapi.json uses (2020-12 tuple rows included)."""
    if schema is True or schema == {}:
        return JSON_VALUES
    if schema is False:
        return st.nothing()
    if "oneOf" in schema:
        return st.one_of([from_schema(s) for s in schema["oneOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema.get("type")
    if isinstance(types, list):
        return st.one_of([from_schema({**schema, "type": t}) for t in types])
    if types == "null":
        return st.none()
    if types == "boolean":
        return st.booleans()
    if types == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if types == "number":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        # integer literals in a number column must be exact as doubles (within +-2**53): see docs/serving.md
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False) | st.integers(
            max(int(lo), -(2 ** 24)) if lo is not None else -(2 ** 53), min(int(hi), 2 ** 24) if hi is not None else 2 ** 53)
    if types == "string":
        if schema.get("format") == "date-time":
            return st.datetimes().map(lambda d: d.isoformat())
        if schema.get("contentEncoding") == "base64":
            return st.binary(max_size=8).map(lambda b: __import__("base64").b64encode(b).decode())
        return st.text(max_size=10)
    if types == "array":
        if "prefixItems" in schema:
            return st.tuples(*[from_schema(s) for s in schema["prefixItems"]]).map(list)
        return st.lists(from_schema(schema.get("items", {})), min_size=schema.get("minItems", 0),
                        max_size=schema.get("maxItems", 4))
    if types == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        if schema.get("maxProperties") == 0:
            return st.just({})
        return st.fixed_dictionaries({k: from_schema(v) for k, v in props.items() if k in required},
                                     optional={k: from_schema(v) for k, v in props.items() if k not in required})
    return JSON_VALUES


def request_schema(client):
    doc = client.get("/openapi.json").get_json()
    return doc["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]["schema"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)
KEYS = st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "params", "columns",
                        "data", "index", "messages", "a", "b", "c"])
SHAPED = st.dictionaries(KEYS, JSON_VALUES, max_size=3) | st.fixed_dictionaries(
    {"dataframe_split": st.fixed_dictionaries({"columns": st.lists(st.sampled_from(["a", "b", "c", "x"]), max_size=4),
                                               "data": st.lists(st.lists(JSON_VALUES, max_size=4), max_size=3)})})
CONTENT_TYPES = st.sampled_from(["application/json", "text/csv", "application/vnd.apache.parquet",
                                 "application/json; charset=utf-16", "text/plain", "", "application/json; q=1"])


def check_error_free(resp_status: int, body: bytes) -> None:
    assert resp_status < 500, body[:500]
    if resp_status >= 400:
        err = json.loads(body)
        assert isinstance(err["error_code"], str) and isinstance(err["message"], str)
        assert "Traceback" not in body.decode(errors="replace")


@pytest.fixture(scope="module")
def shapes_client(shapes_model):
    return create_app(shapes_model, ServingSettings(access_log=False)).test_client()


@pytest.fixture(scope="module")
def sk_client(saved_sklearn):
    return create_app(saved_sklearn, ServingSettings(access_log=False)).test_client()


def test_payloads_from_openapi_are_accepted(shapes_client):
    schema = request_schema(shapes_client)

    @FUZZ
    @given(from_schema(schema))
    def run(payload):
        # columnar "inputs" need columns of one length, which JSON Schema cannot say
        assume("inputs" not in payload or len({len(v) for v in payload["inputs"].values()}) == 1)
        for hook in ("sleep", "fail"):  # the test model's own hooks for slow and failing predictions
            payload.get("params", {}).pop(hook, None)
        r = shapes_client.post("/invocations", data=json.dumps(payload), content_type="application/json")
        assert r.status_code == 200, (payload, r.data[:500])

    run()


def test_payloads_from_openapi_never_5xx_on_sklearn(sk_client):
    schema = request_schema(sk_client)

    @settings(FUZZ, max_examples=100)
    @given(from_schema(schema))
    def run(payload):
        r = sk_client.post("/invocations", data=json.dumps(payload), content_type="application/json")
        check_error_free(r.status_code, r.data)

    run()


@pytest.mark.parametrize("client_name", ["shapes_client", "sk_client"])
def test_arbitrary_json_never_5xx(client_name, request):
    client = request.getfixturevalue(client_name)

    @FUZZ
    @given(st.one_of(JSON_VALUES, SHAPED))
    def run(payload):
        r = client.post("/invocations", data=json.dumps(payload), content_type="application/json")
        check_error_free(r.status_code, r.data)

    run()


def test_raw_bytes_and_content_types_never_5xx(shapes_client):
    @FUZZ
    @given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode), CONTENT_TYPES)
    def run(body, ctype):
        headers = {"Content-Type": ctype} if ctype else {}
        r = shapes_client.post("/invocations", data=body, headers=headers)
        check_error_free(r.status_code, r.data)

    run()


def test_v2_infer_never_5xx(shapes_client):
    tensor = st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "c", "x"]),
                                    "shape": st.lists(st.integers(0, 3), max_size=3),
                                    "datatype": st.sampled_from(["INT64", "FP64", "BYTES", "BOOL", "FP32", "X"]),
                                    "data": st.lists(JSON_VALUES, max_size=6)})

    @FUZZ
    @given(st.one_of(JSON_VALUES, st.fixed_dictionaries({"inputs": st.lists(tensor, max_size=3)})))
    def run(payload):
        r = shapes_client.post("/v2/models/shapes/infer", data=json.dumps(payload), content_type="application/json")
        assert r.status_code < 500, r.data[:500]
        if r.status_code >= 400:
            assert "error" in r.get_json()

    run()


def test_real_server_fuzzed_over_http(sk_server):
    schema = json.loads(requests.get(f"{sk_server.url}/openapi.json", timeout=30).text)
    body_schema = schema["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    session = requests.Session()

    @settings(FUZZ, max_examples=60)
    @given(from_schema(body_schema) | SHAPED)
    def run(payload):
        r = session.post(f"{sk_server.url}/invocations", data=json.dumps(payload),
                         headers={"Content-Type": "application/json"}, timeout=60)
        check_error_free(r.status_code, r.content)

    run()
    assert session.get(f"{sk_server.url}/ready", timeout=30).status_code == 200
