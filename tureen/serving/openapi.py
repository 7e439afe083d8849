"""An OpenAPI 3.1 document for one served model, generated from its signature and input example.

The request schemas are exact for the model: ``dataframe_split`` rows are tuples of the declared column
types in order, ``dataframe_records`` objects require the required columns, tensors are nested arrays of
the declared rank. The model's serving input example becomes the request example.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document", "column_json_schema", "request_json_schema"]

_ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"},
                   "stack_trace": {"type": "string"}},
}


def column_json_schema(t: Any, *, nullable: bool = False) -> dict[str, Any]:
    """The JSON Schema of one value of a signature type (DataType, Array, Object, Map, AnyType).

    Example:
        >>> from tureen.models.signature import DataType
        >>> column_json_schema(DataType.long)["type"]
        'integer'
    """
    from tureen.models.signature import AnyType, Array, DataType, Map, Object

    if isinstance(t, DataType):
        out: dict[str, Any] = {
            DataType.boolean: {"type": "boolean"},
            DataType.integer: {"type": "integer", "minimum": -(2 ** 31), "maximum": 2 ** 31 - 1},
            DataType.long: {"type": "integer", "minimum": -(2 ** 63), "maximum": 2 ** 63 - 1},
            DataType.float: {"type": "number", "minimum": -3.4e38, "maximum": 3.4e38},
            DataType.double: {"type": "number"},
            DataType.string: {"type": "string"},
            DataType.binary: {"type": "string", "contentEncoding": "base64"},
            DataType.datetime: {"type": "string", "format": "date-time"},
        }[t]
        out = dict(out)
    elif isinstance(t, Array):
        out = {"type": "array", "items": column_json_schema(t.dtype)}
    elif isinstance(t, Object):
        out = {"type": "object",
               "properties": {p.name: column_json_schema(p.dtype, nullable=not p.required) for p in t.properties},
               "required": [p.name for p in t.properties if p.required], "additionalProperties": False}
    elif isinstance(t, Map):
        out = {"type": "object", "additionalProperties": column_json_schema(t.value_type)}
    elif isinstance(t, AnyType):
        return {}
    else:
        out = {}
    if nullable and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _tensor_json_schema(spec: Any) -> dict[str, Any]:
    kind = spec.dtype.kind
    if kind == "b":
        leaf: dict[str, Any] = {"type": "boolean"}
    elif kind in "iu":
        import numpy as np

        info = np.iinfo(spec.dtype)
        leaf = {"type": "integer", "minimum": int(info.min), "maximum": int(info.max)}
    elif kind == "f":
        leaf = {"type": "number"}
    else:
        leaf = {"type": "string"}
    schema = leaf
    for dim in reversed(spec.shape):
        schema = {"type": "array", "items": schema}
        if dim != -1:
            schema["minItems"] = dim
            schema["maxItems"] = dim
    return schema


def request_json_schema(input_schema: Any, params_schema: Any = None) -> dict[str, Any]:
    """The JSON Schema of a valid ``/invocations`` JSON body for this model (a ``oneOf`` of the forms).

    Example:
        >>> from tureen.models.signature import ColSpec, Schema
        >>> sorted(request_json_schema(Schema([ColSpec("double", "x")]))["oneOf"][0]["properties"])
        ['dataframe_split', 'params']
    """
    params = _params_json_schema(params_schema)
    forms: list[dict[str, Any]] = []

    def form(key: str, value: dict[str, Any]) -> None:
        props = {key: value}
        if params is not None:
            props["params"] = params
        else:
            props["params"] = {"type": "object", "maxProperties": 0}
        forms.append({"type": "object", "required": [key], "properties": props, "additionalProperties": False})

    if input_schema is None:
        any_table = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
        form("dataframe_split", {"type": "object", "required": ["data"], "properties": {"data": any_table}})
        form("inputs", any_table)
        return {"oneOf": forms}
    if input_schema.is_tensor_spec():
        specs = input_schema.inputs
        if len(specs) == 1:
            form("inputs", _tensor_json_schema(specs[0]))
            form("instances", _tensor_json_schema(specs[0]))
        else:
            tensors = {s.name: _tensor_json_schema(s) for s in specs}
            form("inputs", {"type": "object", "properties": tensors, "required": list(tensors),
                            "additionalProperties": False})
        return {"oneOf": forms}
    specs = input_schema.inputs
    cells = [column_json_schema(s.type, nullable=not s.required) for s in specs]
    if input_schema.has_input_names():
        names = [s.name for s in specs]
        required = [s.name for s in specs if s.required]
        all_required = len(required) == len(names)
        split: dict[str, Any] = {
            "type": "object", "required": ["columns", "data"], "additionalProperties": False,
            "properties": {
                "columns": {"const": names} if all_required else {"type": "array", "items": {"enum": names}},
                "data": {"type": "array", "minItems": 1,
                         "items": {"type": "array", "prefixItems": cells, "items": False, "minItems": len(cells)}},
            },
        }
        if not all_required:  # the column list may leave optional columns out: describe rows loosely
            split["properties"]["data"] = {"type": "array", "items": {"type": "array"}}
        form("dataframe_split", split)
        record = {"type": "object", "properties": dict(zip(names, cells)), "required": required,
                  "additionalProperties": False}
        form("dataframe_records", {"type": "array", "items": record, "minItems": 1})
        form("inputs", {"type": "object", "properties": {n: {"type": "array", "items": c, "minItems": 1}
                                                         for n, c in zip(names, cells)},
                        "required": required, "additionalProperties": False})
    else:
        form("dataframe_split", {"type": "object", "required": ["data"], "additionalProperties": False,
                                 "properties": {"data": {"type": "array", "items": {
                                     "type": "array", "prefixItems": cells, "items": False,
                                     "minItems": len(cells)}}}})
        if len(cells) == 1:
            form("inputs", {"type": "array", "items": cells[0]})
    return {"oneOf": forms}


def _params_json_schema(params_schema: Any) -> dict[str, Any] | None:
    if params_schema is None:
        return None
    props = {}
    for p in params_schema.params:
        value = column_json_schema(p.dtype)
        if p.shape is not None:
            value = {"type": "array", "items": value}
        props[p.name] = value
    return {"type": "object", "properties": props, "additionalProperties": False}


def openapi_document(meta: Any, *, title: str, version: str, example: Any = None,
                     model_name: str = "model") -> dict[str, Any]:
    """The OpenAPI 3.1 document served at ``/openapi.json``.

    Args:
        meta: the model's :class:`~tureen.models.Model` (MLmodel).
        title: the document title (the model's name).
        version: the model's version (or tureen's).
        example: the model's serving input example (a JSON body), if it has one.
        model_name: the name used in Open Inference Protocol paths.

    Example:
        >>> from tureen.models.mlmodel import Model
        >>> openapi_document(Model(), title="m", version="1")["openapi"]
        '3.1.0'
    """
    sig = meta.signature
    input_schema = sig.inputs if sig is not None else None
    params_schema = sig.params if sig is not None else None
    body = request_json_schema(input_schema, params_schema)
    json_content: dict[str, Any] = {"schema": body}
    if example is not None:
        json_content["example"] = example
    errors = {str(code): {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
              for code, text in ((400, "The request does not fit the model (every bad field is listed)"),
                                 (413, "The body is larger than the server's limit"),
                                 (415, "Unsupported Content-Type or charset"),
                                 (500, "The model failed"),
                                 (503, "The model is not loaded yet"),
                                 (504, "The prediction took longer than the timeout"))}
    plain_ok = {"200": {"description": "OK"}}
    v2_path = f"/v2/models/{model_name}"
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Model served by tureen: MLflow's scoring protocol and the Open Inference Protocol."},
        "paths": {
            "/invocations": {"post": {
                "summary": "Score data with the model (MLflow scoring protocol)",
                "requestBody": {"required": True, "content": {
                    "application/json": json_content,
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
                }},
                "responses": {"200": {"description": "Predictions", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["predictions"],
                               "properties": {"predictions": {}}}}}}, **errors},
            }},
            "/ping": {"get": {"summary": "Liveness", "responses": plain_ok}},
            "/health": {"get": {"summary": "Liveness (alias of /ping)", "responses": plain_ok}},
            "/ready": {"get": {"summary": "Readiness: 200 once the model is loaded, 503 before",
                               "responses": {"200": {"description": "Ready"}, "503": {"description": "Loading"}}}},
            "/version": {"get": {"summary": "tureen's version", "responses": plain_ok}},
            "/metadata": {"get": {"summary": "Flavors, signature, input example and version of the model",
                                  "responses": plain_ok}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": plain_ok}},
            "/v2/health/live": {"get": {"summary": "Open Inference Protocol liveness", "responses": plain_ok}},
            "/v2/health/ready": {"get": {"summary": "Open Inference Protocol readiness", "responses": plain_ok}},
            v2_path: {"get": {"summary": "Open Inference Protocol model metadata", "responses": plain_ok}},
            f"{v2_path}/ready": {"get": {"summary": "Open Inference Protocol model readiness",
                                         "responses": plain_ok}},
            f"{v2_path}/infer": {"post": {
                "summary": "Open Inference Protocol inference",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/InferenceRequest"}}}},
                "responses": {"200": {"description": "Output tensors"}, **errors},
            }},
        },
        "components": {"schemas": {
            "Error": _ERROR,
            "InferenceRequest": {
                "type": "object", "required": ["inputs"],
                "properties": {
                    "id": {"type": "string"},
                    "parameters": {"type": "object"},
                    "inputs": {"type": "array", "items": {
                        "type": "object", "required": ["name", "shape", "datatype", "data"],
                        "properties": {"name": {"type": "string"},
                                       "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                                       "datatype": {"enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64",
                                                             "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
                                                             "FP64", "BYTES"]},
                                       "data": {"type": "array"}}}},
                    "outputs": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                           "properties": {"name": {"type": "string"}}}},
                },
            },
        }},
    }
