"""Model signatures: what a model takes (``inputs``), returns (``outputs``) and accepts as ``params``.

The JSON form matches MLflow 3.x exactly (key order, type names), so signatures written by either tool read
back in the other. :func:`infer_signature` derives a signature from example data the way MLflow does.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Sequence, Union

import numpy as np

from tureen.exceptions import InvalidParameterError

__all__ = [
    "DataType", "Array", "Object", "Property", "Map", "AnyType", "ColSpec", "TensorSpec", "Schema",
    "ParamSpec", "ParamSchema", "ModelSignature", "infer_signature", "infer_schema",
]


class DataType(Enum):
    """Scalar column types, with the numpy and pandas types values are cast to."""

    boolean = "boolean"
    integer = "integer"
    long = "long"
    float = "float"
    double = "double"
    string = "string"
    binary = "binary"
    datetime = "datetime"

    def to_numpy(self) -> np.dtype:
        return np.dtype(_NUMPY[self])

    def to_pandas(self) -> Any:
        return _PANDAS[self]

    def to_python(self) -> type:
        return _PYTHON[self]

    def __repr__(self) -> str:
        return self.value


_NUMPY = {DataType.boolean: "bool", DataType.integer: "int32", DataType.long: "int64",
          DataType.float: "float32", DataType.double: "float64", DataType.string: "object",
          DataType.binary: "object", DataType.datetime: "datetime64[ns]"}
_PANDAS = {DataType.boolean: "bool", DataType.integer: "int32", DataType.long: "int64",
           DataType.float: "float32", DataType.double: "float64", DataType.string: "object",
           DataType.binary: "object", DataType.datetime: "datetime64[ns]"}
_PYTHON = {DataType.boolean: bool, DataType.integer: int, DataType.long: int, DataType.float: float,
           DataType.double: float, DataType.string: str, DataType.binary: bytes,
           DataType.datetime: _dt.datetime}


def _type_to_json(t: "ColType") -> dict[str, Any]:
    if isinstance(t, DataType):
        return {"type": t.value}
    return t.to_dict()


def _type_from_json(d: Any) -> "ColType":
    if isinstance(d, str):
        d = {"type": d}
    if not isinstance(d, dict) or "type" not in d:
        raise InvalidParameterError(f"Invalid type specification in signature: {d!r}")
    kind = d["type"]
    if kind == "array":
        return Array(_type_from_json(d.get("items")))
    if kind == "object":
        props = d.get("properties") or {}
        return Object([Property(n, _type_from_json(p), bool(p.get("required", True))) for n, p in props.items()])
    if kind == "map":
        return Map(_type_from_json(d.get("values")))
    if kind == "any":
        return AnyType()
    if kind == "sparkml_vector":
        return SparkMLVector()
    try:
        return DataType(kind)
    except ValueError:
        raise InvalidParameterError(f"Unknown data type {kind!r} in signature; known: "
                                    f"{', '.join(t.value for t in DataType)}, array, object, map, any") from None


@dataclass(frozen=True)
class Array:
    """A list whose elements all have type ``dtype``."""

    dtype: "ColType"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "array", "items": _type_to_json(self.dtype)}

    def __repr__(self) -> str:
        return f"Array({self.dtype!r})"


@dataclass(frozen=True)
class Property:
    name: str
    dtype: "ColType"
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {self.name: {**_type_to_json(self.dtype), "required": self.required}}


@dataclass(frozen=True)
class Object:
    """A dict with named, typed properties (undeclared properties are refused)."""

    properties: tuple[Property, ...]

    def __init__(self, properties: Iterable[Property]) -> None:
        object.__setattr__(self, "properties", tuple(sorted(properties, key=lambda p: p.name)))

    def to_dict(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for p in self.properties:
            props.update(p.to_dict())
        return {"type": "object", "properties": props}

    def __repr__(self) -> str:
        return "Object(" + ", ".join(f"{p.name}: {p.dtype!r}" for p in self.properties) + ")"


@dataclass(frozen=True)
class Map:
    """A dict with string keys whose values all have type ``value_type``."""

    value_type: "ColType"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "map", "values": _type_to_json(self.value_type)}


@dataclass(frozen=True)
class AnyType:
    def to_dict(self) -> dict[str, Any]:
        return {"type": "any"}


@dataclass(frozen=True)
class SparkMLVector:
    def to_dict(self) -> dict[str, Any]:
        return {"type": "sparkml_vector"}


ColType = Union[DataType, Array, Object, Map, AnyType, SparkMLVector]


@dataclass(frozen=True)
class ColSpec:
    """One column of a column-based schema.

    Example:
        >>> ColSpec("double", "tenure").to_dict()
        {'type': 'double', 'name': 'tenure', 'required': True}
    """

    type: ColType
    name: Any = None
    required: bool = True

    def __init__(self, type: ColType | str, name: Any = None, required: bool = True) -> None:  # noqa: A002
        object.__setattr__(self, "type", _type_from_json(type) if isinstance(type, str) else type)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "required", bool(required))

    def to_dict(self) -> dict[str, Any]:
        out = _type_to_json(self.type)
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ColSpec":
        return cls(_type_from_json(d), d.get("name"), d.get("required", True))


@dataclass(frozen=True)
class TensorSpec:
    """A tensor input or output: numpy dtype and shape (``-1`` = any size).

    Example:
        >>> TensorSpec(np.dtype("float32"), (-1, 4)).to_dict()
        {'type': 'tensor', 'tensor-spec': {'dtype': 'float32', 'shape': [-1, 4]}}
    """

    dtype: np.dtype
    shape: tuple[int, ...]
    name: str | None = None

    def __init__(self, type: Any, shape: Sequence[int], name: str | None = None) -> None:  # noqa: A002
        dtype = np.dtype(type)
        if dtype.char in ("U", "S") and dtype.itemsize != 0:
            raise InvalidParameterError(f"Sized string dtype {dtype} is not allowed in a TensorSpec; "
                                        "use 'str' or 'bytes'")
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "shape", tuple(int(s) for s in shape))
        object.__setattr__(self, "name", name)

    @property
    def type(self) -> np.dtype:
        return self.dtype

    @property
    def required(self) -> bool:
        return True

    def to_dict(self) -> dict[str, Any]:
        body = {"type": "tensor", "tensor-spec": {"dtype": _dtype_name(self.dtype), "shape": list(self.shape)}}
        return {"name": self.name, **body} if self.name is not None else body

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TensorSpec":
        spec = d.get("tensor-spec") or {}
        if "dtype" not in spec or "shape" not in spec:
            raise InvalidParameterError(f"Tensor spec needs 'dtype' and 'shape': {d!r}")
        return cls(spec["dtype"], spec["shape"], d.get("name"))


def _dtype_name(dtype: np.dtype) -> str:
    if dtype.char == "U":
        return "str"
    if dtype.char == "S":
        return "bytes"
    return dtype.name


Spec = Union[ColSpec, TensorSpec]


class Schema:
    """An ordered list of column specs or tensor specs (never a mix).

    Example:
        >>> Schema([ColSpec("long", "a")]).input_names()
        ['a']
    """

    def __init__(self, inputs: Iterable[Spec]) -> None:
        self.inputs: list[Spec] = list(inputs)
        if not self.inputs:
            raise InvalidParameterError("A schema needs at least one column or tensor")
        kinds = {type(s) for s in self.inputs}
        if len(kinds) > 1:
            raise InvalidParameterError("A schema cannot mix column specs and tensor specs")
        named = [s.name is not None for s in self.inputs]
        if any(named) and not all(named):
            raise InvalidParameterError("In a schema either every input is named or none is")
        if self.is_tensor_spec() and len(self.inputs) > 1 and not all(named):
            raise InvalidParameterError("A schema with several tensors must name each of them")
        if not all(named) and any(not s.required for s in self.inputs):
            raise InvalidParameterError("Unnamed inputs cannot be optional")

    def is_tensor_spec(self) -> bool:
        return isinstance(self.inputs[0], TensorSpec)

    def has_input_names(self) -> bool:
        return self.inputs[0].name is not None

    def input_names(self) -> list[Any]:
        return [s.name if s.name is not None else i for i, s in enumerate(self.inputs)]

    def required_input_names(self) -> list[Any]:
        return [n for n, s in zip(self.input_names(), self.inputs) if s.required]

    def optional_input_names(self) -> list[Any]:
        return [n for n, s in zip(self.input_names(), self.inputs) if not s.required]

    def input_types(self) -> list[Any]:
        return [s.type for s in self.inputs]

    def numpy_types(self) -> list[np.dtype]:
        if self.is_tensor_spec():
            return [s.dtype for s in self.inputs]  # type: ignore[union-attr]
        return [s.type.to_numpy() if isinstance(s.type, DataType) else np.dtype(object) for s in self.inputs]

    def uniform_numeric(self) -> tuple[list[Any], np.dtype] | None:
        """(column names, numpy dtype) when this is a named column schema whose every column is a required
        ``double``, ``float``, ``long`` or ``integer`` of one type (a table that fits in one 2-D array), else None.

        Example:
            >>> Schema([ColSpec("double", "a"), ColSpec("double", "b")]).uniform_numeric()
            (['a', 'b'], dtype('float64'))
        """
        if self.is_tensor_spec() or not self.has_input_names():
            return None
        types = {s.type for s in self.inputs}
        kind = next(iter(types))
        if len(types) != 1 or not all(s.required for s in self.inputs) or kind not in (
                DataType.double, DataType.float, DataType.long, DataType.integer):
            return None
        return [s.name for s in self.inputs], kind.to_numpy()

    def to_dict(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.inputs]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str | list[Any]) -> "Schema":
        data = json.loads(text) if isinstance(text, str) else text
        if not isinstance(data, list):
            raise InvalidParameterError(f"A schema is a JSON list, got {type(data).__name__}")
        specs: list[Spec] = []
        for d in data:
            if not isinstance(d, dict):
                raise InvalidParameterError(f"Invalid schema entry {d!r}")
            specs.append(TensorSpec.from_dict(d) if d.get("type") == "tensor" else ColSpec.from_dict(d))
        return cls(specs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return "Schema(" + ", ".join(json.dumps(s.to_dict(), default=str) for s in self.inputs) + ")"


@dataclass(frozen=True)
class ParamSpec:
    """An inference parameter with a type, a default and an optional shape (``None`` or ``(-1,)``).

    Example:
        >>> ParamSpec("temperature", "double", 0.7).to_dict()
        {'name': 'temperature', 'default': 0.7, 'shape': None, 'type': 'double'}
    """

    name: str
    dtype: DataType
    default: Any
    shape: tuple[int, ...] | None = None

    def __init__(self, name: str, dtype: DataType | str, default: Any, shape: Sequence[int] | None = None) -> None:
        dt = dtype if isinstance(dtype, DataType) else _type_from_json(dtype)
        if not isinstance(dt, DataType) or dt is DataType.binary:
            raise InvalidParameterError(f"Param {name!r}: type must be a scalar type other than binary, got {dtype!r}")
        shp = tuple(shape) if shape is not None else None
        if shp not in (None, (-1,)):
            raise InvalidParameterError(f"Param {name!r}: shape must be None or (-1,), got {shape!r}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "dtype", dt)
        object.__setattr__(self, "shape", shp)
        object.__setattr__(self, "default", None)
        if default is not None:
            from tureen.models.enforce import convert_param_value

            default = convert_param_value(name, default, dt, shp)
        object.__setattr__(self, "default", default)

    @property
    def type(self) -> DataType:
        return self.dtype

    def to_dict(self) -> dict[str, Any]:
        default = self.default
        if isinstance(default, (_dt.datetime, _dt.date)):
            default = default.isoformat()
        elif isinstance(default, list):
            default = [v.isoformat() if isinstance(v, (_dt.datetime, _dt.date)) else v for v in default]
        return {"name": self.name, "default": default, "shape": list(self.shape) if self.shape else None,
                "type": self.dtype.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ParamSpec":
        return cls(d["name"], d.get("type", d.get("dtype")), d.get("default"), d.get("shape"))


class ParamSchema:
    def __init__(self, params: Iterable[ParamSpec]) -> None:
        self.params: list[ParamSpec] = list(params)
        names = [p.name for p in self.params]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidParameterError(f"Duplicate param names in schema: {dupes}")

    def to_dict(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.params]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str | list[Any]) -> "ParamSchema":
        data = json.loads(text) if isinstance(text, str) else text
        return cls(ParamSpec.from_dict(d) for d in data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamSchema) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ParamSchema({self.to_dict()})"


class ModelSignature:
    """Inputs, outputs and params of a model.

    Example:
        >>> sig = ModelSignature(Schema([ColSpec("double", "x")]))
        >>> sig.to_dict()["inputs"]
        '[{"type": "double", "name": "x", "required": true}]'
    """

    def __init__(self, inputs: Schema | None = None, outputs: Schema | None = None,
                 params: ParamSchema | None = None) -> None:
        if inputs is None and outputs is None and params is None:
            raise InvalidParameterError("A signature needs at least one of inputs, outputs or params")
        for what, value, cls in (("inputs", inputs, Schema), ("outputs", outputs, Schema),
                                 ("params", params, ParamSchema)):
            if value is not None and not isinstance(value, cls):
                raise InvalidParameterError(f"Signature {what} must be a {cls.__name__}, got {type(value).__name__}")
        self.inputs = inputs
        self.outputs = outputs
        self.params = params

    def to_dict(self) -> dict[str, str | None]:
        return {"inputs": self.inputs.to_json() if self.inputs else None,
                "outputs": self.outputs.to_json() if self.outputs else None,
                "params": self.params.to_json() if self.params else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelSignature":
        if not isinstance(d, dict):
            raise InvalidParameterError(f"A signature must be a mapping of inputs/outputs/params, got "
                                        f"{type(d).__name__}")
        try:
            inputs = Schema.from_json(d["inputs"]) if d.get("inputs") else None
            outputs = Schema.from_json(d["outputs"]) if d.get("outputs") else None
            params = ParamSchema.from_json(d["params"]) if d.get("params") else None
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidParameterError(f"Invalid signature in MLmodel: {exc}") from exc
        return cls(inputs, outputs, params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelSignature) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ModelSignature(inputs={self.inputs!r}, outputs={self.outputs!r}, params={self.params!r})"


# --------------------------------------------------------------------------------------------------
# inference


def _is_pandas(obj: Any, name: str) -> bool:
    mod = type(obj).__module__
    return mod.startswith("pandas") and type(obj).__name__ == name


def _scalar_type(value: Any) -> ColType | None:
    """The type of one Python/numpy value, or None for a missing value."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return DataType.boolean
    if isinstance(value, np.integer):
        return DataType.integer if value.dtype.itemsize <= 4 and value.dtype.kind == "i" else DataType.long
    if isinstance(value, int):
        return DataType.long
    if isinstance(value, np.floating):
        return DataType.float if value.dtype == np.float32 else DataType.double
    if isinstance(value, float):
        return DataType.double
    if isinstance(value, str):
        return DataType.string
    if isinstance(value, (bytes, bytearray)):
        return DataType.binary
    if isinstance(value, (_dt.datetime, _dt.date, np.datetime64)) or _is_pandas(value, "Timestamp"):
        return DataType.datetime
    if isinstance(value, (list, tuple, np.ndarray)):
        return Array(_merge_types([_scalar_type(v) for v in value], "array element"))
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise InvalidParameterError("Dict keys must be strings to infer an object type")
        return Object([Property(k, _scalar_type(v) or AnyType(), v is not None) for k, v in value.items()])
    raise InvalidParameterError(f"Cannot infer a data type for a value of type {type(value).__name__}")


def _merge_types(types: list[ColType | None], what: str) -> ColType:
    present = [t for t in types if t is not None]
    # an empty list infers Array(AnyType): it takes the element type of the other rows
    present = [t for t in present if not isinstance(t, AnyType)] or present
    if not present:
        return AnyType()
    first = present[0]
    if isinstance(first, Object):
        # union of properties: a property missing in some rows is optional
        by_name: dict[str, list[Property]] = {}
        for t in present:
            if not isinstance(t, Object):
                raise InvalidParameterError(f"Mixed types in {what}: {first!r} and {t!r}")
            for p in t.properties:
                by_name.setdefault(p.name, []).append(p)
        props = []
        for n, ps in by_name.items():
            merged = _merge_types([p.dtype for p in ps], f"property {n!r}")
            props.append(Property(n, merged, len(ps) == len(present) and all(p.required for p in ps)))
        return Object(props)
    if isinstance(first, Array):
        return Array(_merge_types([t.dtype if isinstance(t, Array) else t for t in present], what))
    for t in present[1:]:
        if t != first:
            numeric = {DataType.integer, DataType.long, DataType.float, DataType.double}
            if first in numeric and t in numeric:
                order = [DataType.integer, DataType.long, DataType.float, DataType.double]
                first = max(first, t, key=order.index)  # type: ignore[arg-type]
                continue
            raise InvalidParameterError(f"Mixed types in {what}: {first!r} and {t!r}")
    return first


def _series_type(series: Any) -> tuple[ColType, bool]:
    """(type, required) of a pandas Series."""
    import pandas as pd

    dtype = series.dtype
    has_missing = bool(series.isna().any()) if len(series) else False
    kind = getattr(dtype, "kind", "O")
    if isinstance(dtype, pd.DatetimeTZDtype) or kind == "M":
        return DataType.datetime, not has_missing
    if isinstance(dtype, pd.CategoricalDtype):
        return _series_type(series.astype(dtype.categories.dtype))
    if isinstance(dtype, pd.StringDtype) or str(dtype) in ("str", "string"):
        return DataType.string, not has_missing
    if pd.api.types.is_extension_array_dtype(dtype) and kind in "iufb":
        # nullable pandas types: Int64, Float64, boolean
        np_kind = np.dtype(dtype.numpy_dtype)
        return _numpy_type(np_kind), not has_missing
    if kind in "iufb":
        return _numpy_type(np.dtype(dtype)), not has_missing
    values = [v for v in series.tolist()]
    return _merge_types([_scalar_type(v) for v in values], f"column {series.name!r}"), not has_missing


def _numpy_type(dtype: np.dtype) -> DataType:
    if dtype.kind == "b":
        return DataType.boolean
    if dtype.kind in "iu":
        if dtype.kind == "i" and dtype.itemsize <= 4:
            return DataType.integer
        if dtype.kind == "u" and dtype.itemsize <= 2:
            return DataType.integer
        return DataType.long
    if dtype.kind == "f":
        return DataType.float if dtype.itemsize <= 4 else DataType.double
    if dtype.kind == "U":
        return DataType.string
    if dtype.kind == "S":
        return DataType.binary
    if dtype.kind == "M":
        return DataType.datetime
    raise InvalidParameterError(f"Cannot map numpy dtype {dtype} to a column type")


def _tensor_dtype(arr: np.ndarray) -> np.dtype:
    if arr.dtype.kind == "U":
        return np.dtype(str)
    if arr.dtype.kind == "S":
        return np.dtype(bytes)
    return arr.dtype


def infer_schema(data: Any) -> Schema:
    """Infer a :class:`Schema` from example data (DataFrame, Series, ndarray, dict, list or scalar).

    Example:
        >>> infer_schema([1, 2]).to_dict()
        [{'type': 'long', 'required': True}]
    """
    if _is_pandas(data, "DataFrame"):
        specs = []
        for name in data.columns:
            t, req = _series_type(data[name])
            specs.append(ColSpec(t, name.item() if isinstance(name, np.generic) else name, req))
        return Schema(specs)
    if _is_pandas(data, "Series"):
        t, req = _series_type(data)
        name = data.name
        return Schema([ColSpec(t, name, req if name is not None else True)])
    if isinstance(data, np.ndarray):
        return Schema([TensorSpec(_tensor_dtype(data), (-1, *data.shape[1:]))])
    if type(data).__module__.startswith("scipy.sparse"):
        return Schema([TensorSpec(data.dtype, (-1, *data.shape[1:]))])
    if isinstance(data, dict):
        if not data:
            raise InvalidParameterError("Cannot infer a schema from an empty dict")
        if all(isinstance(v, np.ndarray) for v in data.values()):
            return Schema([TensorSpec(_tensor_dtype(v), (-1, *v.shape[1:]), str(k)) for k, v in data.items()])
        if any(isinstance(v, np.ndarray) for v in data.values()):
            raise InvalidParameterError("A dict example must hold only numpy arrays or no numpy arrays at all")
        specs = []
        for k, v in data.items():
            t = _scalar_type(v)
            specs.append(ColSpec(t or AnyType(), k, t is not None))
        return Schema(specs)
    if isinstance(data, (list, tuple)):
        if not data:
            raise InvalidParameterError("Cannot infer a schema from an empty list")
        if any(isinstance(v, np.ndarray) for v in data):
            raise InvalidParameterError("A list example cannot contain numpy arrays; pass one array instead")
        if all(isinstance(v, dict) for v in data):
            import pandas as pd

            return infer_schema(pd.DataFrame(list(data)))
        t = _merge_types([_scalar_type(v) for v in data], "list")
        return Schema([ColSpec(t)])
    t = _scalar_type(data)
    if t is None:
        raise InvalidParameterError("Cannot infer a schema from None")
    return Schema([ColSpec(t)])


def _infer_param_schema(params: dict[str, Any]) -> ParamSchema:
    if not isinstance(params, dict):
        raise InvalidParameterError(f"params must be a dict, got {type(params).__name__}")
    specs, problems = [], []
    for name, value in params.items():
        try:
            if isinstance(value, (list, tuple, np.ndarray)):
                t = _merge_types([_scalar_type(v) for v in value], f"param {name!r}")
                if not isinstance(t, DataType):
                    raise InvalidParameterError(f"list elements of param {name!r} must be scalars")
                specs.append(ParamSpec(name, t, list(value), (-1,)))
            else:
                t = _scalar_type(value)
                if not isinstance(t, DataType):
                    raise InvalidParameterError(f"param {name!r} must be a scalar or a list of scalars")
                specs.append(ParamSpec(name, t, value))
        except InvalidParameterError as exc:
            problems.append(exc.message)
    if problems:
        raise InvalidParameterError("Cannot infer a params schema: " + "; ".join(problems))
    return ParamSchema(specs)


def infer_signature(model_input: Any = None, model_output: Any = None,
                    params: dict[str, Any] | None = None) -> ModelSignature:
    """Infer a signature from an example input, the model's output on it, and example params.

    Example:
        >>> import numpy as np
        >>> infer_signature(np.zeros((2, 4), dtype="float32")).to_dict()["inputs"]
        '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'
    """
    inputs = infer_schema(model_input) if model_input is not None else None
    outputs = infer_schema(model_output) if model_output is not None else None
    param_schema = _infer_param_schema(params) if params else None
    return ModelSignature(inputs, outputs, param_schema)
