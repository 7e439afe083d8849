"""Schema enforcement: the documented coercion table, row by row, and errors that list every problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tureen.exceptions import SchemaEnforcementError
from tureen.models.enforce import enforce_params, enforce_schema
from tureen.models.signature import (Array, ColSpec, DataType, Object, ParamSchema, ParamSpec, Property, Schema,
                                     TensorSpec)


def one(t, **kw):
    return Schema([ColSpec(t, "c", **kw)])


ALLOWED = [  # (column, schema type, resulting dtype)
    (pd.Series([1, 2], dtype="int32"), "long", "int64"),
    (pd.Series([1, 2], dtype="uint16"), "long", "int64"),
    (pd.Series([1.5], dtype="float32"), "double", "float64"),
    (pd.Series([1, 2], dtype="int16"), "double", "float64"),
    (pd.Series([1, 2 ** 40], dtype="int64"), "double", "float64"),
    (pd.Series([0, 1], dtype="int64"), "float", "float32"),
    (pd.Series([1, 2], dtype="int8"), "integer", "int32"),
    (pd.Series([1, None], dtype="Float64"), "double", "float64"),
    (pd.Series([1, None], dtype="Int64"), "double", "float64"),
    (pd.Series([1, 2], dtype="Int64"), "long", "int64"),
    (pd.Series([True, False], dtype="boolean"), "boolean", "bool"),
    (pd.Series(pd.to_datetime(["2020-01-01"]).astype("datetime64[s]")), "datetime", "datetime64[ns]"),
    (pd.Series(["2020-01-01T10:00:00"], dtype=object), "datetime", "datetime64[ns]"),
    (pd.Series(["a", "b"], dtype=object), "string", "object"),
    (pd.Series([b"a"], dtype=object), "binary", "object"),
]


@pytest.mark.parametrize("col, t, want", ALLOWED, ids=[f"{c.dtype}->{t}" for c, t, _ in ALLOWED])
def test_allowed_widenings(col, t, want):
    out = enforce_schema(pd.DataFrame({"c": col}), one(t))
    assert str(out["c"].dtype) == want


REFUSED = [
    (pd.Series([1.5, 2.0]), "long", "floats are never truncated"),
    (pd.Series([1.0, None]), "long", "integer column with missing values"),
    (pd.Series([1, None], dtype="Int64"), "long", "integer column with missing values"),
    (pd.Series([1, 2], dtype="int64"), "integer", "cannot safely convert int64 to integer"),
    (pd.Series([1.5], dtype="float64"), "float", "cannot safely convert float64 to float"),
    (pd.Series([2 ** 60], dtype="int64"), "double", "beyond +-2**53"),
    (pd.Series([1, 2]), "string", "cannot safely convert int64 to string"),
    (pd.Series(["a", 3], dtype=object), "string", "values of type int"),
    (pd.Series(["x"]), "double", "cannot safely convert"),
    (pd.Series([1]), "boolean", "cannot safely convert int64 to boolean"),
    (pd.Series(pd.to_datetime(["2020-01-01"]).tz_localize("UTC")), "datetime", "timezone-aware"),
    (pd.Series(["not a date"], dtype=object), "datetime", "not ISO-8601"),
    (pd.Series(["a", None], dtype=object), "string", "missing values in a required string column"),
]


@pytest.mark.parametrize("col, t, match", REFUSED, ids=[f"{c.dtype}->{t}" for c, t, _ in REFUSED])
def test_refused_conversions(col, t, match):
    with pytest.raises(SchemaEnforcementError, match=match.replace("+", r"\+").replace("*", r"\*")):
        enforce_schema(pd.DataFrame({"c": col}), one(t))


def test_every_problem_is_listed_at_once():
    schema = Schema([ColSpec("long", "a"), ColSpec("string", "b"), ColSpec("double", "c")])
    df = pd.DataFrame({"a": [1.5], "c": ["x"], "z": [1], "y": [2]})
    with pytest.raises(SchemaEnforcementError) as info:
        enforce_schema(df, schema)
    problems = info.value.problems
    text = " | ".join(problems)
    assert "missing inputs ['b']" in text
    assert "extra inputs ['z', 'y']" in text
    assert "column 'a'" in text and "column 'c'" in text
    assert len(problems) == 4
    assert info.value.http_status == 400 and info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_optional_columns_may_be_absent_or_null():
    schema = Schema([ColSpec("long", "a"), ColSpec("string", "b", required=False)])
    out = enforce_schema(pd.DataFrame({"a": [1]}), schema)
    assert list(out.columns) == ["a"]
    out = enforce_schema(pd.DataFrame({"a": [1], "b": [None]}), schema)
    assert out["b"].isna().all()


def test_extra_columns_can_be_dropped_like_mlflow():
    schema = Schema([ColSpec("long", "a")])
    out = enforce_schema(pd.DataFrame({"z": [0], "a": [1]}), schema, extra="drop")
    assert list(out.columns) == ["a"]


def test_columns_reordered_to_schema_order():
    schema = Schema([ColSpec("long", "a"), ColSpec("long", "b")])
    out = enforce_schema(pd.DataFrame({"b": [2], "a": [1]}), schema)
    assert list(out.columns) == ["a", "b"]


def test_conforming_frame_is_passed_through_untouched():
    schema = Schema([ColSpec("long", "a"), ColSpec("double", "b")])
    df = pd.DataFrame({"a": [1], "b": [2.0]})
    assert enforce_schema(df, schema) is df


def test_unnamed_schema_checks_count_only():
    schema = Schema([ColSpec("double"), ColSpec("double")])
    with pytest.raises(SchemaEnforcementError, match="2 unnamed columns, got 1"):
        enforce_schema(np.zeros((3, 1)), schema)
    assert enforce_schema(np.zeros((3, 2)), schema).shape == (3, 2)


def test_inputs_of_other_kinds_become_frames():
    schema = Schema([ColSpec("long", "a"), ColSpec("string", "b")])
    assert enforce_schema({"a": 1, "b": "x"}, schema).shape == (1, 2)
    assert enforce_schema([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], schema).shape == (2, 2)
    single = Schema([ColSpec("string", "text")])
    assert list(enforce_schema(["a", "b"], single)["text"]) == ["a", "b"]
    assert list(enforce_schema(pd.Series(["a"]), single).columns) == ["text"]


def test_complex_cells_are_checked():
    schema = Schema([ColSpec(Array(DataType.long), "xs"),
                     ColSpec(Object([Property("k", DataType.string)]), "o")])
    ok = pd.DataFrame({"xs": [[1, 2]], "o": [{"k": "v"}]})
    assert enforce_schema(ok, schema) is ok
    bad = pd.DataFrame({"xs": [[1, "x"]], "o": [{"k": "v", "extra": 1}]})
    with pytest.raises(SchemaEnforcementError) as info:
        enforce_schema(bad, schema)
    text = str(info.value)
    assert "xs" in text and "expected long" in text and "undeclared properties ['extra']" in text


def test_tensor_shape_and_dtype_rules():
    schema = Schema([TensorSpec("float64", (-1, 3))])
    out = enforce_schema(np.zeros((2, 3), dtype="float32"), schema)  # safe widening
    assert out.dtype == np.float64
    with pytest.raises(SchemaEnforcementError, match=r"shape \(2, 4\) does not match the expected \(-1, 3\)"):
        enforce_schema(np.zeros((2, 4)), schema)
    narrow = Schema([TensorSpec("float32", (-1, 3))])
    with pytest.raises(SchemaEnforcementError, match="float64 cannot be safely converted to float32"):
        enforce_schema(np.zeros((2, 3)), narrow)


def test_named_tensors_dict():
    schema = Schema([TensorSpec("float32", (-1, 2), "a"), TensorSpec("int64", (-1,), "b")])
    out = enforce_schema({"a": np.zeros((3, 2), dtype="float32"), "b": np.arange(3)}, schema)
    assert set(out) == {"a", "b"}
    with pytest.raises(SchemaEnforcementError) as info:
        enforce_schema({"a": np.zeros((3, 2), dtype="float32"), "c": np.arange(3)}, schema)
    assert "missing input tensors ['b']" in str(info.value) and "extra input tensors ['c']" in str(info.value)


def test_params_defaults_widening_and_errors():
    schema = ParamSchema([ParamSpec("t", "double", 0.5), ParamSpec("n", "long", 1),
                          ParamSpec("stop", "string", ["x"], (-1,))])
    assert enforce_params(None, schema) == {"t": 0.5, "n": 1, "stop": ["x"]}
    assert enforce_params({"t": 2}, schema)["t"] == 2.0
    with pytest.raises(SchemaEnforcementError) as info:
        enforce_params({"t": "hot", "n": 1.5, "stop": "x", "zzz": 1}, schema)
    text = str(info.value)
    for part in ("unknown params ['zzz']", "param 't'", "param 'n'", "param 'stop'"):
        assert part in text


def test_params_without_schema_are_refused():
    with pytest.raises(SchemaEnforcementError, match="declares no params"):
        enforce_params({"k": 1}, None)


# string columns already holding strings skip the per-column check; answers and errors are the full check's
STRING_FRAMES = {
    "str": lambda: pd.DataFrame({"t": pd.Series(["a", "b"], dtype="str")}),
    "str with NaN": lambda: pd.DataFrame({"t": pd.Series(["a", None], dtype="str")}),
    "string[python] with NA": lambda: pd.DataFrame({"t": pd.array(["a", None], dtype="string[python]")}),
    "string[python]": lambda: pd.DataFrame({"t": pd.array(["a", "b"], dtype="string[python]")}),
    "object of str": lambda: pd.DataFrame({"t": pd.Series(["a", "b"], dtype=object)}),
    "object with None": lambda: pd.DataFrame({"t": pd.Series(["a", None], dtype=object)}),
    "object with NaN": lambda: pd.DataFrame({"t": pd.Series(["a", np.nan], dtype=object)}),
    "object with int": lambda: pd.DataFrame({"t": pd.Series(["a", 3], dtype=object)}),
    "object with bytes": lambda: pd.DataFrame({"t": pd.Series(["a", b"x"], dtype=object)}),
    "int": lambda: pd.DataFrame({"t": [1, 2]}),
    "empty object": lambda: pd.DataFrame({"t": pd.Series([], dtype=object)}),
}


def _outcome(df, schema):
    try:
        out = enforce_schema(df, schema)
    except SchemaEnforcementError as exc:
        return "error", exc.problems
    return ("same" if out is df else "copy"), out.to_dict("list")


@pytest.mark.parametrize("required", [True, False])
@pytest.mark.parametrize("name", list(STRING_FRAMES))
def test_string_fast_path_answers_and_errors_equal_the_full_check(name, required, monkeypatch):
    import tureen.models.enforce as enforce

    def schema():
        return Schema([ColSpec("string", "t", required=required), ColSpec("double", "x")])

    def frame():
        df = STRING_FRAMES[name]()
        return df.assign(x=np.arange(len(df), dtype="float64"))

    fast = _outcome(frame(), schema())
    monkeypatch.setattr(enforce, "_already_conforms", lambda data, schema: False)
    full = _outcome(frame(), schema())
    assert repr(fast) == repr(full)  # repr: NaN == NaN


@pytest.mark.parametrize("name", ["str", "string[python]", "object of str", "empty object"])
def test_string_columns_of_strings_are_passed_through_without_the_column_check(name, monkeypatch):
    import tureen.models.enforce as enforce

    def refuse(*args, **kwargs):
        raise AssertionError("the per-column check ran")

    monkeypatch.setattr(enforce, "_convert_column", refuse)
    df = STRING_FRAMES[name]().assign(n=lambda d: np.arange(len(d), dtype="int64"))
    schema = Schema([ColSpec("string", "t"), ColSpec("long", "n")])
    assert enforce_schema(df, schema) is df
    assert enforce_schema(df, schema) is df  # also once the column names are remembered


def test_a_required_string_column_with_missing_values_is_still_refused():
    schema = Schema([ColSpec("string", "t")])
    for df in (STRING_FRAMES["str with NaN"](), STRING_FRAMES["object with None"]()):
        with pytest.raises(SchemaEnforcementError, match="missing values in a required string column"):
            enforce_schema(df, schema)
    with pytest.raises(SchemaEnforcementError, match="values of type int"):
        enforce_schema(STRING_FRAMES["object with int"](), schema)
