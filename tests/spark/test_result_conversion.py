"""Converting a model's output to a Spark result type: the executor-side code, run without a session."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tureen.exceptions import InvalidParameterError, ModelPredictionError
from tureen.pyfunc.spark import _ResultType, _to_result


def scalar(t):
    return _ResultType("scalar", t, text=t)


def array(t):
    return _ResultType("array", t, text=f"array<{t}>")


STRUCT = _ResultType("struct", None, (("label", scalar("string")), ("score", scalar("double"))),
                     text="struct<label:string,score:double>")


def test_numbers_widen_and_whole_floats_become_integers():
    out = _to_result(np.array([1, 2, 3], dtype=np.int64), scalar("double"), 3)
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0, 3.0]
    out = _to_result(np.array([1.0, 2.0, np.nan]), scalar("integer"), 3)
    assert str(out.dtype) == "Int32" and out.isna().tolist() == [False, False, True]
    assert _to_result(pd.Series([True, False]), scalar("long"), 2).tolist() == [1, 0]
    assert _to_result(np.array([1, 2.5]), scalar("string"), 2).tolist() == ["1.0", "2.5"]
    assert _to_result(np.array([[7], [8]]), scalar("long"), 2).tolist() == [7, 8]


@pytest.mark.parametrize("output, t, words", [
    (np.array([0.5, 1.0]), "long", ["float64", "long", "fractional values", "result_type='double'"]),
    (np.array([2 ** 40]), "integer", ["int64", "integer", "do not fit a 32-bit integer", "result_type='long'"]),
    (np.array(["cat", "dog"], dtype=object), "double", ["str values like 'cat'", "double", "result_type='string'"]),
    (np.array([0, 1]), "boolean", ["int64", "boolean", "numbers are not read as booleans"]),
    (np.array([b"x"], dtype=object), "string", ["bytes values", "string", "result_type='binary'"]),
])
def test_outputs_a_type_cannot_hold_name_both(output, t, words):
    with pytest.raises(InvalidParameterError) as info:
        _to_result(output, scalar(t), len(output))
    for w in words:
        assert w in info.value.message, info.value.message


def test_several_values_per_row_need_an_array_or_struct_type():
    with pytest.raises(InvalidParameterError, match="2 columns \\['a', 'b'\\].*struct<a:double,b:string>"):
        _to_result(pd.DataFrame({"a": [1.0], "b": ["x"]}), scalar("double"), 1)
    with pytest.raises(InvalidParameterError, match="3 values per row.*array<double>"):
        _to_result(np.zeros((2, 3)), scalar("double"), 2)
    with pytest.raises(InvalidParameterError, match="one value per row, and an array type needs a list"):
        _to_result(np.zeros(2), array("double"), 2)


def test_arrays_from_matrices_frames_and_ragged_lists():
    out = _to_result(np.array([[1, 2], [3, 4]]), array("double"), 2)
    assert [list(v) for v in out] == [[1.0, 2.0], [3.0, 4.0]]
    out = _to_result(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), array("long"), 2)
    assert [list(v) for v in out] == [[1, 3], [2, 4]]
    out = _to_result([[1.0], [2.0, 3.0], None], array("double"), 3)
    assert list(out[0]) == [1.0] and list(out[1]) == [2.0, 3.0] and out[2] is None
    with pytest.raises(InvalidParameterError, match="array<long>.*fractional"):
        _to_result(np.array([[1.5, 2.0]]), array("long"), 1)


def test_structs_by_column_name_or_position():
    frame = pd.DataFrame({"score": [0.25, 0.75], "label": ["low", "high"], "extra": [1, 2]})
    out = _to_result(frame, STRUCT, 2)
    assert list(out.columns) == ["label", "score"] and out["label"].tolist() == ["low", "high"]
    out = _to_result({"label": ["a"], "score": [1]}, STRUCT, 1)
    assert out["score"].tolist() == [1.0]
    out = _to_result(np.array([["x", 1.0]], dtype=object), STRUCT, 1)
    assert out.iloc[0].tolist() == ["x", 1.0]
    with pytest.raises(InvalidParameterError, match="needs fields \\['score'\\]"):
        _to_result(pd.DataFrame({"label": ["a"]}), STRUCT, 1)
    with pytest.raises(InvalidParameterError, match="column 'score'.*str values"):
        _to_result(pd.DataFrame({"label": ["a"], "score": ["high"]}), STRUCT, 1)


def test_wrong_number_of_predictions():
    with pytest.raises(ModelPredictionError, match="returned 2 predictions for 3 input rows"):
        _to_result(np.zeros(2), scalar("double"), 3)
    with pytest.raises(ModelPredictionError, match="returned None"):
        _to_result(None, scalar("double"), 3)


def test_timestamps_and_dates():
    stamps = pd.Series(pd.to_datetime(["2024-01-02 03:04:05", "2024-06-30 23:00:00"]))
    assert _to_result(stamps, scalar("timestamp"), 2).tolist() == stamps.tolist()
    assert [str(d) for d in _to_result(stamps, scalar("date"), 2)] == ["2024-01-02", "2024-06-30"]
    with pytest.raises(InvalidParameterError, match="not dates or timestamps"):
        _to_result(np.array([1.0, 2.0]), scalar("timestamp"), 2)
