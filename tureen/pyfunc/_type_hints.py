"""Type-hinted ``predict`` functions: MLflow 3's semantics for ``python_model`` inputs declared as ``list[...]``.

When the model input of ``predict`` (the first argument of a plain function, the one after ``context`` of a
:class:`~tureen.pyfunc.PythonModel`) is hinted ``list[X]``:

* saving infers the signature from the hints (input: one unnamed column of ``X``; output: from the return
  hint, else ``any``) and records ``is_signature_from_type_hint: true``, so the schema is not enforced at
  predict time;
* predicting converts the input to what the hint says (a DataFrame's first column becomes a list; its rows
  become dicts for ``list[dict[...]]``) and checks every element against ``X`` (``float`` is not ``int``: a
  wrong type is an error naming the elements, never a silent conversion).

Other hints (``pd.DataFrame``, none at all, ``str``) change nothing. Supported element types: ``int``,
``float``, ``str``, ``bool``, ``bytes``, ``datetime``, ``list[...]``, ``dict[str, ...]``, ``Optional[...]``
and ``Any``. Pydantic models are not supported (MLflow accepts them): such a hint is left alone.
"""

from __future__ import annotations

import inspect
import types
import typing
from datetime import datetime
from typing import Any, Callable, Union, get_args, get_origin

from tureen.exceptions import InvalidParameterError

__all__ = ["input_hint", "output_hint", "signature_from_hints", "convert_input"]

_UNIONS = (Union, types.UnionType)
_NONE = type(None)


def _datatypes() -> dict[Any, str]:
    return {int: "long", str: "string", bool: "boolean", float: "double", bytes: "binary", datetime: "datetime"}


def _hints(func: Callable[..., Any]) -> tuple[list[str], dict[str, Any]]:
    if not hasattr(func, "__annotations__") and callable(getattr(func, "__call__", None)):
        func = func.__call__  # type: ignore[operator]
    try:
        params = [n for n in inspect.signature(func).parameters if n != "self"]
    except (TypeError, ValueError):
        return [], {}
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - unresolvable forward references: no hints, as MLflow
        hints = {}
    return params, hints


def _input_index(params: list[str]) -> int:
    """1 when predict takes a context first (``context`` named, or two inputs besides ``params``)."""
    return 1 if "context" in params or len([p for p in params if p != "params"]) == 2 else 0


def _is_list(hint: Any) -> bool:
    return hint is list or get_origin(hint) is list


def input_hint(func: Callable[..., Any]) -> Any:
    """The ``list[...]`` hint of ``func``'s model input, or None (no hint, or one MLflow does not act on)."""
    params, hints = _hints(func)
    if not params:
        return None
    index = _input_index(params) if len(params) > 1 else 0
    if index >= len(params):
        return None
    hint = hints.get(params[index])
    if hint is None or not _is_list(hint):
        return None
    _element(hint)  # a bare ``list`` or ``list[a, b]`` is an error, as in MLflow
    try:
        _coltype(_element(hint))
    except _Unsupported:
        return None
    return hint


def output_hint(func: Callable[..., Any]) -> Any:
    return _hints(func)[1].get("return")


class _Unsupported(Exception):
    pass


def _element(hint: Any) -> Any:
    args = get_args(hint)
    if not args:
        raise InvalidParameterError(f"Type hint {hint!r} has no element type: write e.g. list[str], not list")
    if len(args) > 1:
        raise InvalidParameterError(f"Type hint {hint!r} has {len(args)} element types: a list has one")
    if _NONE in get_args(args[0]) and get_origin(args[0]) in _UNIONS:
        raise InvalidParameterError("The model input cannot be a list of Optional values (an unnamed optional "
                                    "column is not a schema)")
    return args[0]


def _coltype(hint: Any) -> tuple[Any, bool]:
    """(schema column type, required) for an element hint."""
    from tureen.models.signature import AnyType, Array, DataType, Map

    if hint is Any:
        return AnyType(), True
    name = _datatypes().get(hint)
    if name is not None:
        return DataType(name), True
    origin = get_origin(hint)
    args = get_args(hint)
    if origin is list and len(args) == 1:
        return Array(_coltype(args[0])[0]), True
    if origin is dict and len(args) == 2:
        if args[0] is not str:
            raise InvalidParameterError(f"Dictionary key type must be str, got {args[0]!r} in {hint!r}")
        return Map(_coltype(args[1])[0]), True
    if origin in _UNIONS:
        rest = [a for a in args if a is not _NONE]
        if len(rest) == 1 and len(args) == 2:
            return _coltype(rest[0])[0], False
        return AnyType(), _NONE not in args
    raise _Unsupported(f"type hint {hint!r}")


def signature_from_hints(func: Callable[..., Any]) -> Any:
    """The :class:`~tureen.models.signature.ModelSignature` MLflow infers from ``func``'s hints, or None."""
    from tureen.models.signature import AnyType, ColSpec, ModelSignature, Schema

    hint = input_hint(func)
    if hint is None:
        return None
    dtype, _ = _coltype(_element(hint))
    inputs = Schema([ColSpec(dtype)])
    out = output_hint(func)
    outputs = Schema([ColSpec(AnyType())])
    if out is not None:
        try:
            out_dtype, required = _coltype(_element(out) if _is_list(out) else out)
            if required:
                outputs = Schema([ColSpec(out_dtype)])
        except (_Unsupported, InvalidParameterError):
            pass
    return ModelSignature(inputs, outputs)


def _sanitize(data: Any) -> Any:
    import numpy as np

    if isinstance(data, np.ndarray):
        data = data.tolist()
    if isinstance(data, list):
        return [_sanitize(x) for x in data]
    if isinstance(data, dict):
        return {k: _sanitize(v) for k, v in data.items()}
    if isinstance(data, float) and data != data:
        return None
    if isinstance(data, np.generic):
        return data.item()
    return data


def convert_input(data: Any, hint: Any) -> Any:
    """``data`` as the ``list[...]`` hint says, checked element by element.

    Raises:
        InvalidParameterError: not a list (after converting a DataFrame), or elements of the wrong type
            (the first five are named).

    Example:
        >>> convert_input([1.0, 2.0], list[float])
        [1.0, 2.0]
    """
    if type(data).__name__ == "DataFrame" and type(data).__module__.startswith("pandas"):
        element = _element(hint)
        if element is dict or get_origin(element) is dict:
            data = data.iloc[:, 0].tolist() if list(data.columns) == [0] else data.to_dict(orient="records")
        else:
            data = data.iloc[:, 0].tolist()
        data = _sanitize(data)
    return _check(data, hint)


def _name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint)


def _check(data: Any, hint: Any) -> Any:
    if hint is Any:
        return data
    if hint in _datatypes():
        if isinstance(data, hint):
            return data
        raise InvalidParameterError(f"Expected type {_name(hint)}, but got {type(data).__name__}")
    origin = get_origin(hint)
    args = get_args(hint)
    if origin is list:
        if not isinstance(data, list):
            raise InvalidParameterError(f"Expected list, but got {type(data).__name__}")
        bad = []
        out = []
        for item in data:
            try:
                out.append(_check(item, args[0]))
            except InvalidParameterError as exc:
                bad.append((str(item), exc.message))
        if bad:
            more = " ... (truncated)" if len(bad) > 5 else ""
            raise InvalidParameterError(f"Failed to validate data against type hint `list[{_name(args[0])}]`, "
                                        f"invalid elements: {bad[:5]}{more}")
        return out
    if origin is dict:
        if not isinstance(data, dict):
            raise InvalidParameterError(f"Expected dict, but got {type(data).__name__}")
        bad_items = {}
        result = {}
        for key, value in data.items():
            if not isinstance(key, str):
                bad_items[str(key)] = f"Key must be a string, got {type(key).__name__}"
                continue
            try:
                result[key] = _check(value, args[1])
            except InvalidParameterError as exc:
                bad_items[key] = exc.message
        if bad_items:
            raise InvalidParameterError(f"Failed to validate data against type hint `dict[str, {_name(args[1])}]`, "
                                        f"invalid elements: {bad_items}")
        return result
    if origin in _UNIONS:
        rest = [a for a in args if a is not _NONE]
        if _NONE in args:
            if data is None:
                return None
            if len(rest) == 1:
                return _check(data, rest[0])
        return data
    return data
