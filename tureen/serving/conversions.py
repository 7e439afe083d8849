"""Strict conversion of wire values (JSON numbers, strings, nested lists) to a schema's numpy types.

JSON has one number type, so a JSON number may become any numeric column type as long as no information is
lost: ``3`` fits an ``integer`` column, ``3.0`` a ``long`` column, but ``1.7`` never becomes ``1`` (MLflow
truncates it; we answer 400), ``"1.5"`` never becomes a number and ``true`` never becomes ``1.0``. A
:class:`Conv` collects every problem of one request, so that one error lists them all. Both wire codecs
(:mod:`tureen.serving.scoring_codec`, :mod:`tureen.serving.v2_codec`) convert through it.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from tureen.exceptions import SchemaEnforcementError

__all__ = ["Conv"]

_EXACT_DOUBLE = 2 ** 53
_EXACT_FLOAT = 2 ** 24


class Conv:
    """Converts wire values to a schema's types, collecting every problem of one request."""

    def __init__(self, may_have_bools: bool) -> None:
        self.problems: list[str] = []
        self.may_have_bools = may_have_bools

    def fail(self, label: str, detail: str) -> None:
        self.problems.append(f"{label}: {detail}")

    def raise_if_any(self) -> None:
        if self.problems:
            shown = "; ".join(self.problems[:50])
            more = f" (and {len(self.problems) - 50} more)" if len(self.problems) > 50 else ""
            raise SchemaEnforcementError(f"Input does not match the model signature: {shown}{more}",
                                         self.problems)

    # -- numbers ---------------------------------------------------------------------------------
    def numeric(self, arr: Any, target: Any, label: str, values: Any = None, required: bool = False) -> Any:
        """Convert ``arr`` (a numpy array built from wire values) to numeric ``target`` without loss."""
        import numpy as np

        kind = arr.dtype.kind
        tkind = target.kind
        if kind == "O":
            arr = self._object_to_numeric(arr, target, label, required)
            if arr is None:
                return None
            kind = arr.dtype.kind
        if kind in "US":
            self.fail(label, f"expected {_tname(target)} values, got strings (strings are never read as numbers)")
            return None
        if kind == "b":
            if tkind == "b":
                return arr
            self.fail(label, f"expected {_tname(target)} values, got booleans")
            return None
        if tkind == "b":
            self.fail(label, f"expected booleans, got {_tname(arr.dtype)} values")
            return None
        if kind not in "iuf":
            self.fail(label, f"cannot read {arr.dtype} values as {_tname(target)}")
            return None
        if self.may_have_bools and values is not None and _contains_bool(values):
            self.fail(label, f"expected {_tname(target)} values, got booleans")
            return None
        if arr.dtype == target:
            return arr
        if tkind in "iu":
            if kind == "f":
                if arr.size and not (np.isfinite(arr).all() and (np.mod(arr, 1) == 0).all()):
                    bad = _first(arr[~(np.isfinite(arr) & (np.mod(np.nan_to_num(arr), 1) == 0))])
                    self.fail(label, f"{bad!r} is not a whole number; floats are never truncated into "
                                     f"{_tname(target)} values")
                    return None
            if arr.size:
                info = np.iinfo(target)
                lo, hi = arr.min(), arr.max()
                if lo < info.min or hi > info.max:
                    self.fail(label, f"values {_first(lo)}..{_first(hi)} do not fit {_tname(target)} "
                                     f"({info.min}..{info.max})")
                    return None
            return arr.astype(target)
        # float targets
        if kind in "iu" and arr.size:
            limit = _EXACT_DOUBLE if target.itemsize >= 8 else _EXACT_FLOAT
            if np.abs(arr).max() > limit:
                self.fail(label, f"integers beyond +-{limit} cannot be represented exactly as {_tname(target)}")
                return None
        if kind == "f" and target.itemsize < arr.dtype.itemsize and arr.size:
            finfo = np.finfo(target)
            finite = arr[np.isfinite(arr)]
            if finite.size and np.abs(finite).max() > finfo.max:
                self.fail(label, f"values beyond +-{float(finfo.max):.3g} overflow {_tname(target)}")
                return None
        return arr.astype(target)

    def _object_to_numeric(self, arr: Any, target: Any, label: str, required: bool) -> Any:
        import numpy as np

        flat = arr.ravel().tolist()
        kinds = {type(v) for v in flat}
        if kinds <= {bool}:
            return np.asarray(flat, dtype=bool).reshape(arr.shape)
        if any(issubclass(k, (list, dict, tuple)) for k in kinds):
            self.fail(label, "nested lists of unequal lengths (a ragged array)")
            return None
        if str in kinds:
            self.fail(label, f"expected {_tname(target)} values, got strings (strings are never read as numbers)")
            return None
        if bool in kinds and kinds - {bool, type(None)}:
            self.fail(label, f"expected {_tname(target)} values, got booleans")
            return None
        if type(None) in kinds:
            if required:
                self.fail(label, "missing values (null) in a required column")
                return None
            if target.kind != "f":
                self.fail(label, f"missing values (null) cannot be read as {_tname(target)}; declare the "
                                 "column as double or fill the missing values")
                return None
            return np.asarray([math.nan if v is None else v for v in flat], dtype=np.float64).reshape(arr.shape)
        try:
            out = np.asarray(flat).reshape(arr.shape)
            if out.dtype.kind == "O" and kinds <= {int}:
                big = max(flat, key=abs)
                self.fail(label, f"values such as {big} do not fit {_tname(target)} (beyond 64 bits)")
                return None
            return out
        except (ValueError, TypeError, OverflowError) as exc:
            self.fail(label, f"cannot read the values as {_tname(target)}: {exc}")
            return None

    # -- one column or tensor ----------------------------------------------------------------------
    def column(self, values: Any, spec: Any, label: str) -> Any:
        """Convert the wire values of one column (ColSpec) or tensor (TensorSpec) to its type."""
        import numpy as np

        from tureen.models.signature import ColSpec, DataType

        if isinstance(spec, ColSpec):
            t = spec.type
            if not isinstance(t, DataType):
                return values  # array / object / map / any: checked cell by cell by enforce_schema
            if t in (DataType.string, DataType.binary, DataType.datetime):
                return self._textual(values, t, label, scalar=not isinstance(values, list))
            target = t.to_numpy()
        else:
            target = spec.dtype
            if target.kind in "OUS":
                return _as_array(values, object)
        scalar = not isinstance(values, (list, tuple))
        arr = _as_array(values)
        if arr is None:
            self.fail(label, "nested lists of unequal lengths (a ragged array)")
            return None
        out = self.numeric(arr, target, label, values, required=isinstance(spec, ColSpec) and spec.required)
        if out is not None and scalar and isinstance(spec, ColSpec):
            return out.reshape(1)[0]
        return out

    def _textual(self, values: Any, t: Any, label: str, scalar: bool) -> Any:
        import numpy as np

        from tureen.models.signature import DataType

        items = [values] if scalar else values
        if t is DataType.string:
            wrong = {type(v).__name__ for v in items if v is not None and not isinstance(v, str)}
            if wrong:
                self.fail(label, f"expected strings, got {', '.join(sorted(wrong))}")
                return None
            return values if scalar else np.asarray(items, dtype=object)
        if t is DataType.binary:
            out = []
            for v in items:
                if v is None or isinstance(v, (bytes, bytearray)):
                    out.append(v)
                    continue
                if not isinstance(v, str):
                    self.fail(label, f"binary values are base64 strings, got {type(v).__name__}")
                    return None
                try:
                    out.append(base64.b64decode(v.encode("ascii"), validate=False))
                except (binascii.Error, UnicodeEncodeError, ValueError):
                    self.fail(label, "binary values must be base64-encoded strings")
                    return None
            return out[0] if scalar else np.asarray(out, dtype=object)
        # datetime
        try:
            arr = np.asarray(items, dtype="datetime64[ns]")
        except (ValueError, TypeError) as exc:
            self.fail(label, f"expected ISO-8601 datetimes: {exc}")
            return None
        return arr[0] if scalar else arr


def _tname(dtype: Any) -> str:
    names = {"int32": "integer", "int64": "long", "float32": "float", "float64": "double", "bool": "boolean"}
    return names.get(str(dtype), str(dtype))


def _first(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else None
    return value.item() if hasattr(value, "item") else value


def _contains_bool(values: Any) -> bool:
    if isinstance(values, bool):
        return True
    if isinstance(values, (list, tuple)):
        for v in values:
            if v is True or v is False or (isinstance(v, (list, tuple)) and _contains_bool(v)):
                return True
    return False


def _as_array(values: Any, dtype: Any = None) -> Any:
    import numpy as np

    try:
        return np.asarray(values, dtype=dtype)
    except (ValueError, TypeError, OverflowError):
        try:  # a ragged nest or mixed values: keep it as objects
            if isinstance(values, (list, tuple)):
                out = np.empty(len(values), dtype=object)
                out[:] = list(values)
                return out
        except (ValueError, TypeError):
            pass
        return None
