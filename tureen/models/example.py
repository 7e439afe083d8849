"""Input examples: ``input_example.json`` and ``serving_input_example.json``, as MLflow 3.x writes them."""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from tureen.exceptions import InvalidParameterError, ModelFormatError

__all__ = ["save_example", "load_example", "split_example", "to_json_value", "dumps"]

INPUT_EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


def to_json_value(value: Any) -> Any:
    """JSON-ready copy of numpy/pandas values (NaN -> null, bytes -> base64, datetimes -> ISO)."""
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json_value(value.tolist())
    if isinstance(value, np.generic):
        return to_json_value(value.item())
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None if math.isnan(value) else value
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if type(value).__name__ in ("Timestamp",):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    raise InvalidParameterError(f"Input example value of type {type(value).__name__} cannot be saved as JSON")


def dumps(value: Any, **kw: Any) -> str:
    return json.dumps(to_json_value(value), **kw)


def split_example(example: Any) -> tuple[Any, dict[str, Any] | None]:
    """An example may be ``(data, params)``; return both parts."""
    if isinstance(example, tuple) and len(example) == 2 and isinstance(example[1], dict):
        return example[0], example[1]
    return example, None


def _is_df(x: Any) -> bool:
    return type(x).__name__ == "DataFrame" and type(x).__module__.startswith("pandas")


def _encode(data: Any) -> tuple[dict[str, Any], Any, Any]:
    """(info, input_example.json value, serving payload value)"""
    import pandas as pd

    if isinstance(data, pd.Series):
        data = data.to_frame()
    if _is_df(data):
        named = not isinstance(data.columns, pd.RangeIndex)
        rows = [to_json_value(list(r)) for r in data.itertuples(index=False, name=None)]
        if named:
            body = {"columns": [str(c) if not isinstance(c, (int, np.integer)) else int(c) for c in data.columns],
                    "data": rows}
            return {"type": "dataframe", "pandas_orient": "split"}, body, {"dataframe_split": body}
        return {"type": "dataframe", "pandas_orient": "values"}, {"data": rows}, {"dataframe_split": {"data": rows}}
    if isinstance(data, np.ndarray):
        v = to_json_value(data)
        return {"type": "ndarray"}, v, {"inputs": v}
    if type(data).__module__.startswith("scipy.sparse"):
        kind = "sparse_matrix_csc" if data.format == "csc" else "sparse_matrix_csr"
        body = {"data": to_json_value(data.data), "indices": to_json_value(data.indices),
                "indptr": to_json_value(data.indptr), "shape": list(data.shape)}
        return {"type": kind}, body, {"inputs": to_json_value(data.toarray())}
    if isinstance(data, dict):
        arrays = [isinstance(v, np.ndarray) for v in data.values()]
        if any(arrays) and not all(arrays):
            raise InvalidParameterError("An input example dict must hold only numpy arrays or none at all")
        v = to_json_value(data)
        if all(arrays) and arrays:
            return {"type": "ndarray"}, v, {"inputs": v}
        return {"type": "json_object"}, v, {"inputs": v}
    if isinstance(data, (list, tuple)):
        if any(isinstance(x, np.ndarray) for x in data):
            raise InvalidParameterError("An input example list cannot contain numpy arrays")
        v = to_json_value(list(data))
        return {"type": "json_object"}, v, {"inputs": v}
    v = to_json_value(data)
    return {"type": "json_object"}, v, {"inputs": v}


def save_example(path: str | Path, example: Any) -> dict[str, Any]:
    """Write the example files into the model directory ``path``; return ``saved_input_example_info``."""
    data, params = split_example(example)
    info, value, serving = _encode(data)
    if params is not None:
        value = {"inputs": value, "params": to_json_value(params)}
        serving = {**serving, "params": to_json_value(params)}
        info["params"] = "true"
    info["artifact_path"] = INPUT_EXAMPLE_FILE
    info["serving_input_path"] = SERVING_EXAMPLE_FILE
    p = Path(path)
    (p / INPUT_EXAMPLE_FILE).write_text(json.dumps(value), encoding="utf-8")
    (p / SERVING_EXAMPLE_FILE).write_text(json.dumps(serving, indent=2), encoding="utf-8")
    return info


def load_example(path: str | Path, info: dict[str, Any] | None, schema: Any = None) -> Any:
    """Read the input example back in the form it was given (DataFrame, ndarray, JSON value)."""
    if not info:
        return None
    from tureen.models._paths import confined_path

    file = confined_path(path, info.get("artifact_path", INPUT_EXAMPLE_FILE), "input example", must_exist=False)
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFormatError(f"The model's input example {file.name} is missing") from None
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"The model's input example {file.name} is corrupt: {exc}") from exc
    params = None
    if info.get("params") == "true" and isinstance(value, dict) and "inputs" in value:
        value, params = value["inputs"], value.get("params")
    kind = info.get("type")
    if kind == "dataframe":
        import pandas as pd

        df = pd.DataFrame(value.get("data", []), columns=value.get("columns"))
        if schema is not None and not schema.is_tensor_spec():
            from tureen.models.signature import DataType

            for spec in schema.inputs:
                if spec.name in df.columns and isinstance(spec.type, DataType):
                    try:
                        df[spec.name] = df[spec.name].astype(spec.type.to_pandas())
                    except (ValueError, TypeError):
                        pass
        data: Any = df
    elif kind == "ndarray":
        if isinstance(value, dict):
            data = {k: np.asarray(v) for k, v in value.items()}
        else:
            data = np.asarray(value)
        if schema is not None and schema.is_tensor_spec():
            specs = {s.name: s.dtype for s in schema.inputs}
            if isinstance(data, dict):
                data = {k: v.astype(specs.get(k, v.dtype)) for k, v in data.items()}
            else:
                data = data.astype(schema.inputs[0].dtype)
    elif kind in ("sparse_matrix_csr", "sparse_matrix_csc"):
        import scipy.sparse as sp

        ctor = sp.csr_matrix if kind.endswith("csr") else sp.csc_matrix
        data = ctor((value["data"], value["indices"], value["indptr"]), shape=value["shape"])
    else:
        data = value
    return (data, params) if params is not None else data
