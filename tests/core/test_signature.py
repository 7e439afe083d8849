"""Signatures: MLflow-identical JSON, inference over every input kind, and the construction rules."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from tureen.exceptions import InvalidParameterError
from tureen.models import Model
from tureen.models.signature import (Array, ColSpec, DataType, ModelSignature, ParamSchema, ParamSpec, Schema,
                                     TensorSpec, infer_schema, infer_signature)

# Expected JSON as MLflow 3.17.2 writes it for the same inputs (observed; see shared/reference).
CASES = {
    "ndarray float32": (np.zeros((2, 4), dtype="float32"),
                        [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]),
    "dict of arrays": ({"a": np.zeros((2, 3)), "b": np.zeros(2, dtype="int64")},
                       [{"name": "a", "type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}},
                        {"name": "b", "type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]),
    "list of str": (["a", "b"], [{"type": "string", "required": True}]),
    "scalar": (3, [{"type": "long", "required": True}]),
    "list of dicts": ([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
                      [{"type": "long", "name": "a", "required": True},
                       {"type": "string", "name": "b", "required": True}]),
    "dict of scalars": ({"a": 1, "b": "x", "c": [1, 2]},
                        [{"type": "long", "name": "a", "required": True},
                         {"type": "string", "name": "b", "required": True},
                         {"type": "array", "items": {"type": "long"}, "name": "c", "required": True}]),
    "series unnamed": (pd.Series([1, 2]), [{"type": "long", "required": True}]),
    "str ndarray": (np.array(["a", "b"]), [{"type": "tensor", "tensor-spec": {"dtype": "str", "shape": [-1]}}]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_inferred_json_matches_mlflow(name):
    data, expected = CASES[name]
    assert json.loads(infer_schema(data).to_json()) == expected


def test_dataframe_inference_covers_every_column_kind():
    df = pd.DataFrame({"a": [1, 2], "b": [1.5, None], "c": ["x", "y"], "d": [True, False], "e": [b"x", b"y"],
                       "f": [[1, 2], [3]], "g": [{"k": "v", "n": 1}, {"k": "w", "n": 2}],
                       "h": pd.to_datetime(["2020-01-01", "2021-01-01"]), "i": np.array([1, 2], dtype="int32"),
                       "j": np.array([1, 2], dtype="float32"), "k": [None, "a"]})
    got = json.loads(infer_schema(df).to_json())
    assert got == [
        {"type": "long", "name": "a", "required": True},
        {"type": "double", "name": "b", "required": False},
        {"type": "string", "name": "c", "required": True},
        {"type": "boolean", "name": "d", "required": True},
        {"type": "binary", "name": "e", "required": True},
        {"type": "array", "items": {"type": "long"}, "name": "f", "required": True},
        {"type": "object", "properties": {"k": {"type": "string", "required": True},
                                          "n": {"type": "long", "required": True}}, "name": "g", "required": True},
        {"type": "datetime", "name": "h", "required": True},
        {"type": "integer", "name": "i", "required": True},
        {"type": "float", "name": "j", "required": True},
        {"type": "string", "name": "k", "required": False},
    ]


def test_params_inference_and_json():
    sig = infer_signature(np.zeros((1, 2)), params={"temperature": 0.7, "n": 1, "stop": ["a"], "flag": True,
                                                     "when": dt.datetime(2024, 1, 1)})
    assert json.loads(sig.to_dict()["params"]) == [
        {"name": "temperature", "default": 0.7, "shape": None, "type": "double"},
        {"name": "n", "default": 1, "shape": None, "type": "long"},
        {"name": "stop", "default": ["a"], "shape": [-1], "type": "string"},
        {"name": "flag", "default": True, "shape": None, "type": "boolean"},
        {"name": "when", "default": "2024-01-01T00:00:00", "shape": None, "type": "datetime"},
    ]


def test_signature_round_trips_through_mlmodel(tmp_path):
    sig = ModelSignature(Schema([ColSpec("double", "x"), ColSpec(Array(DataType.long), "y", required=False)]),
                         Schema([TensorSpec("float32", (-1, 2))]),
                         ParamSchema([ParamSpec("k", "long", 3)]))
    m = Model(flavors={"python_function": {"loader_module": "x"}})
    m.signature = sig
    m.save(tmp_path)
    back = Model.load(tmp_path)
    assert back.signature == sig
    text = (tmp_path / "MLmodel").read_text()
    assert "inputs: '[{\"type\": \"double\", \"name\": \"x\", \"required\": true}" in text.replace("\n    ", " ")


@pytest.mark.parametrize("bad, match", [
    (lambda: Schema([]), "at least one"),
    (lambda: Schema([ColSpec("double", "a"), TensorSpec("float32", (-1,), "b")]), "mix"),
    (lambda: Schema([ColSpec("double", "a"), ColSpec("double")]), "every input is named"),
    (lambda: Schema([ColSpec("double", required=False)]), "Unnamed inputs cannot be optional"),
    (lambda: ColSpec("decimal", "a"), "Unknown data type 'decimal'"),
    (lambda: TensorSpec("<U10", (-1,)), "Sized string dtype"),
    (lambda: ParamSpec("p", "binary", b"x"), "scalar type other than binary"),
    (lambda: ParamSpec("p", "long", 1, shape=(2,)), "shape must be None or"),
    (lambda: ParamSpec("p", "long", "x"), "expected long"),
    (lambda: ModelSignature(), "at least one"),
    (lambda: infer_schema([]), "empty list"),
    (lambda: infer_schema({"a": np.zeros(2), "b": 1}), "only numpy arrays"),
])
def test_invalid_schemas_are_refused(bad, match):
    with pytest.raises(InvalidParameterError, match=match):
        bad()


@pytest.mark.mlflow
def test_signatures_identical_to_live_mlflow(tmp_path, mlflow_run):
    """The same data through MLflow's infer_signature and ours gives byte-identical MLmodel JSON strings."""
    df = pd.DataFrame({"a": [1, 2], "b": [1.5, None], "c": ["x", "y"], "d": [True, False],
                       "f": [[1, 2], [3]], "h": pd.to_datetime(["2020-01-01", "2021-01-01"])})
    df.to_pickle(tmp_path / "df.pkl")
    theirs = mlflow_run(
        "import sys, json, pandas as pd\nfrom mlflow.models import infer_signature\n"
        "df = pd.read_pickle(sys.argv[1])\n"
        "print(json.dumps(infer_signature(df, df[['a']], {'t': 0.5, 'stop': ['x']}).to_dict()))",
        tmp_path / "df.pkl")
    ours = infer_signature(df, df[["a"]], {"t": 0.5, "stop": ["x"]}).to_dict()
    assert ours == theirs


def test_empty_lists_merge_with_typed_ones():
    """A column of lists where some rows are empty (spaCy entities, say) has the element type of the others."""
    import pandas as pd

    from tureen.models.signature import Array, DataType, infer_schema

    schema = infer_schema(pd.DataFrame({"tags": [["a", "b"], [], ["c"]]}))
    assert schema.inputs[0].type == Array(DataType.string)
    with pytest.raises(InvalidParameterError, match="Mixed types"):
        infer_schema(pd.DataFrame({"tags": [["a"], [1.5]]}))
