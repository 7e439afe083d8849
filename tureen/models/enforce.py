"""Schema enforcement: check and convert a model's input and params against its signature.

The coercion table (documented for users in ``docs/signatures.md``). A value passes when its type equals
the schema type or is one of these safe widenings; anything else is a problem, and every problem of one
call is reported together in one :class:`~tureen.exceptions.SchemaEnforcementError`.

==============  ============================================================================================
schema type     accepted input (converted to the schema's numpy type)
==============  ============================================================================================
boolean         bool; pandas ``boolean`` without missing values; object column of bools (``None`` kept)
integer         int8, int16, int32, uint8, uint16
long            any signed int up to int64, uint8/16/32; pandas ``Int*`` without missing values
float           float16, float32; int8, int16, uint8
double          any float; int8-32, uint8-32; int64/uint64 when every value is within +-2**53 (exact);
                pandas ``Float*``/``Int*`` (missing values become NaN)
string          str values (object or pandas string dtype); ``None`` only in optional columns
binary          bytes values
datetime        datetime64 of any unit (cast to ns); ISO-8601 strings; tz-aware values are refused
array/object/   checked per cell (element types, required properties, no undeclared properties)
map/any
==============  ============================================================================================

Refused on purpose: float -> integer/long (even whole numbers; the error says so when the column is an
integer column with missing values), int64 -> integer, float64 -> float, numbers -> string.
Required columns must be present; optional columns may be absent; columns not in the schema are an error
by default (``extra="drop"`` drops them instead, as MLflow does).

Tensor schemas: the rank must match, every dimension other than ``-1`` must match, and the dtype must equal
the spec's or cast to it safely (``numpy.can_cast(..., "safe")``, e.g. float32 -> float64); a lossy dtype
(float64 -> float32) is refused.

Params: declared params are converted to their type (integer -> long -> float -> double widening), missing
ones get their default, undeclared ones are an error.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np

from tureen.exceptions import InvalidParameterError, SchemaEnforcementError
from tureen.models.signature import (AnyType, Array, ColSpec, DataType, Map, Object, ParamSchema, Schema,
                                     TensorSpec)

__all__ = ["enforce_schema", "enforce_params", "convert_param_value"]

_EXACT_FLOAT_LIMIT = 2 ** 53


def _fail(problems: list[str], schema: Schema | None = None) -> None:
    if problems:
        shown = "; ".join(problems)
        raise SchemaEnforcementError(f"Input does not match the model signature: {shown}", problems)


# --------------------------------------------------------------------------------------------------
# converting any input to a DataFrame for column-based schemas


def _to_dataframe(data: Any, schema: Schema) -> Any:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        if schema.has_input_names() and len(schema.inputs) == 1 and data.name != schema.inputs[0].name:
            return data.rename(schema.inputs[0].name).to_frame()
        return data.to_frame()
    complex_cols = any(isinstance(s.type, (Array, Object, Map)) for s in schema.inputs)  # type: ignore[union-attr]
    if isinstance(data, dict):
        scalar_like = all(not isinstance(v, (list, tuple, np.ndarray)) or
                          (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in data.values())
        if complex_cols or (scalar_like and not any(isinstance(v, (list, tuple, np.ndarray)) for v in data.values())):
            return pd.DataFrame([data])
        cols = {k: (list(v) if isinstance(v, np.ndarray) and v.ndim > 1 else v) for k, v in data.items()}
        try:
            return pd.DataFrame(cols)
        except ValueError as exc:
            raise SchemaEnforcementError(f"Cannot build a table from the input dict: {exc}", [str(exc)]) from None
    if isinstance(data, np.ndarray):
        if data.ndim == 1 and schema.has_input_names() and len(schema.inputs) == 1:
            return pd.DataFrame({schema.inputs[0].name: data})
        if data.ndim > 2:
            raise SchemaEnforcementError(f"A {data.ndim}-D array cannot be read as a table of columns",
                                         ["input has too many dimensions"])
        return pd.DataFrame(data)
    if isinstance(data, (list, tuple)):
        if data and all(isinstance(v, dict) for v in data):
            return pd.DataFrame(list(data))
        if schema.has_input_names() and len(schema.inputs) == 1:
            return pd.DataFrame({schema.inputs[0].name: list(data)})
        return pd.DataFrame(list(data))
    if isinstance(data, (str, bytes, int, float, bool, np.generic, _dt.datetime)):
        name = schema.inputs[0].name if schema.has_input_names() else 0
        return pd.DataFrame({name: [data]})
    raise SchemaEnforcementError(f"Input of type {type(data).__name__} cannot be checked against a column schema",
                                 [f"unsupported input type {type(data).__name__}"])


# --------------------------------------------------------------------------------------------------
# scalar columns


def _convert_column(col: Any, spec: ColSpec, label: str, problems: list[str]) -> Any:
    """Return the converted column, or None after appending a problem."""
    import pandas as pd

    t = spec.type
    dtype = col.dtype
    kind = getattr(dtype, "kind", "O")
    has_na = None

    def na() -> bool:
        nonlocal has_na
        if has_na is None:
            has_na = bool(col.isna().any())
        return has_na

    def bad(detail: str = "") -> None:
        problems.append(f"column {label}: cannot safely convert {dtype} to {t.value}"
                        + (f" ({detail})" if detail else ""))

    ext = pd.api.types.is_extension_array_dtype(dtype)
    if t is DataType.string:
        if isinstance(dtype, pd.StringDtype) or str(dtype) == "str":
            if na() and spec.required:
                problems.append(f"column {label}: missing values in a required string column")
                return None
            return col
        if kind == "O":
            values = col.dropna().tolist() if na() else col.tolist()
            wrong = {type(v).__name__ for v in values if not isinstance(v, str)}
            if wrong:
                bad("values of type " + ", ".join(sorted(wrong)))
                return None
            if has_na and spec.required:
                problems.append(f"column {label}: missing values in a required string column")
                return None
            return col
        bad()
        return None
    if t is DataType.binary:
        if kind in ("O", "S"):
            values = col.dropna().tolist()
            if any(not isinstance(v, (bytes, bytearray)) for v in values):
                bad("values are not bytes")
                return None
            return col
        bad()
        return None
    if t is DataType.boolean:
        if kind == "b" and not ext:
            return col
        if ext and str(dtype) == "boolean":
            if na():
                if spec.required:
                    problems.append(f"column {label}: missing values in a required boolean column")
                    return None
                return col.astype(object)
            return col.astype(bool)
        if kind == "O":
            if any(not isinstance(v, (bool, np.bool_)) for v in col.dropna().tolist()):
                bad("values are not booleans")
                return None
            return col
        bad()
        return None
    if t is DataType.datetime:
        if isinstance(dtype, pd.DatetimeTZDtype):
            bad("timezone-aware values; convert to naive UTC first")
            return None
        if kind == "M":
            return col if str(dtype) == "datetime64[ns]" else col.astype("datetime64[ns]")
        if kind == "O" or isinstance(dtype, pd.StringDtype) or str(dtype) == "str":
            try:
                return pd.to_datetime(col, format="ISO8601").astype("datetime64[ns]")
            except (ValueError, TypeError) as exc:
                bad(f"not ISO-8601 datetimes: {exc}")
                return None
        bad()
        return None
    # numeric targets
    target = t.to_numpy()
    if ext:
        if kind in "iu" and na():
            if t in (DataType.double, DataType.float):
                return col.astype(target.name) if t is DataType.double or dtype.numpy_dtype.itemsize <= 2 else _bad_ret(bad)
            problems.append(f"column {label}: integer column with missing values cannot be read as {t.value}; "
                            "declare the column as double, or fill the missing values")
            return None
        if kind == "f" and na() and t in (DataType.double, DataType.float):
            return col.astype(target.name)
        if kind in "iufb":
            col = col.astype(dtype.numpy_dtype)
            dtype = col.dtype
            kind = dtype.kind
    if kind == "O":
        try:
            col = col.infer_objects()
        except Exception:  # noqa: BLE001 - fall through to the type check
            pass
        dtype = col.dtype
        kind = dtype.kind
    if dtype == target:
        return col
    if kind in "iub" or kind == "f":
        src = np.dtype(dtype)
        if kind == "f" and t in (DataType.integer, DataType.long):
            values = col.to_numpy()
            finite = values[~np.isnan(values)]
            whole = finite.size == 0 or bool(np.all(np.equal(np.mod(finite, 1), 0)))
            if whole and np.isnan(values).any():
                problems.append(f"column {label}: integer column with missing values (float {dtype} with NaN) "
                                f"cannot be read as {t.value}; declare the column as double, or fill the "
                                "missing values")
            else:
                bad("floats are never truncated into integers")
            return None
        if kind == "b":
            bad()
            return None
        # numpy calls int64 -> float64 "safe", but values beyond 2**53 lose precision: checked below
        if np.can_cast(src, target, "safe") and not (kind in "iu" and src.itemsize >= 8):
            return col.astype(target)
        if kind in "iu" and t in (DataType.double, DataType.float):
            values = col.to_numpy()
            if t is DataType.double and values.size and np.abs(values).max() <= _EXACT_FLOAT_LIMIT:
                return col.astype(target)
            if values.size == 0 or np.isin(values, (0, 1)).all():
                return col.astype(target)
            bad(f"values beyond +-2**53 cannot be represented exactly" if t is DataType.double else "")
            return None
        bad()
        return None
    bad()
    return None


def _bad_ret(bad: Any) -> None:
    bad()
    return None


# --------------------------------------------------------------------------------------------------
# array / object / map cells


def _check_cell(value: Any, t: Any, path: str, problems: list[str], required: bool = True) -> None:
    if value is None or (isinstance(value, float) and value != value):
        if required and not isinstance(t, AnyType):
            problems.append(f"{path}: missing value")
        return
    if isinstance(t, AnyType):
        return
    if isinstance(t, Array):
        if not isinstance(value, (list, tuple, np.ndarray)):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, v in enumerate(value):
            _check_cell(v, t.dtype, f"{path}[{i}]", problems)
            if len(problems) > 50:
                return
        return
    if isinstance(t, Object):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        declared = {p.name for p in t.properties}
        extra = sorted(set(value) - declared)
        if extra:
            problems.append(f"{path}: undeclared properties {extra}")
        for p in t.properties:
            if p.name not in value:
                if p.required:
                    problems.append(f"{path}: missing property {p.name!r}")
                continue
            _check_cell(value[p.name], p.dtype, f"{path}.{p.name}", problems, p.required)
        return
    if isinstance(t, Map):
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            problems.append(f"{path}: expected a map with string keys, got {type(value).__name__}")
            return
        for k, v in value.items():
            _check_cell(v, t.value_type, f"{path}[{k!r}]", problems)
        return
    if isinstance(t, DataType):
        ok = {
            DataType.boolean: lambda v: isinstance(v, (bool, np.bool_)),
            DataType.integer: lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool),
            DataType.long: lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool),
            DataType.float: lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool),
            DataType.double: lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool),
            DataType.string: lambda v: isinstance(v, str),
            DataType.binary: lambda v: isinstance(v, (bytes, bytearray)),
            DataType.datetime: lambda v: isinstance(v, (_dt.date, np.datetime64, str)),
        }[t]
        if not ok(value):
            problems.append(f"{path}: expected {t.value}, got {type(value).__name__}")


# --------------------------------------------------------------------------------------------------
# tensors


def _check_tensor(arr: Any, spec: TensorSpec, label: str, problems: list[str]) -> Any:
    if type(arr).__module__.startswith("scipy.sparse"):
        shape, dtype = arr.shape, arr.dtype
    else:
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        shape, dtype = arr.shape, arr.dtype
    want = spec.shape
    if len(shape) != len(want) or any(w != -1 and w != s for w, s in zip(want, shape)):
        problems.append(f"{label}: shape {tuple(shape)} does not match the expected {tuple(want)} "
                        "(-1 is any size)")
        return None
    exp = spec.dtype
    if dtype == exp or (exp.kind == "O" and len(want) == 1):
        return arr
    if exp.kind in "US" and dtype.kind == exp.kind:
        return arr
    if exp.kind == "O" and dtype.kind in "USO":
        return arr.astype(object) if dtype.kind != "O" else arr
    if np.can_cast(dtype, exp, "safe"):
        return arr.astype(exp)
    problems.append(f"{label}: dtype {dtype} cannot be safely converted to {exp}")
    return None


def _enforce_tensor_schema(data: Any, schema: Schema, problems: list[str]) -> Any:
    specs: list[TensorSpec] = schema.inputs  # type: ignore[assignment]
    # checked by name: importing pandas here would cost ~0.5-2 s on the first ndarray predict of a process
    if type(data).__name__ == "DataFrame" and type(data).__module__.startswith("pandas"):
        if schema.has_input_names() and len(specs) > 1 or (len(specs) == 1 and specs[0].name in data.columns):
            out = {}
            for spec in specs:
                if spec.name not in data.columns:
                    problems.append(f"missing input tensor {spec.name!r}")
                    continue
                col = data[spec.name]
                first = col.iloc[0] if len(col) else None
                if isinstance(first, (list, np.ndarray)):
                    arr = np.stack([np.asarray(v) for v in col])
                    try:
                        arr = arr.reshape((-1, *spec.shape[1:])).astype(spec.dtype)
                    except (ValueError, TypeError) as exc:
                        problems.append(f"tensor {spec.name!r}: {exc}")
                        continue
                else:
                    arr = col.to_numpy()
                    if len(spec.shape) == 2 and spec.shape[1] == 1:
                        arr = arr.reshape(-1, 1)
                out[spec.name] = _check_tensor(arr, spec, f"tensor {spec.name!r}", problems)
            extra = sorted(set(map(str, data.columns)) - {s.name for s in specs})
            if extra and len(specs) > 1:
                problems.append(f"extra inputs {extra}")
            return out if len(specs) > 1 else out.get(specs[0].name)
        arr = data.to_numpy()
        if len(specs[0].shape) == 1 and arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        return _check_tensor(arr, specs[0], "input", problems)
    if isinstance(data, dict):
        if not schema.has_input_names():
            problems.append("a dict input needs a schema with named tensors")
            return None
        missing = [s.name for s in specs if s.name not in data]
        extra = sorted(set(data) - {s.name for s in specs})
        if missing:
            problems.append(f"missing input tensors {missing}")
        if extra:
            problems.append(f"extra input tensors {extra}")
        out = {}
        for spec in specs:
            if spec.name in data:
                out[spec.name] = _check_tensor(data[spec.name], spec, f"tensor {spec.name!r}", problems)
        return out
    if len(specs) > 1:
        problems.append(f"the model takes {len(specs)} named tensors {[s.name for s in specs]}; pass a dict")
        return None
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    if not isinstance(data, np.ndarray) and not type(data).__module__.startswith("scipy.sparse"):
        problems.append(f"input of type {type(data).__name__} cannot be read as a tensor")
        return None
    return _check_tensor(data, specs[0], "input", problems)


# --------------------------------------------------------------------------------------------------
# public API


_NUMERIC = {DataType.boolean, DataType.integer, DataType.long, DataType.float, DataType.double}

#: in a fast plan, a string column (its value says whether missing values are refused)
_REQUIRED_STRING = "required string"
_OPTIONAL_STRING = "optional string"


def _fast_plan(schema: Schema) -> tuple[list[Any], list[Any]] | None:
    """(column names, what each column must be) when every column is a required numeric one (its exact numpy
    dtype) or a string one (a marker); cached on the schema."""
    plan = getattr(schema, "_tureen_fast_plan", False)
    if plan is False:
        plan = None
        specs = schema.inputs

        def want(s: Any) -> Any:
            if not isinstance(s.type, DataType):
                return None
            if s.type is DataType.string:
                return _REQUIRED_STRING if s.required else _OPTIONAL_STRING
            return s.type.to_numpy() if s.type in _NUMERIC and s.required else None

        if schema.has_input_names():
            wants = [want(s) for s in specs]
            if all(w is not None for w in wants):
                plan = ([s.name for s in specs], wants)  # type: ignore[union-attr]
        schema._tureen_fast_plan = plan  # type: ignore[attr-defined]
    return plan


def _string_column_conforms(data: Any, i: int, actual: Any, want: str) -> bool:
    """Whether column ``i`` passes the string check exactly as it is (else the full check decides, and words
    its errors): a pandas string column (without missing values when required), or an object column of
    ``str`` values only."""
    values = data._mgr.iget_values(i)  # the column's array, no Series built
    if getattr(actual, "kind", None) == "O" and isinstance(values, np.ndarray):
        # any None/NaN/other value is left to the full check
        return all(isinstance(v, str) for v in values.tolist())
    import pandas as pd

    if not isinstance(actual, pd.StringDtype):
        return False
    if want == _OPTIONAL_STRING:
        return True
    arrow = getattr(values, "_pa_array", None)  # pyarrow-backed (pandas 3's default str): counted, not scanned
    nulls = getattr(arrow, "null_count", None)
    # pandas' arrow strings keep NaN as a null, so the count is every missing value
    return nulls == 0 if isinstance(nulls, int) else not bool(values.isna().any())


def _already_conforms(data: Any, schema: Schema) -> bool:
    """The common case, checked cheaply: a DataFrame whose columns equal the schema's, each numeric column of
    exactly the schema's dtype and each string column already holding strings.

    A few microseconds: the column Index last found equal is remembered (an Index is immutable, so the same
    object still holds the same names), and the dtypes and string columns are read from the frame's block
    manager instead of building the ``dtypes`` Series (about 14 us on its own) or a Series per column.
    """
    plan = _fast_plan(schema)
    if plan is None or type(data).__name__ != "DataFrame":
        return False
    names, dtypes = plan
    columns = data.columns
    if columns is not getattr(schema, "_tureen_seen_columns", None):
        if len(columns) != len(names) or columns.tolist() != names:
            return False
        schema._tureen_seen_columns = columns  # type: ignore[attr-defined]
    try:
        actual = data._mgr.get_dtypes()  # one entry per column, in order (pandas' own, no Series built)
    except AttributeError:  # a pandas without it
        actual = data.dtypes.tolist()
    if len(actual) != len(dtypes):
        return False
    for i, (a, b) in enumerate(zip(actual, dtypes)):
        if isinstance(b, str):
            try:
                if not _string_column_conforms(data, i, a, b):
                    return False
            except AttributeError:  # a pandas without iget_values
                return False
        elif a != b:
            return False
    return True


def enforce_schema(data: Any, schema: Schema, *, extra: str = "error") -> Any:
    """Check ``data`` against ``schema`` and return it converted to the schema's types.

    Args:
        data: a DataFrame, Series, ndarray, dict, list or scalar.
        schema: the model's input schema.
        extra: what to do with columns not in the schema: ``"error"`` (default) or ``"drop"``.

    Raises:
        SchemaEnforcementError: listing every missing, extra and mistyped field at once.

    Example:
        >>> import pandas as pd
        >>> from tureen.models.signature import ColSpec, Schema
        >>> enforce_schema(pd.DataFrame({"x": [1, 2]}), Schema([ColSpec("double", "x")])).dtypes["x"]
        dtype('float64')
    """
    problems: list[str] = []
    tensor = schema.is_tensor_spec()
    if not tensor and _already_conforms(data, schema):
        return data
    if tensor:
        if type(data) is np.ndarray and len(schema.inputs) == 1:
            # the common case: one array of exactly the spec's dtype and a matching shape is returned as is
            spec = schema.inputs[0]
            want = spec.shape  # type: ignore[union-attr]
            if (data.dtype == spec.dtype and data.ndim == len(want)  # type: ignore[union-attr]
                    and all(w == -1 or w == d for w, d in zip(want, data.shape))):
                return data
        out = _enforce_tensor_schema(data, schema, problems)
        _fail(problems, schema)
        return out

    df = _to_dataframe(data, schema)
    specs: list[ColSpec] = schema.inputs  # type: ignore[assignment]
    columns = list(df.columns)
    if not schema.has_input_names():
        if len(columns) < len(specs):
            _fail([f"the model takes {len(specs)} unnamed columns, got {len(columns)}"])
        if len(columns) > len(specs) and extra == "error":
            _fail([f"the model takes {len(specs)} unnamed columns, got {len(columns)}"])
        names = columns[: len(specs)]
    else:
        present = set(columns)
        missing = [s.name for s in specs if s.required and s.name not in present]
        declared = {s.name for s in specs}
        extras = [c for c in columns if c not in declared]
        if missing:
            problems.append(f"missing inputs {missing}")
        if extras and extra == "error":
            problems.append(f"extra inputs {extras} (the signature declares {[s.name for s in specs]})")
        names = [s.name if s.name in present else None for s in specs]

    converted: dict[Any, Any] = {}
    changed = False
    for spec, name in zip(specs, names):
        if name is None:
            continue  # an absent optional column (missing required ones are already reported)
        col = df[name]
        label = repr(name)
        if isinstance(spec.type, DataType):
            new = _convert_column(col, spec, label, problems)
        elif isinstance(spec.type, AnyType):
            new = col
        else:
            cell_problems: list[str] = []
            for i, v in enumerate(col.tolist()):
                _check_cell(v, spec.type, f"column {label} row {i}", cell_problems, spec.required)
                if len(cell_problems) > 20:
                    break
            problems.extend(cell_problems)
            new = col
        if new is not None and new is not col:
            changed = True
        converted[name] = new
    _fail(problems, schema)
    kept = [n for n in names if n is not None]
    if not changed and kept == columns:
        return df
    import pandas as pd

    out = pd.DataFrame({n: converted[n] for n in kept}, index=df.index)
    return out


def convert_param_value(name: str, value: Any, t: DataType, shape: tuple[int, ...] | None) -> Any:
    """Convert one param value to its declared type, or raise InvalidParameterError."""
    if shape is not None:
        if isinstance(value, np.ndarray):
            if value.ndim != 1:
                raise InvalidParameterError(f"param {name!r}: expected a 1-D list, got a {value.ndim}-D array")
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            raise InvalidParameterError(f"param {name!r}: expected a list, got {type(value).__name__}")
        return [convert_param_value(name, v, t, None) for v in value]
    if isinstance(value, (list, tuple, np.ndarray, dict)):
        raise InvalidParameterError(f"param {name!r}: expected a single {t.value}, got {type(value).__name__}")
    if isinstance(value, np.generic):
        value = value.item()
    ok = False
    if t is DataType.boolean:
        ok = isinstance(value, bool)
    elif t in (DataType.integer, DataType.long):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and t is DataType.integer and not -(2 ** 31) <= value < 2 ** 31:
            raise InvalidParameterError(f"param {name!r}: {value} does not fit a 32-bit integer")
    elif t in (DataType.float, DataType.double):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)
    elif t is DataType.string:
        ok = isinstance(value, str)
    elif t is DataType.datetime:
        if isinstance(value, _dt.datetime):
            ok = True
        elif isinstance(value, _dt.date):
            value, ok = _dt.datetime(value.year, value.month, value.day), True
        elif isinstance(value, str):
            try:
                value, ok = _dt.datetime.fromisoformat(value), True
            except ValueError:
                ok = False
    if not ok:
        raise InvalidParameterError(f"param {name!r}: expected {t.value}, got {value!r} "
                                    f"({type(value).__name__})")
    return value


def enforce_params(params: dict[str, Any] | None, schema: ParamSchema | None) -> dict[str, Any]:
    """Check params against the params schema, fill defaults, and convert values.

    Raises:
        SchemaEnforcementError: undeclared params, or values of the wrong type or shape (all listed).

    Example:
        >>> from tureen.models.signature import ParamSchema, ParamSpec
        >>> enforce_params({"k": 3}, ParamSchema([ParamSpec("k", "long", 1), ParamSpec("t", "double", 0.5)]))
        {'k': 3, 't': 0.5}
    """
    params = dict(params or {})
    if schema is None:
        if params:
            raise SchemaEnforcementError(f"The model declares no params, but got {sorted(params)}",
                                         [f"unknown params {sorted(params)}"])
        return {}
    problems: list[str] = []
    declared = {p.name: p for p in schema.params}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        problems.append(f"unknown params {unknown} (declared: {sorted(declared)})")
    out: dict[str, Any] = {}
    for name, spec in declared.items():
        if name not in params:
            out[name] = spec.default
            continue
        try:
            out[name] = convert_param_value(name, params[name], spec.dtype, spec.shape)
        except InvalidParameterError as exc:
            problems.append(exc.message)
    if problems:
        raise SchemaEnforcementError("Invalid params: " + "; ".join(problems), problems)
    return out
