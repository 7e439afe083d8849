"""The Open Inference Protocol (V2): ``{"inputs": [{"name", "shape", "datatype", "data"}]}`` tensors <-> one
model's signature.
"""

from __future__ import annotations

import math
from typing import Any

from tureen.exceptions import BadRequestError
from tureen.serving.conversions import _as_array, Conv
from tureen.serving.responses import _json_default

__all__ = ["V2Codec", "v2_datatype", "V2_DATATYPES"]

V2_DATATYPES = {
    "BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
    "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64", "FP16": "float16",
    "FP32": "float32", "FP64": "float64", "BYTES": "object",
}


def v2_datatype(dtype: Any) -> str:
    """The V2 datatype name for a numpy dtype (strings and objects are ``BYTES``).

    Example:
        >>> import numpy as np
        >>> v2_datatype(np.dtype("float32"))
        'FP32'
    """
    import numpy as np

    dtype = np.dtype(dtype)
    for name, np_name in V2_DATATYPES.items():
        if np_name != "object" and dtype == np.dtype(np_name):
            return name
    return "BYTES"


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list) or not any(isinstance(x, list) for x in data):
        return data if isinstance(data, list) else [data]
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


class V2Codec:
    """Maps Open Inference Protocol tensors to and from one model's signature.

    Example:
        >>> codec = V2Codec(None)
        >>> codec.decode({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]})[0].shape
        (1, 2)
    """

    def __init__(self, input_schema: Any) -> None:
        self.schema = input_schema
        self._uniform = input_schema.uniform_numeric() if input_schema is not None else None

    def metadata_tensors(self, schema: Any, outputs: bool = False) -> list[dict[str, Any]]:
        """The ``inputs``/``outputs`` entries of ``GET /v2/models/{name}`` for a schema. An unnamed output is
        called what :meth:`encode` calls it (``predict``), so the names listed are the names answered."""
        if schema is None:
            return []
        from tureen.models.signature import DataType

        out = []
        specs = schema.inputs
        for i, spec in enumerate(specs):
            if spec.name is not None:
                name = spec.name
            elif outputs:
                name = "predict" if len(specs) == 1 else f"output-{i}"
            else:
                name = f"input-{i}"
            if schema.is_tensor_spec():
                out.append({"name": str(name), "datatype": v2_datatype(spec.dtype), "shape": list(spec.shape)})
            else:
                t = spec.type
                dt = v2_datatype(t.to_numpy()) if isinstance(t, DataType) and t not in (
                    DataType.string, DataType.binary, DataType.datetime) else "BYTES"
                out.append({"name": str(name), "datatype": dt, "shape": [-1]})
        return out

    def decode(self, doc: Any) -> tuple[Any, dict[str, Any] | None, list[str] | None, Any]:
        """An inference request -> (model input, params, requested output names, block): ``block`` is the 2-D
        array behind the model input when one tensor holds every column of a one-dtype column signature in
        that dtype (see :class:`ParsedRequest`), else None.

        Raises:
            BadRequestError: a malformed request (missing fields, unknown datatype, data/shape mismatch).
            SchemaEnforcementError: tensors that do not fit the signature.
        """
        import numpy as np

        if not isinstance(doc, dict):
            raise BadRequestError("An inference request is a JSON object with an 'inputs' list")
        inputs = doc.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise BadRequestError("An inference request needs a non-empty 'inputs' list")
        conv = Conv(may_have_bools=True)
        tensors: dict[str, Any] = {}
        order: list[str] = []
        for i, t in enumerate(inputs):
            if not isinstance(t, dict):
                raise BadRequestError(f"inputs[{i}] must be an object with name, shape, datatype and data")
            missing = [k for k in ("name", "shape", "datatype", "data") if k not in t]
            if missing:
                raise BadRequestError(f"inputs[{i}] is missing {missing}")
            name, shape, datatype, data = t["name"], t["shape"], t["datatype"], t["data"]
            if not isinstance(name, str):
                raise BadRequestError(f"inputs[{i}].name must be a string")
            if name in tensors:
                raise BadRequestError(f"input tensor {name!r} is given twice")
            if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                      for d in shape):
                raise BadRequestError(f"input {name!r}: shape must be a list of non-negative integers")
            if datatype not in V2_DATATYPES:
                raise BadRequestError(f"input {name!r}: unknown datatype {datatype!r}; one of "
                                      f"{sorted(V2_DATATYPES)}")
            flat = _flatten(data)
            size = math.prod(shape)
            if len(flat) != size:
                raise BadRequestError(f"input {name!r}: shape {shape} holds {size} values, got {len(flat)}")
            target = np.dtype(V2_DATATYPES[datatype])
            label = f"input {name!r}"
            if target.kind == "O":
                if any(not isinstance(v, str) for v in flat):
                    conv.fail(label, "BYTES data must be strings")
                    continue
                arr = np.asarray(flat, dtype=object).reshape(shape)
            else:
                raw = _as_array(flat)
                arr = conv.numeric(raw, target, label, flat) if raw is not None else None
                if arr is None:
                    continue
                arr = arr.reshape(shape)
            tensors[name] = arr
            order.append(name)
        conv.raise_if_any()
        params = doc.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise BadRequestError("'parameters' must be an object")
        params = {k: v for k, v in (params or {}).items() if k not in ("content_type", "headers")} or None
        outputs = doc.get("outputs")
        wanted = None
        if outputs is not None:
            if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                        for o in outputs):
                raise BadRequestError("'outputs' must be a list of objects with a 'name'")
            wanted = [o["name"] for o in outputs]
        data, block = self._to_model_input(tensors, order)
        return data, params, wanted, block

    def _to_model_input(self, tensors: dict[str, Any], order: list[str]) -> tuple[Any, Any]:
        """(model input, block): ``block`` is the one 2-D tensor holding every column when it is already in
        the dtype of a one-dtype column signature."""
        schema = self.schema
        if schema is None:
            return (tensors[order[0]] if len(order) == 1 else tensors), None
        if schema.is_tensor_spec():
            if len(schema.inputs) == 1:
                return (tensors[order[0]] if len(order) == 1 else tensors), None
            return tensors, None
        # column schema: one tensor per column, or one 2-D tensor holding every column in order
        import pandas as pd

        names = schema.input_names()
        if len(order) == 1 and tensors[order[0]].ndim == 2 and order[0] not in names:
            arr = tensors[order[0]]
            if arr.shape[1] == len(names):
                uniform = self._uniform
                block = arr if uniform is not None and arr.dtype == uniform[1] else None
                return pd.DataFrame(arr, columns=names, copy=False), block
        cols = {}
        for n in order:
            arr = tensors[n]
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            cols[n] = list(arr) if arr.ndim > 1 else arr
        try:
            return pd.DataFrame(cols), None
        except ValueError as exc:
            raise BadRequestError(f"The input tensors cannot form a table: {exc}") from None

    def encode(self, pred: Any, wanted: list[str] | None) -> list[dict[str, Any]]:
        """Model output -> V2 output tensors (one per DataFrame column or dict key)."""
        import numpy as np

        named: list[tuple[str, Any]]
        tname = type(pred).__name__
        if tname == "DataFrame":
            named = [(str(c), pred[c].to_numpy()) for c in pred.columns]
        elif tname == "Series":
            named = [(str(pred.name) if pred.name is not None else "predict", pred.to_numpy())]
        elif isinstance(pred, dict):
            named = [(str(k), np.asarray(v)) for k, v in pred.items()]
        else:
            named = [("predict", np.asarray(pred))]
        if wanted is not None:
            have = {n for n, _ in named}
            unknown = [w for w in wanted if w not in have]
            if unknown:
                raise BadRequestError(f"Unknown outputs {unknown}; the model gives {sorted(have)}")
            named = [(n, a) for n, a in named if n in wanted]
        out = []
        for name, arr in named:
            if arr.dtype.kind in "OUSM":
                data = _json_default(arr.ravel())
                datatype = "BYTES"
            else:
                data = arr.ravel().tolist()
                datatype = v2_datatype(arr.dtype)
            out.append({"name": name, "shape": list(arr.shape), "datatype": datatype, "data": data})
        return out
