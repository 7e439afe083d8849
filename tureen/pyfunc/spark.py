"""Batch scoring on Apache Spark: :func:`spark_udf` turns any pyfunc model into a Spark column function.

How it works:

* On the driver, the model URI is resolved (through :func:`tureen.uri.resolve_model_uri`), the model is
  read and checked against its digests, ``result_type`` and ``params`` are validated, and the model
  directory is packed into an uncompressed tarball that is shipped with the job
  (``SparkContext.addArchive``). Executors need no shared filesystem and no access to the tracking server.
  All of that happens before any job runs, so a bad URI or a bad argument fails at once.
* On the executors, an Arrow-based pandas UDF in iterator form receives the columns as one struct (so the
  column names survive), loads the model once per Python worker process (a per-process cache; Spark reuses
  its Python workers across tasks), verifies the unpacked files against the digests taken on the driver,
  and predicts batch by batch. The signature is enforced on every batch; a schema error fails the job with
  the model's own error text and the Spark partition it came from.
* The model's output is converted to ``result_type``: a scalar type, an array of a scalar type, or a struct
  (for a model that returns several columns). An output the type cannot hold is an error naming both.

Columns are matched to the signature by name. A model whose signature has no column names takes the
columns by position; a model without a signature gets the columns under their Spark names.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import socket
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from tureen.exceptions import (InvalidParameterError, ModelFormatError, ModelIntegrityError,
                               ModelPredictionError, ResourceNotFoundError, SchemaEnforcementError, TureenError)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["spark_udf", "SparkModelUDF"]

PYFUNC = "python_function"
_MODEL_DIR_IN_ARCHIVE = "model"

# Spark type name -> numpy dtype name, for the numeric result types
_NUMERIC = {"byte": "int8", "short": "int16", "integer": "int32", "long": "int64", "float": "float32",
            "double": "float64"}
_INTEGRAL = {"byte", "short", "integer", "long"}
_SCALAR_TYPES = (*_NUMERIC, "boolean", "string", "binary", "timestamp", "date")


# ------------------------------------------------------------------------------------------------
# the result type, as a plain description that workers can use without pyspark's type classes


@dataclass(frozen=True)
class _ResultType:
    """``kind`` is ``scalar``, ``array`` or ``struct``; ``type`` the scalar (element) type name."""

    kind: str
    type: str | None = None
    fields: tuple[tuple[str, "_ResultType"], ...] = ()
    text: str = ""  # how the user sees it, e.g. ``array<double>``


def _describe_spark_type(dt: Any, text: str, *, top: bool = True) -> _ResultType:
    """A pyspark DataType -> :class:`_ResultType`, or InvalidParameterError for what is not supported."""
    from pyspark.sql import types as T

    scalars = {T.BooleanType: "boolean", T.ByteType: "byte", T.ShortType: "short", T.IntegerType: "integer",
               T.LongType: "long", T.FloatType: "float", T.DoubleType: "double", T.StringType: "string",
               T.BinaryType: "binary", T.TimestampType: "timestamp", T.DateType: "date"}
    for cls, name in scalars.items():
        if type(dt) is cls or isinstance(dt, cls):
            return _ResultType("scalar", name, text=text)
    if isinstance(dt, T.ArrayType):
        inner = _describe_spark_type(dt.elementType, dt.elementType.simpleString(), top=False)
        if inner.kind != "scalar":
            raise InvalidParameterError(f"result_type {text!r} is not supported: array elements must be a "
                                        f"scalar type ({', '.join(_SCALAR_TYPES)})")
        return _ResultType("array", inner.type, text=text)
    if isinstance(dt, T.StructType) and top:
        if not dt.fields:
            raise InvalidParameterError(f"result_type {text!r} is a struct without fields")
        fields = []
        for f in dt.fields:
            sub = _describe_spark_type(f.dataType, f.dataType.simpleString(), top=False)
            fields.append((f.name, sub))
        return _ResultType("struct", None, tuple(fields), text=text)
    raise InvalidParameterError(
        f"result_type {text!r} is not supported: use a scalar type ({', '.join(_SCALAR_TYPES)}), "
        "array<scalar>, or struct<name:type,...> whose fields are scalars or arrays of scalars")


def _parse_result_type(result_type: Any) -> tuple[Any, _ResultType]:
    """``result_type`` (a DDL string or a pyspark DataType) -> (pyspark DataType, description)."""
    from pyspark.sql import types as T

    if isinstance(result_type, T.DataType):
        dt = result_type
    elif isinstance(result_type, str) and result_type.strip():
        text = result_type.strip()
        try:
            dt = T._parse_datatype_string(text)
        except Exception as exc:  # noqa: BLE001 - pyspark raises ParseException or Py4J errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidParameterError(f"result_type {text!r} is not a Spark type: {first}") from None
    else:
        raise InvalidParameterError(f"result_type must be a Spark type or a type string such as 'double', "
                                    f"'array<double>' or 'struct<label:string,score:double>'; got {result_type!r}")
    text = dt.simpleString()
    return dt, _describe_spark_type(dt, text)


# ------------------------------------------------------------------------------------------------
# converting the model's output to the result type (runs on the executors; numpy and pandas only)


def _kind_of(values: Any) -> str:
    """A short description of an output column's type for error messages."""
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        return type(values).__name__
    if getattr(dtype, "kind", "O") == "O":
        import pandas as pd

        sample = pd.Series(values).dropna().head(50).tolist()
        kinds = sorted({type(v).__name__ for v in sample})
        if kinds:
            example = repr(sample[0])
            if len(example) > 40:
                example = example[:37] + "..."
            return f"{'/'.join(kinds)} values like {example}"
        return "empty values"
    return f"dtype {dtype}"


def _suggest(values: Any) -> str:
    """A result type that would hold ``values`` (one output column)."""
    dtype = getattr(values, "dtype", None)
    kind = getattr(dtype, "kind", "O")
    if kind == "f":
        return "double"
    if kind in "iu":
        return "long"
    if kind == "b":
        return "boolean"
    if kind == "M":
        return "timestamp"
    import pandas as pd

    sample = pd.Series(values).dropna().head(20).tolist()
    if sample and all(isinstance(v, (bytes, bytearray)) for v in sample):
        return "binary"
    if sample and all(isinstance(v, (list, tuple)) or hasattr(v, "__array__") for v in sample):
        return "array<double>"
    return "string"


def _cannot(values: Any, rt: _ResultType, detail: str, where: str = "", suggestion: str | None = None) -> None:
    hint = suggestion if suggestion is not None else _suggest(values)
    raise InvalidParameterError(
        f"The model's output{where} ({_kind_of(values)}) cannot be converted to the Spark result type "
        f"{rt.text or rt.type}: {detail}. Pass a result_type that holds it, e.g. result_type={hint!r}")


def _convert_scalar(values: Any, t: str, rt: _ResultType, where: str = "") -> Any:
    """One output column (Series or 1-D array) -> a pandas Series of Spark type ``t``."""
    import numpy as np
    import pandas as pd

    s = values if isinstance(values, pd.Series) else pd.Series(values)
    s = s.reset_index(drop=True)
    dtype = s.dtype
    if pd.api.types.is_extension_array_dtype(dtype) and not isinstance(dtype, (pd.StringDtype,
                                                                                 pd.CategoricalDtype)):
        # nullable numbers/booleans: missing values become NaN (floats) or stay missing (objects)
        if dtype.kind in "iuf" and t in _NUMERIC and t not in _INTEGRAL:
            s = pd.Series(s.to_numpy(dtype="float64", na_value=np.nan))
        elif not s.isna().any():
            s = s.astype(dtype.numpy_dtype)
        else:
            s = s.astype(object).where(s.notna(), None)
        dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        s = s.astype(object)
        dtype = s.dtype
    kind = getattr(dtype, "kind", "O")
    is_text = isinstance(dtype, pd.StringDtype) or kind in "OUS"

    if t == "string":
        if is_text:
            bad = [v for v in s.dropna().tolist() if not isinstance(v, (str, int, float, bool, np.generic))]
            if bad:
                _cannot(values, rt, f"values of type {type(bad[0]).__name__} are not text", where)
            if kind == "O" and any(not isinstance(v, str) for v in s.dropna().tolist()):
                s = s.map(lambda v: v if v is None or isinstance(v, str) or v != v else str(v))
            return s
        if kind in "biuf":
            return s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))
        if kind == "M":
            return s.astype(str)
        _cannot(values, rt, "not text", where)

    if t in _NUMERIC:
        target = np.dtype(_NUMERIC[t])
        if is_text:
            items = s.dropna().tolist()
            wrong = sorted({type(v).__name__ for v in items
                            if not isinstance(v, (int, float, np.number)) or isinstance(v, (bool, np.bool_))})
            if wrong:
                _cannot(values, rt, f"{'/'.join(wrong)} values are not numbers", where)
            s = pd.to_numeric(s)
            kind = s.dtype.kind
        if kind == "b":
            return s.astype(target)
        if kind == "f":
            if t in _INTEGRAL:
                arr = s.to_numpy()
                finite = arr[~np.isnan(arr)]
                if finite.size and not np.all(np.isfinite(finite)):
                    _cannot(values, rt, "it has infinite values", where, "double")
                if finite.size and not np.all(finite == np.round(finite)):
                    _cannot(values, rt, "it has fractional values", where, "double")
                _check_range(finite, target, values, rt, where)
                if finite.size != arr.size:  # missing values become nulls
                    return s.astype(pd.Int64Dtype()).astype(f"Int{target.itemsize * 8}")
                return s.astype(target)
            return s.astype(target)
        if kind in "iu":
            if t in _INTEGRAL:
                _check_range(s.to_numpy(), target, values, rt, where)
            return s.astype(target)
        _cannot(values, rt, "not numbers", where)

    if t == "boolean":
        if kind == "b":
            return s
        if is_text and all(isinstance(v, (bool, np.bool_)) for v in s.dropna().tolist()):
            return s
        _cannot(values, rt, "not booleans (numbers are not read as booleans)", where)

    if t == "binary":
        if kind in "OS" and all(isinstance(v, (bytes, bytearray)) for v in s.dropna().tolist()):
            return s
        _cannot(values, rt, "not bytes", where)

    if t in ("timestamp", "date"):
        import datetime as dt

        if kind == "M":  # tz-aware values stay aware: pyspark converts them to UTC itself
            return s.dt.date if t == "date" else s
        if kind == "O" and all(isinstance(v, (dt.date, np.datetime64)) for v in s.dropna().tolist()):
            out = pd.to_datetime(s)
            return out.dt.date if t == "date" else out
        _cannot(values, rt, "not dates or timestamps", where)
    raise InvalidParameterError(f"Unsupported result type {t!r}")  # pragma: no cover - types checked earlier


def _check_range(arr: Any, target: Any, values: Any, rt: _ResultType, where: str) -> None:
    import numpy as np

    if arr.size == 0:
        return
    info = np.iinfo(target)
    lo, hi = arr.min(), arr.max()
    if lo < info.min or hi > info.max:
        _cannot(values, rt, f"values from {lo} to {hi} do not fit a {target.itemsize * 8}-bit integer", where,
                "long" if hi <= np.iinfo("int64").max and lo >= np.iinfo("int64").min else "double")


def _convert_array(values: Any, rt: _ResultType, where: str = "") -> Any:
    """2-D output (array, several columns, or one column of lists) -> a Series of 1-D numpy arrays."""
    import numpy as np
    import pandas as pd

    t = rt.type or "double"
    if isinstance(values, pd.DataFrame):
        values = values.to_numpy() if all(getattr(d, "kind", "O") != "O" for d in values.dtypes) \
            else values.to_numpy(dtype=object)
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.ndim == 2:
        flat = _convert_scalar(pd.Series(arr.reshape(-1)), t, rt, where)
        flat_np = flat.to_numpy(dtype=object) if flat.dtype.kind == "O" or _is_ext(flat) else flat.to_numpy()
        rows = flat_np.reshape(arr.shape)
        return pd.Series(list(rows), dtype=object)
    if arr.ndim == 1 and arr.dtype.kind == "O":
        cells = arr.tolist()
        if all(c is None or isinstance(c, (list, tuple, np.ndarray)) for c in cells):
            lengths = [0 if c is None else len(c) for c in cells]
            flat_values = [v for c in cells if c is not None for v in (c.tolist() if isinstance(c, np.ndarray)
                                                                      else c)]
            flat = _convert_scalar(pd.Series(flat_values, dtype=object) if flat_values
                                   else pd.Series([], dtype="float64"), t, rt, where)
            flat_np = flat.to_numpy(dtype=object) if flat.dtype.kind == "O" or _is_ext(flat) else flat.to_numpy()
            out, pos = [], 0
            for c, n in zip(cells, lengths):
                out.append(None if c is None else flat_np[pos:pos + n])
                pos += n
            return pd.Series(out, dtype=object)
    if arr.ndim == 1:
        _cannot(values, rt, "it has one value per row, and an array type needs a list per row", where,
                _suggest(values))
    raise InvalidParameterError(f"The model's output{where} has {arr.ndim} dimensions; the Spark result type "
                                f"{rt.text} holds at most 2 (one array per row)")


def _is_ext(s: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_extension_array_dtype(s.dtype)


def _as_plain(output: Any) -> Any:
    """Framework tensors, lists and dicts -> numpy arrays or DataFrames."""
    import numpy as np
    import pandas as pd

    if output is None:
        raise ModelPredictionError("The model returned None instead of predictions")
    if isinstance(output, (pd.DataFrame, pd.Series, np.ndarray)):
        return output
    module = type(output).__module__.split(".")[0]
    if module in ("torch", "tensorflow", "keras", "jax", "cupy"):
        from tureen.flavors._base import _plain_output

        return np.asarray(_plain_output(output))
    if isinstance(output, dict):
        try:
            return pd.DataFrame(output)
        except ValueError:
            return pd.DataFrame({k: list(v) if isinstance(v, np.ndarray) and v.ndim > 1 else v
                                 for k, v in output.items()})
    if isinstance(output, (list, tuple)):
        if output and all(isinstance(v, dict) for v in output):
            return pd.DataFrame(list(output))
        try:
            arr = np.asarray(output)
        except ValueError:  # ragged lists
            arr = np.empty(len(output), dtype=object)
            arr[:] = list(output)
        return arr
    if hasattr(output, "toarray"):  # scipy sparse
        return output.toarray()
    raise InvalidParameterError(f"The model returned a {type(output).__name__}, which cannot be turned into "
                                "Spark column values")


def _column_of(df: Any, name: str) -> Any:
    if name in df.columns:
        return df[name]
    for c in df.columns:  # integer or other non-string column labels
        if str(c) == name:
            return df[c]
    return None


def _to_result(output: Any, rt: _ResultType, n_rows: int) -> Any:
    """The model's output for one batch -> the pandas object Spark expects for ``rt``."""
    import numpy as np
    import pandas as pd

    out = _as_plain(output)
    if len(out) != n_rows:
        raise ModelPredictionError(f"The model returned {len(out)} predictions for {n_rows} input rows")
    if rt.kind == "scalar":
        if isinstance(out, pd.DataFrame):
            if out.shape[1] != 1:
                cols = [str(c) for c in out.columns]
                struct = "struct<" + ",".join(f"{c}:{_suggest(out[c0])}" for c, c0 in zip(cols, out.columns)) + ">"
                raise InvalidParameterError(
                    f"The model's output has {out.shape[1]} columns {cols}; the Spark result type {rt.text} "
                    f"holds one. Use a struct result type (e.g. result_type={struct!r}) or an array type")
            out = out.iloc[:, 0]
        elif isinstance(out, np.ndarray) and out.ndim == 2:
            if out.shape[1] != 1:
                raise InvalidParameterError(
                    f"The model's output has {out.shape[1]} values per row; the Spark result type {rt.text} "
                    f"holds one. Use an array result type, e.g. result_type='array<{_suggest(out[:, 0])}>'")
            out = out[:, 0]
        elif isinstance(out, np.ndarray) and out.ndim > 2:
            raise InvalidParameterError(f"The model's output has shape {out.shape}; the Spark result type "
                                        f"{rt.text} holds one value per row")
        return _convert_scalar(out, rt.type or "double", rt)
    if rt.kind == "array":
        return _convert_array(out, rt)
    # struct
    names = [name for name, _ in rt.fields]
    if isinstance(out, pd.Series):
        out = out.to_frame()
    if isinstance(out, np.ndarray):
        if out.ndim == 2 and out.shape[1] == len(names):
            out = pd.DataFrame(out, columns=names)
        else:
            shape = "one value per row" if out.ndim == 1 else f"{out.shape[1]} values per row"
            raise InvalidParameterError(
                f"The model's output has {shape} and no column names; the Spark result type {rt.text} has "
                f"{len(names)} fields {names}. Return a DataFrame with those columns, or use an array type")
    missing = [n for n in names if _column_of(out, n) is None]
    if missing:
        raise InvalidParameterError(
            f"The model's output has columns {[str(c) for c in out.columns]}, but the Spark result type "
            f"{rt.text} needs fields {missing} that it does not have")
    columns = {}
    for name, sub in rt.fields:
        col = _column_of(out, name)
        where = f" column {name!r}"
        if sub.kind == "array":
            columns[name] = _convert_array(col, sub, where)
        else:
            columns[name] = _convert_scalar(col, sub.type or "double", sub, where)
    return pd.DataFrame(columns)


# ------------------------------------------------------------------------------------------------
# checking result_type against the model's output schema before any job runs


def _output_kinds(outputs: Any) -> list[tuple[Any, str | None, int]] | None:
    """[(name, kind, rank)] for a declared output schema; kind in int/float/bool/str/bytes/datetime/None."""
    from tureen.models.signature import DataType, TensorSpec

    kinds = {DataType.integer: "int", DataType.long: "int", DataType.float: "float", DataType.double: "float",
             DataType.boolean: "bool", DataType.string: "str", DataType.binary: "bytes",
             DataType.datetime: "datetime"}
    out = []
    for spec in outputs.inputs:
        if isinstance(spec, TensorSpec):
            k = spec.dtype.kind
            kind = {"i": "int", "u": "int", "f": "float", "b": "bool", "U": "str", "S": "bytes",
                    "M": "datetime"}.get(k)
            rank = len(spec.shape)
            if rank == 2 and spec.shape[1] == 1:
                rank = 1
            out.append((spec.name, kind, rank))
        else:
            t = spec.type
            out.append((spec.name, kinds.get(t) if isinstance(t, DataType) else None, 1))
    return out


def _holds(kind: str | None, t: str) -> bool:
    if kind is None:
        return True
    if t in _NUMERIC:
        return kind in ("int", "float", "bool")
    if t == "boolean":
        return kind == "bool"
    if t == "string":
        return kind in ("str", "int", "float", "bool", "datetime")
    if t == "binary":
        return kind == "bytes"
    return kind == "datetime"


def _check_against_output_schema(outputs: Any, rt: _ResultType) -> None:
    if outputs is None:
        return
    specs = _output_kinds(outputs)
    if not specs:
        return
    suggest = {"int": "long", "float": "double", "bool": "boolean", "str": "string", "bytes": "binary",
               "datetime": "timestamp"}

    def fail(what: str, kind: str | None, detail: str = "") -> None:
        raise InvalidParameterError(
            f"The model's signature declares its output{what} as {kind} values, which the Spark result type "
            f"{rt.text} cannot hold{detail}. Pass a result_type that holds it, e.g. "
            f"result_type={suggest.get(kind or '', 'string')!r}")

    if rt.kind == "scalar":
        if len(specs) > 1:
            names = [str(n) for n, _, _ in specs]
            raise InvalidParameterError(
                f"The model's signature declares {len(specs)} output columns {names}; the Spark result type "
                f"{rt.text} holds one. Use a struct result type with those fields, or an array type")
        name, kind, rank = specs[0]
        if rank == 1 and not _holds(kind, rt.type or "double"):
            fail("", kind)
        return
    if rt.kind == "array":
        if len(specs) == 1 and specs[0][2] == 1 and specs[0][1] is not None:
            raise InvalidParameterError(
                f"The model's signature declares one {specs[0][1]} value per row; the Spark result type "
                f"{rt.text} needs a list per row. Use result_type={suggest[specs[0][1]]!r}")
        for name, kind, _ in specs:
            if not _holds(kind, rt.type or "double"):
                fail(f" {name!r}" if name else "", kind)
        return
    named = {str(n): (k, r) for n, k, r in specs if n is not None}
    if not named:
        return
    missing = [n for n, _ in rt.fields if n not in named]
    if missing:
        raise InvalidParameterError(
            f"The model's signature declares output columns {sorted(named)}, but the Spark result type "
            f"{rt.text} needs fields {missing} that it does not have")
    for n, sub in rt.fields:
        kind, _ = named[n]
        if not _holds(kind, sub.type or "double"):
            raise InvalidParameterError(
                f"The model's signature declares output column {n!r} as {kind} values, which the struct field "
                f"{n}:{sub.text} of the Spark result type {rt.text} cannot hold")


# ------------------------------------------------------------------------------------------------
# shipping the model to the executors


_ARCHIVE_DIR: Path | None = None
_ARCHIVE_LOCK = threading.Lock()
_SHIPPED: set[tuple[str, str]] = set()


def _archive_dir() -> Path:
    global _ARCHIVE_DIR
    if _ARCHIVE_DIR is None:
        _ARCHIVE_DIR = Path(tempfile.mkdtemp(prefix="tureen-spark-"))
        atexit.register(shutil.rmtree, str(_ARCHIVE_DIR), True)
    return _ARCHIVE_DIR


def _model_fingerprint(root: Path) -> tuple[dict[str, str], str, str]:
    """(file digests, sha256 of MLmodel, a short id of the whole model's content)."""
    from tureen.flavors._base import file_digests
    from tureen.flavors._integrity import sha256_file
    from tureen.models.mlmodel import MLMODEL_FILE_NAME

    digests = file_digests(root)
    mlmodel_sha = sha256_file(root / MLMODEL_FILE_NAME)
    blob = json.dumps({"files": digests, "MLmodel": mlmodel_sha}, sort_keys=True).encode()
    return digests, mlmodel_sha, hashlib.sha256(blob).hexdigest()[:24]


def _write_archive(root: Path, model_id: str) -> Path:
    with _ARCHIVE_LOCK:
        path = _archive_dir() / f"tureen-model-{model_id}.tar"
        if path.exists():
            return path
        tmp = path.with_suffix(".tar.partial")

        def refuse_links(info: tarfile.TarInfo) -> tarfile.TarInfo:
            # the driver already refused symlinks when it verified the model; this is the last line: a link
            # is never followed into the archive (it could point at any file of the driver's machine)
            if not (info.isfile() or info.isdir()):
                from tureen.exceptions import ModelPathError

                raise ModelPathError(f"The model directory {str(root)!r} holds {info.name!r}, which is not a "
                                     "regular file or directory (a symlink?); it is refused, not shipped")
            return info

        # uncompressed: model files are mostly already compressed, and executors unpack it once. Every file
        # is shipped (caches too: the recorded digests cover them, and executors check those digests)
        try:
            with tarfile.open(tmp, "w", dereference=False) as tar:
                tar.add(str(root), arcname=_MODEL_DIR_IN_ARCHIVE, filter=refuse_links)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        return path


def _ship(spark: Any, root: Path, model_id: str) -> str:
    """Add the model's tarball to the job; return the archive name executors look it up by."""
    path = _write_archive(root, model_id)
    sc = spark.sparkContext
    key = (str(sc.applicationId), model_id)
    with _ARCHIVE_LOCK:
        if key not in _SHIPPED:
            sc.addArchive(str(path))
            _SHIPPED.add(key)
    return path.name


# ------------------------------------------------------------------------------------------------
# the executor side


@dataclass(frozen=True)
class _UdfConfig:
    """Everything a Python worker needs; small and picklable (the functions are found by import)."""

    archive_name: str
    model_id: str
    digests: dict[str, str]
    mlmodel_sha: str
    allow_pickle: bool
    params: dict[str, Any] | None
    result: _ResultType
    input_names: tuple[str, ...] | None   # a signature with column names
    positional: bool                      # a signature without column names
    loads: Any = field(default=None, compare=False)  # Spark accumulator: {"host:pid": loads}
    model_config: dict[str, Any] | None = None


_WORKER_MODELS: dict[tuple[str, bool, str], Any] = {}
_WORKER_LOCK = threading.Lock()
#: how many times this process loaded a model (for tests and the benchmark)
WORKER_LOAD_COUNT = 0


def _local_model_dir(cfg: _UdfConfig) -> Path:
    from pyspark import SparkFiles

    base = Path(SparkFiles.get(cfg.archive_name))
    root = base / _MODEL_DIR_IN_ARCHIVE
    if not (root / "MLmodel").is_file():
        raise ModelFormatError(f"The model archive {cfg.archive_name} was not unpacked on this executor "
                               f"(looked in {str(base)!r})")
    return root


def _verify_shipped(root: Path, cfg: _UdfConfig) -> None:
    """The unpacked model must equal what the driver read: recorded digests, then the driver's own."""
    from tureen.flavors._base import file_digests, verify_model_dir
    from tureen.flavors._integrity import sha256_file

    problems = []
    if sha256_file(root / "MLmodel") != cfg.mlmodel_sha:
        problems.append("MLmodel: differs from the driver's copy")
    # a tureen model: the digests recorded at save time (the driver checked them too) cover every file;
    # a model saved by another tool has none, so compare with the digests the driver took
    if not problems and not verify_model_dir(root, warn=False):
        here = file_digests(root)
        for rel in sorted(set(cfg.digests) | set(here)):
            if rel not in here:
                problems.append(f"{rel}: missing")
            elif rel not in cfg.digests:
                problems.append(f"{rel}: not part of the driver's model")
            elif here[rel] != cfg.digests[rel]:
                problems.append(f"{rel}: content differs from the driver's copy")
    if problems:
        raise ModelIntegrityError(f"The model shipped to executor {socket.gethostname()} failed its integrity "
                                  "check: " + "; ".join(problems))


def _worker_model(cfg: _UdfConfig) -> Any:
    """The model for ``cfg``, loaded at most once per Python worker process."""
    global WORKER_LOAD_COUNT
    key = (cfg.model_id, cfg.allow_pickle, json.dumps(cfg.model_config, sort_keys=True, default=str))
    model = _WORKER_MODELS.get(key)
    if model is not None:
        return model
    with _WORKER_LOCK:
        model = _WORKER_MODELS.get(key)
        if model is None:
            from tureen.pyfunc._loader import load_model

            root = _local_model_dir(cfg)
            _verify_shipped(root, cfg)
            model = load_model(root, allow_pickle=cfg.allow_pickle, verify=False, model_config=cfg.model_config)
            _WORKER_MODELS[key] = model
            WORKER_LOAD_COUNT += 1
            if cfg.loads is not None:
                cfg.loads.add({f"{socket.gethostname()}:{os.getpid()}": 1})
    return model


def _model_input(batch: Any, cfg: _UdfConfig) -> Any:
    """The struct of the UDF's columns (a DataFrame) -> the model's input."""
    import pandas as pd

    if batch.shape[1] == 1:
        # predict(struct(...)) arrives as one column of dicts: use the inner struct's fields as the columns
        name = batch.columns[0]
        col = batch.iloc[:, 0]
        first = next((v for v in col.tolist() if v is not None), None)
        if isinstance(first, dict) and not (cfg.input_names and name in cfg.input_names):
            batch = pd.DataFrame.from_records([v if v is not None else {} for v in col.tolist()],
                                              index=batch.index)
    if cfg.positional:
        batch = batch.set_axis(range(batch.shape[1]), axis=1)
    return batch


def _partition() -> str:
    try:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        if ctx is not None:
            return f"Spark partition {ctx.partitionId()}"
    except Exception:  # noqa: BLE001 - only for the message
        pass
    return "Spark task"


def _score_batches(cfg: _UdfConfig, batches: Iterator[Any]) -> Iterator[Any]:
    """The body of the pandas UDF: load once, then predict and convert batch by batch."""
    try:
        model = _worker_model(cfg)
    except TureenError as exc:
        exc.message = f"{exc.message} [{_partition()}]"
        exc.args = (exc.message,)
        raise
    for batch in batches:
        data = _model_input(batch, cfg)
        try:
            output = model.predict(data, params=cfg.params)
        except TureenError as exc:
            # keep the model's own class and text (e.g. the schema error), and say where it happened
            exc.message = f"{exc.message} [{_partition()}]"
            exc.args = (exc.message,)
            raise
        except Exception as exc:  # noqa: BLE001 - the model itself failed
            raise ModelPredictionError(f"The model raised {type(exc).__name__}: {exc} [{_partition()}]") from exc
        try:
            yield _to_result(output, cfg.result, len(batch))
        except TureenError as exc:
            exc.message = f"{exc.message} [{_partition()}]"
            exc.args = (exc.message,)
            raise


# ------------------------------------------------------------------------------------------------
# the driver side


class _DictCounter:
    """A Spark AccumulatorParam (duck-typed, so pyspark stays optional) merging ``{key: count}`` dicts."""

    def zero(self, value: Any) -> dict[str, int]:
        return {}

    def addInPlace(self, a: dict[str, int], b: dict[str, int]) -> dict[str, int]:  # noqa: N802 - Spark's name
        for k, v in b.items():
            a[k] = a.get(k, 0) + v
        return a


def _load_counter(sc: Any) -> Any:
    return sc.accumulator({}, _DictCounter())


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class SparkModelUDF:
    """A model as a Spark column function; returned by :func:`spark_udf`.

    Call it with column names or Columns (``predict("a", "b")``, ``predict(F.col("a"), df.b)``), with one
    struct (``predict(F.struct(...))``), or with nothing (the signature's columns; all columns for a
    model without column names).

    Example:
        >>> predict = spark_udf(spark, "churn_model")  # doctest: +SKIP
        >>> df.withColumn("churn", predict("tenure", "plan"))  # doctest: +SKIP
    """

    def __init__(self, udf: Any, cfg: _UdfConfig, model_path: Path, input_schema: Any,
                 result_type: Any) -> None:
        self._udf = udf
        self._cfg = cfg
        self.model_path = model_path
        self.result_type = result_type
        self._input_schema = input_schema

    @property
    def load_counts(self) -> dict[str, int]:
        """Model loads per Python worker (``"host:pid" -> loads``), as reported by finished tasks.

        Spark reports these when a task ends normally (not after ``limit``/``show`` stopped it early).
        """
        return dict(self._cfg.loads.value) if self._cfg.loads is not None else {}

    def _check_names(self, names: list[str]) -> None:
        """Column names known on the driver are checked against the signature before any job runs."""
        schema = self._input_schema
        if schema is None:
            return
        if self._cfg.input_names is not None:
            declared = list(self._cfg.input_names)
            missing = [n for n in schema.required_input_names() if n not in names]
            extra = [n for n in names if n not in declared]
            problems = []
            if missing:
                problems.append(f"missing inputs {missing}")
            if extra:
                problems.append(f"extra inputs {extra} (the signature declares {declared})")
            if problems:
                raise SchemaEnforcementError("The columns passed to the model do not match its signature: "
                                             + "; ".join(problems), problems)
        else:
            want = len(schema.inputs)
            if schema.is_tensor_spec():
                shape = schema.inputs[0].shape
                # several scalar columns make the rows of one 2-D tensor; one column may hold whole arrays
                want = shape[1] if len(schema.inputs) == 1 and len(shape) == 2 and len(names) > 1 else -1
            if want != -1 and len(names) != want:
                msg = f"the model takes {want} unnamed columns, got {len(names)}"
                raise SchemaEnforcementError(f"The columns passed to the model do not match its signature: "
                                             f"{msg}", [msg])

    def __call__(self, *cols: Any) -> Any:
        from pyspark.sql import functions as F

        if len(cols) == 1 and isinstance(cols[0], (list, tuple)):
            cols = tuple(cols[0])
        if not cols:
            if self._cfg.input_names is not None:
                return self._udf(F.struct(*[F.col(_quote(n)) for n in self._cfg.input_names]))
            return self._udf(F.struct(F.col("*")))
        if all(isinstance(c, str) for c in cols):
            self._check_names([str(c) for c in cols])
        exprs = [F.col(c) if isinstance(c, str) else c for c in cols]
        return self._udf(F.struct(*exprs))

    def __repr__(self) -> str:
        return f"SparkModelUDF(model={str(self.model_path)!r}, result_type={self._cfg.result.text!r})"


def _require_pyspark(purpose: str) -> Any:
    from tureen._optional import import_optional
    from tureen.exceptions import MissingDependencyError

    try:
        pyspark = import_optional("pyspark", purpose)
        import_optional("pyarrow", purpose)
    except MissingDependencyError as exc:
        raise MissingDependencyError(f"{exc.message}. Spark also needs a Java 17 runtime (a JDK 17, e.g. "
                                     "apt-get install openjdk-17-jre-headless, with JAVA_HOME set)") from exc
    return pyspark


def spark_udf(spark: Any, model_uri: str | os.PathLike[str], result_type: Any = "double",
              env_manager: str = "local", params: dict[str, Any] | None = None, *,
              allow_pickle: bool | None = None, model_config: dict[str, Any] | None = None,
              verified_only: bool | None = None) -> SparkModelUDF:
    """A Spark column function that scores rows with any pyfunc model.

    Args:
        spark: the (classic) SparkSession the DataFrames belong to.
        model_uri: a path or URI (``file://``, ``runs:/``, ``models:/``); resolved here, on the driver.
        result_type: a Spark type or type string: a scalar (``"double"``, ``"long"``, ``"string"``, ...),
            ``"array<double>"``, or ``"struct<label:string,score:double>"`` for a model returning several
            columns.
        env_manager: only ``"local"``: executors use their own Python with the model's packages installed.
        params: inference params passed to every ``predict`` call (checked against the signature here).
        allow_pickle: allow pickle-based models; decided here on the driver (default:
            ``TUREEN_ALLOW_PICKLE``, which defaults to true).
        model_config: overrides for the model's ``config`` section.
        verified_only: refuse a model without digests (default ``TUREEN_VERIFIED_ONLY``); decided here, on
            the driver, before anything is shipped to the executors.

    Returns:
        A :class:`SparkModelUDF`; call it with columns to get a Column.

    Raises:
        ResourceNotFoundError: nothing at ``model_uri``, or the model has no python_function flavor.
        InvalidParameterError: a bad ``result_type`` (or one the model's declared output cannot be
            converted to), ``env_manager`` or ``params``.
        MissingDependencyError: pyspark or pyarrow is not installed.

    Example:
        >>> predict = spark_udf(spark, "models:/churn/Production", result_type="double")  # doctest: +SKIP
        >>> scored = df.withColumn("churn", predict("tenure", "plan"))  # doctest: +SKIP
    """
    from tureen.flavors._base import pickle_allowed, verify_model_dir
    from tureen.models.mlmodel import Model
    from tureen.uri import resolve_model_uri

    if env_manager not in ("local", None):
        raise InvalidParameterError(
            f"env_manager={env_manager!r} is not supported by tureen's spark_udf; use env_manager='local' and "
            "install the model's requirements (its requirements.txt) in the executors' Python")
    root = resolve_model_uri(model_uri)
    meta = Model.load(root)
    verify_model_dir(root, meta, verified_only=verified_only)
    if PYFUNC not in meta.flavors:
        raise ResourceNotFoundError(f"The model at {str(model_uri)!r} has no python_function flavor (it has "
                                    f"{', '.join(sorted(meta.flavors))}), so it cannot score Spark rows")
    if (meta.metadata or {}).get("mlflow.model.isExternal") is True:
        from tureen.exceptions import BadRequestError

        raise BadRequestError("This model is external (metadata mlflow.model.isExternal) and cannot be loaded")
    _require_pyspark("scoring on Spark (spark_udf)")
    if spark is None or not hasattr(spark, "createDataFrame"):
        raise InvalidParameterError(f"spark_udf needs a SparkSession as its first argument, got {spark!r}")
    if type(spark).__module__.startswith("pyspark.sql.connect") or getattr(spark, "_sc", None) is None:
        raise InvalidParameterError("spark_udf needs a classic SparkSession; Spark Connect sessions are not "
                                    "supported yet (the model is shipped with SparkContext.addArchive)")
    spark_type, rt = _parse_result_type(result_type)

    sig = meta.signature
    input_schema = sig.inputs if sig is not None and not meta.is_signature_from_type_hint else None
    if sig is not None:
        _check_against_output_schema(sig.outputs, rt)
    if params:
        from tureen.models.enforce import enforce_params

        enforce_params(params, sig.params if sig is not None else None)
    input_names = None
    positional = False
    if input_schema is not None:
        if input_schema.has_input_names():
            input_names = tuple(str(n) for n in input_schema.input_names())
        else:
            positional = True

    digests, mlmodel_sha, model_id = _model_fingerprint(root)
    archive = _ship(spark, root, model_id)
    cfg = _UdfConfig(archive_name=archive, model_id=model_id, digests=digests, mlmodel_sha=mlmodel_sha,
                     allow_pickle=pickle_allowed(allow_pickle), params=dict(params) if params else None,
                     result=rt, input_names=input_names, positional=positional,
                     loads=_load_counter(spark.sparkContext), model_config=model_config)

    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.Series]:
        return _score_batches(cfg, batches)

    # real objects, not strings: pyspark reads these hints to pick the iterator form of the pandas UDF
    predict.__annotations__ = {"batches": Iterator[pd.DataFrame], "return": Iterator[pd.Series]}
    udf = pandas_udf(predict, returnType=spark_type)  # type: ignore[call-overload]
    return SparkModelUDF(udf, cfg, root, input_schema, spark_type)


# ------------------------------------------------------------------------------------------------
# turning a failed Spark job back into the model's error (used by ``tureen predict --spark``)


_ERROR_LINE = re.compile(r"^tureen\.exceptions\.(\w+): (.+)$", re.MULTILINE)


def error_from_spark(exc: BaseException) -> TureenError | None:
    """The TureenError a Python worker raised, rebuilt from a failed job's exception text (or None).

    Example:
        >>> error_from_spark(RuntimeError("...\\ntureen.exceptions.SchemaEnforcementError: bad"))
        SchemaEnforcementError('bad')
    """
    import tureen.exceptions as errors

    matches = _ERROR_LINE.findall(str(exc))
    if not matches:
        return None
    name, message = matches[-1]
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, TureenError)):
        cls = TureenError
    return cls(message.strip())
