"""Model output -> JSON answers: MLflow's shapes (``{"predictions": ...}``), numpy and pandas values included.

Example:
    >>> encode_json({"a": [1, 2]})
    b'{"a":[1,2]}'
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
from typing import Any

__all__ = ["encode_json", "encode_predictions"]


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.ndarray):
        if o.dtype.kind == "M":
            return np.datetime_as_string(o).tolist()
        if o.dtype.kind in "OS":
            return [_json_default(x) if not isinstance(x, (str, int, float, bool, type(None))) else x
                    for x in o.tolist()]
        return o.tolist()
    if isinstance(o, np.datetime64):
        return str(np.datetime_as_string(o))
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, (bytes, bytearray)):
        return base64.encodebytes(bytes(o)).decode("ascii")
    if isinstance(o, (_dt.datetime, _dt.date, _dt.time)):
        return o.isoformat()
    name = type(o).__name__
    if name in ("Timestamp", "Timedelta"):
        return o.isoformat()
    if name in ("NAType", "NaTType"):
        return None
    if name in ("DataFrame", "Series"):
        return _jsonable(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    dump = getattr(o, "model_dump", None)  # pydantic models
    if callable(dump):
        return dump()
    raise TypeError(f"the model returned a value of type {type(o).__module__}.{type(o).__qualname__}, "
                    "which cannot be encoded as JSON")


def _jsonable(pred: Any) -> Any:
    """MLflow's shapes: ndarray -> nested list, DataFrame -> records, Series -> records keyed by name."""
    import sys

    np = sys.modules.get("numpy")
    if np is not None and isinstance(pred, np.ndarray):
        if pred.dtype.kind in "biuf":
            return pred.tolist()
        return _json_default(pred)
    name = type(pred).__name__
    if name == "DataFrame" and type(pred).__module__.startswith("pandas"):
        return pred.to_dict(orient="records")
    if name == "Series" and type(pred).__module__.startswith("pandas"):
        return pred.to_frame().to_dict(orient="records")
    return pred


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict(v) for v in value]
    return value


def encode_json(value: Any, *, strict: bool = False) -> bytes:
    """Encode a JSON-able value (numpy and pandas values included) compactly.

    Example:
        >>> encode_json({"a": [1, 2]})
        b'{"a":[1,2]}'
    """
    if strict:
        value = _strict(json.loads(json.dumps(value, default=_json_default)))
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    return json.dumps(value, default=_json_default, separators=(",", ":")).encode()


def encode_predictions(pred: Any, *, unwrap: bool = False, strict: bool = False) -> bytes:
    """Encode model output as MLflow does: ``{"predictions": ...}`` (or bare, for the unified LLM form).

    Raises:
        TypeError: the output holds a value that has no JSON form.

    Example:
        >>> import numpy as np
        >>> encode_predictions(np.array([0, 1]))
        b'{"predictions":[0,1]}'
    """
    body = _jsonable(pred)
    return encode_json(body if unwrap else {"predictions": body}, strict=strict)
