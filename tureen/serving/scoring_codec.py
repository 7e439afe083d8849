"""MLflow's scoring protocol (``POST /invocations``): request bodies -> model input.

JSON bodies with exactly one of ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs`` (plus
``params``), the unified LLM form (``messages``, ``prompt`` or ``input`` at the top level), ``text/csv`` and
Parquet. Values meet the signature through :mod:`tureen.serving.conversions`; every bad field of a request is
listed in one error. Numeric payloads take a fast path that builds numpy arrays (one 2-D block for a table of
same-typed columns) without pandas' row-by-row inference. Answers are encoded by
:mod:`tureen.serving.responses`.
"""

from __future__ import annotations

import json
from typing import Any

from tureen.exceptions import BadRequestError, InvalidParameterError, UnsupportedMediaTypeError
from tureen.serving.conversions import _EXACT_DOUBLE, _EXACT_FLOAT, _as_array, _contains_bool, Conv

__all__ = ["ParsedRequest", "ScoringCodec", "CONTENT_TYPES", "SUPPORTED_FORMATS", "parse_content_type",
           "loads_json", "check_csv_shape", "check_csv_stream"]

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_CSV = "text/csv"
CONTENT_TYPE_PARQUET = "application/vnd.apache.parquet"
CONTENT_TYPES = [CONTENT_TYPE_CSV, CONTENT_TYPE_JSON, CONTENT_TYPE_PARQUET]

DF_SPLIT = "dataframe_split"
DF_RECORDS = "dataframe_records"
INSTANCES = "instances"
INPUTS = "inputs"
SUPPORTED_FORMATS = (DF_SPLIT, DF_RECORDS, INSTANCES, INPUTS)
LLM_KEYS = ("messages", "prompt", "input")

_FORMATS_TEXT = "{" + ", ".join(repr(k) for k in sorted(SUPPORTED_FORMATS)) + "}"
_REQUIRED_FORMAT = f"The input must be a JSON dictionary with exactly one of the input fields {_FORMATS_TEXT}"
_PROTOCOL_CHANGE = ("IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0: "
                    "wrap the data in one of the input fields (see the serving guide).")


class ParsedRequest:
    """The model input, its params, whether the answer is unwrapped (unified LLM form), and ``block``: the
    2-D array behind ``data`` when ``data`` is a one-dtype table of the signature's columns in order (already
    checked against the signature), else None.

    ``columns``: for a table parsed column by column with the default index, the converted columns (name ->
    1-D numpy array, in order); ``data`` is then the DataFrame of them, built on first use. The micro-batcher
    merges such requests by concatenating their columns, without building one DataFrame per request.
    """

    __slots__ = ("_data", "params", "unwrap", "block", "columns")

    def __init__(self, data: Any, params: dict[str, Any] | None, unwrap: bool = False, block: Any = None,
                 columns: dict[Any, Any] | None = None) -> None:
        self._data = data
        self.params = params
        self.unwrap = unwrap
        self.block = block
        self.columns = columns

    @property
    def data(self) -> Any:
        if self._data is None and self.columns is not None:
            self._data = frame_of_columns(self.columns)
        return self._data

    def __repr__(self) -> str:
        return f"ParsedRequest(data={self.data!r}, params={self.params!r}, unwrap={self.unwrap!r})"


class _LazyFrame:
    """What :meth:`ScoringCodec._frame` returns for a default index: converted columns, not yet a DataFrame."""

    __slots__ = ("columns",)

    def __init__(self, columns: dict[Any, Any]) -> None:
        self.columns = columns


def frame_of_columns(columns: dict[Any, Any]) -> Any:
    """The DataFrame of converted columns (name -> values), in order, with the default index."""
    import pandas as pd

    try:
        if not columns:
            return pd.DataFrame()
        return pd.DataFrame({n: _series_values(v) for n, v in columns.items()})
    except Exception as exc:  # noqa: BLE001
        raise _bad(f"Provided dataframe field is not a valid dataframe representation. Error: {exc}") from None


def _bad(message: str) -> BadRequestError:
    return BadRequestError(f"Invalid input. {message}")


def parse_content_type(header: str | None) -> tuple[str, dict[str, str]]:
    """Split ``type/sub; k=v`` into the lower-cased media type and its parameters.

    Example:
        >>> parse_content_type("application/json; charset=UTF-8")
        ('application/json', {'charset': 'UTF-8'})
    """
    if not header:
        return "", {}
    parts = [p.strip() for p in header.split(";")]
    params = {}
    for pair in parts[1:]:
        if not pair:
            continue
        key, _, value = pair.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return parts[0].lower(), params


def _check_content_type(header: str | None) -> str:
    mime, params = parse_content_type(header)
    if not mime:
        raise UnsupportedMediaTypeError(
            f"The request has no Content-Type header. This predictor only supports the following content "
            f"types: {CONTENT_TYPES}. Send 'Content-Type: application/json' with a JSON body.")
    if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaTypeError("The scoring server only supports UTF-8 (got charset "
                                        f"{params['charset']!r})")
    unexpected = sorted(set(params) - {"charset"})
    if unexpected:
        raise UnsupportedMediaTypeError(f"Unrecognized content type parameters: {', '.join(unexpected)}. "
                                        + _PROTOCOL_CHANGE)
    if mime not in CONTENT_TYPES:
        raise UnsupportedMediaTypeError(f"This predictor only supports the following content types: "
                                        f"{CONTENT_TYPES}. Got {header!r}.")
    return mime


_ORJSON: Any = False  # the orjson module once looked up, or None when it is not installed


def _orjson() -> Any:
    global _ORJSON
    if _ORJSON is False:
        try:
            import orjson
        except ImportError:  # pragma: no cover - orjson is a dependency, but the stdlib path still works
            orjson = None
        _ORJSON = orjson
    return _ORJSON


def loads_json(body: bytes) -> Any:
    """Parse a JSON request body, or raise a 400 naming the problem (never echoing the whole body).

    orjson parses 5-7x faster than the standard library; what it refuses (``NaN`` and ``Infinity`` tokens,
    which MLflow's clients send, integers beyond 64 bits, invalid documents) goes to the standard library,
    which accepts the former and words the error for the rest.

    Example:
        >>> loads_json(b'{"inputs": [NaN]}')["inputs"][0] != 0
        True
    """
    fast = _orjson()
    if fast is not None and isinstance(body, (bytes, bytearray)):
        try:
            return fast.loads(body)
        except fast.JSONDecodeError:
            pass
    try:
        return json.loads(body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body)
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"Invalid input. Ensure that input is a valid JSON formatted string: the body "
                              f"is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise BadRequestError("Invalid input. Ensure that input is a valid JSON formatted string. "
                              f"Error: {exc}") from None
    except RecursionError:
        raise BadRequestError("Invalid input. The JSON document is nested too deeply") from None


class ScoringCodec:
    """Parses ``/invocations`` requests for one model (its schemas are read once).

    Example:
        >>> codec = ScoringCodec(None, None)
        >>> codec.parse(b'{"inputs": [[1, 2]]}', "application/json").data.tolist()
        [[1, 2]]
    """

    def __init__(self, input_schema: Any, params_schema: Any, *, type_hint_signature: bool = False,
                 max_body_bytes: int = 64 << 20) -> None:
        self.schema = input_schema
        #: the request-size limit; a Parquet body may decode to at most four times it
        self.max_body_bytes = int(max_body_bytes)
        self.params_schema = params_schema
        self.type_hint = type_hint_signature
        self.param_names = {p.name for p in params_schema.params} if params_schema is not None else set()
        self._specs: dict[Any, Any] = {}
        self._uniform: Any = None  # (names, dtype) when every column is a required number of one type
        if input_schema is not None and input_schema.has_input_names():
            self._specs = {s.name: s for s in input_schema.inputs}
            if not input_schema.is_tensor_spec():
                self._uniform = input_schema.uniform_numeric()
                if self._uniform is not None:
                    import pandas as pd

                    self._uniform_index = pd.Index(self._uniform[0])  # built once, shared by every request
                    import operator

                    self._pick_row = operator.itemgetter(*self._uniform[0])

    # -- entry point ------------------------------------------------------------------------------
    def parse(self, body: bytes, content_type: str | None) -> ParsedRequest:
        """Turn a request body into model input.

        Raises:
            UnsupportedMediaTypeError: 415 for a missing or unsupported Content-Type or charset.
            BadRequestError: 400 for a body that is not a valid scoring request.
            SchemaEnforcementError: 400 listing every value that does not fit the signature.
        """
        mime = _check_content_type(content_type)
        if mime == CONTENT_TYPE_JSON:
            return self.parse_json(body)
        data = self._parse_csv(body) if mime == CONTENT_TYPE_CSV else self._parse_parquet(body)
        return ParsedRequest(data, None, False, self._block_of(data))

    def _block_of(self, data: Any) -> Any:
        """The array behind a table the uniform fast path built (marked by its shared column index)."""
        if self._uniform is None or getattr(data, "columns", None) is not self._uniform_index:
            return None
        return data.to_numpy()

    def parse_json(self, body: bytes) -> ParsedRequest:
        doc = loads_json(body)
        if not isinstance(doc, dict):
            got = "a list" if isinstance(doc, list) else f"a JSON {type(doc).__name__}"
            raise _bad(f"{_REQUIRED_FORMAT}. Received {got}.")
        # a body without the tokens true/false cannot hold a boolean: skip the per-value scan for them
        conv = Conv(may_have_bools=(b"true" in body or b"false" in body))
        if any(k in doc for k in LLM_KEYS):
            data = {k: v for k, v in doc.items() if k not in self.param_names}
            params = {k: v for k, v in doc.items() if k in self.param_names}
            return ParsedRequest(data, params or None, True)
        params = doc.get("params")
        if params is not None and not isinstance(params, dict):
            raise InvalidParameterError(f"'params' must be a JSON object, got {type(params).__name__}")
        if self.type_hint:
            if INPUTS not in doc:
                raise InvalidParameterError("Request payload must be a dictionary with 'inputs' key when the model "
                                            f"contains a valid type hint. Found keys in payload: {sorted(doc)}.")
            return ParsedRequest(doc[INPUTS], params)
        present = [k for k in SUPPORTED_FORMATS if k in doc]
        if len(present) != 1:
            raise BadRequestError(f"{_REQUIRED_FORMAT}. Received dictionary with input fields: {list(doc)}. "
                                  + _PROTOCOL_CHANGE)
        key = present[0]
        value = doc[key]
        if key == DF_SPLIT:
            data = self._split(value, conv)
        elif key == DF_RECORDS:
            data = self._records(value, conv)
        elif key == INSTANCES:
            data = self._instances(value, conv)
        else:
            data = self._inputs(value, conv)
        conv.raise_if_any()
        if isinstance(data, _LazyFrame):
            return ParsedRequest(None, params, False, None, data.columns)
        return ParsedRequest(data, params, False, self._block_of(data))

    # -- dataframe_split --------------------------------------------------------------------------
    def _split(self, value: Any, conv: Conv) -> Any:
        if not isinstance(value, dict):
            got = "list" if isinstance(value, list) else f"type {type(value).__name__}"
            raise _bad(f"Dataframe split format must be a dictionary. Got {got}.")
        keys = set(value)
        if "data" not in keys or keys - {"columns", "data", "index"}:
            raise _bad("Dataframe split format must have 'data' field and optionally 'columns' and 'index' "
                       f"fields. Got {sorted(keys)}.")
        rows, columns, index = value["data"], value.get("columns"), value.get("index")
        if not isinstance(rows, list):
            raise _bad(f"dataframe_split 'data' must be a list of rows, got {type(rows).__name__}")
        if columns is not None and not isinstance(columns, list):
            raise _bad(f"dataframe_split 'columns' must be a list, got {type(columns).__name__}")
        if index is not None and not isinstance(index, list):
            raise _bad(f"dataframe_split 'index' must be a list, got {type(index).__name__}")
        if columns is not None and any(isinstance(c, (list, dict)) for c in columns):
            raise _bad("dataframe_split 'columns' must be a list of names")
        if index is not None and any(isinstance(i, (list, dict)) for i in index):
            raise _bad("dataframe_split 'index' must be a list of labels")
        if rows and all(isinstance(r, list) for r in rows):
            width = len(columns) if columns is not None else len(rows[0])
            for i, r in enumerate(rows):
                if len(r) != width:
                    raise _bad(f"Provided dataframe_split field is not a valid dataframe representation in "
                               f"'split' format: row {i} has {len(r)} values, expected {width}")
            if index is not None and len(index) != len(rows):
                raise _bad(f"Provided dataframe_split field is not a valid dataframe representation in 'split' "
                           f"format: {len(index)} index labels for {len(rows)} rows")
            if columns is not None and self._uniform is not None and index is None:
                fast = self._uniform_block(rows, columns, conv)
                if fast is not None:
                    return fast
            names = columns if columns is not None else list(range(width))
            cols = list(zip(*rows)) if rows else [() for _ in names]
            return self._frame(dict(zip(names, [list(c) for c in cols])), names, index, conv,
                               nrows=len(rows))
        # anything else (a list of scalars = one column, an empty frame, ...): pandas decides, as MLflow does
        import pandas as pd

        try:
            df = pd.DataFrame(index=index, columns=columns, data=rows)
        except Exception as exc:  # noqa: BLE001 - pandas raises many types for a bad shape
            raise _bad(f"Provided dataframe_split field is not a valid dataframe representation in 'split' "
                       f"format. Error: {exc}") from None
        return self._coerce_frame(df, conv)

    def _uniform_block(self, rows: list[Any], columns: list[Any], conv: Conv) -> Any:
        """The fast path: every column is a required number of one type and the names match in order."""
        import numpy as np
        import pandas as pd

        names, target = self._uniform
        if columns != names:
            return None
        try:
            arr = np.asarray(rows)
        except (ValueError, TypeError, OverflowError):
            return None
        if arr.ndim != 2 or arr.dtype.kind not in "iuf" or (conv.may_have_bools and _contains_bool(rows)):
            return None
        if arr.dtype.kind in "iu" and target.kind == "f" and arr.size and np.abs(arr).max() > (
                _EXACT_DOUBLE if target.itemsize >= 8 else _EXACT_FLOAT):
            return None
        if arr.dtype.kind == "f" and target.kind in "iu":
            return None  # let the per-column path decide (and name the column)
        if arr.dtype != target:
            arr = arr.astype(target)
        return pd.DataFrame(arr, columns=self._uniform_index, copy=False)

    def _frame(self, columns: dict[Any, list[Any]], names: list[Any], index: Any, conv: Conv,
               nrows: int) -> Any:
        """Build a DataFrame from column lists, converting the columns the schema names."""
        import pandas as pd

        out: dict[Any, Any] = {}
        for name in names:
            values = columns[name]
            spec = self._spec_for(name, len(names), names)
            if spec is not None:
                converted = conv.column(values, spec, f"column {name!r}")
                if converted is None:
                    continue
                out[name] = converted
            else:
                out[name] = values
        if conv.problems:
            return None
        try:
            if len(set(map(_hashable, names))) != len(names):
                raise ValueError(f"duplicate column names {names}")
            if not names:
                return pd.DataFrame(index=index if index is not None else range(nrows))
            if index is None and all(getattr(out[n], "ndim", 0) == 1 and len(out[n]) == nrows for n in names):
                return _LazyFrame({n: out[n] for n in names})
            df = pd.DataFrame({n: _series_values(out[n]) for n in names}, index=index)
        except Exception as exc:  # noqa: BLE001
            raise _bad(f"Provided dataframe field is not a valid dataframe representation. Error: {exc}") from None
        return df

    def _spec_for(self, name: Any, ncols: int, names: list[Any]) -> Any:
        schema = self.schema
        if schema is None:
            return None
        if schema.has_input_names():
            if schema.is_tensor_spec() and len(schema.inputs) == 1:
                return schema.inputs[0]
            return self._specs.get(name)
        # unnamed: by position
        pos = names.index(name)
        if schema.is_tensor_spec():
            return schema.inputs[0]
        return schema.inputs[pos] if pos < len(schema.inputs) else None

    def _coerce_frame(self, df: Any, conv: Conv) -> Any:
        """Convert the schema's columns of a DataFrame built by pandas (records, CSV, Parquet, odd splits)."""
        if df.columns.has_duplicates:
            dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
            raise _bad(f"The table has duplicate column names {dupes}")
        if self.schema is None or df.shape[1] == 0:
            return df
        names = list(df.columns)
        if self._uniform is not None and names == self._uniform[0]:
            target = self._uniform[1]
            if all(dt == target for dt in df.dtypes.tolist()):  # nothing to convert: one 2-D block
                import pandas as pd

                return pd.DataFrame(df.to_numpy(), columns=self._uniform_index, index=df.index, copy=False)
        changed = {}
        for name in names:
            spec = self._spec_for(name, len(names), names)
            if spec is None:
                continue
            col = df[name]
            if col.dtype.kind == "O" or str(col.dtype) == "str":
                values = col.tolist()
            else:
                values = col.to_numpy()
            new = self._convert_existing(values, spec, f"column {name!r}", conv)
            if new is not None and new is not values:
                changed[name] = new
        if conv.problems:
            return None
        if changed:
            df = df.copy()
            for name, values in changed.items():
                df[name] = _series_values(values)
        if self._uniform is not None and names == self._uniform[0] and df.shape[1] > 1:
            # one 2-D block instead of one block per column: estimators read it without re-stacking
            target = self._uniform[1]
            if all(dt == target for dt in df.dtypes.tolist()):
                import pandas as pd

                df = pd.DataFrame(df.to_numpy(), columns=self._uniform_index, index=df.index, copy=False)
        return df

    def _convert_existing(self, values: Any, spec: Any, label: str, conv: Conv) -> Any:
        import numpy as np

        from tureen.models.signature import ColSpec, DataType

        if isinstance(values, np.ndarray):
            if isinstance(spec, ColSpec):
                if not isinstance(spec.type, DataType) or spec.type in (DataType.string, DataType.datetime):
                    return None  # enforce_schema checks these
                if spec.type is DataType.binary:
                    return None
                target = spec.type.to_numpy()
            else:
                target = spec.dtype
                if target.kind in "OUS":
                    return None
            if values.dtype.kind == "M":
                return None
            return conv.numeric(values, target, label)
        return conv.column(values, spec, label)

    # -- dataframe_records ------------------------------------------------------------------------
    def _records(self, value: Any, conv: Conv) -> Any:
        import pandas as pd

        if not isinstance(value, list):
            got = "dictionary" if isinstance(value, dict) else f"type {type(value).__name__}"
            raise _bad(f"Dataframe records format must be a list of records. Got {got}.")
        if value and all(isinstance(r, dict) for r in value):
            if self._uniform is not None:
                names = self._uniform[0]
                n = len(names)
                try:
                    if all(len(r) == n for r in value):
                        pick = self._pick_row  # itemgetter: each record's values in the schema's order
                        rows = [pick(r) for r in value] if n > 1 else [[pick(r)] for r in value]
                        fast = self._uniform_block(rows, names, conv)
                        if fast is not None:
                            return fast
                except KeyError:
                    pass
            names = []
            seen = set()
            for r in value:
                for k in r:
                    if k not in seen:
                        seen.add(k)
                        names.append(k)
            columns = {n: [r.get(n) for r in value] for n in names}
            missing_somewhere = {n for n in names if any(n not in r for r in value)}
            if not missing_somewhere:
                return self._frame(columns, names, None, conv, nrows=len(value))
        try:
            df = pd.DataFrame(data=value)
        except Exception as exc:  # noqa: BLE001
            raise _bad(f"Provided dataframe_records field is not a valid dataframe representation in 'records' "
                       f"format. Error: {exc}") from None
        return self._coerce_frame(df, conv)

    # -- instances / inputs (TF-serving forms) ----------------------------------------------------
    def _instances(self, value: Any, conv: Conv) -> Any:
        import numpy as np

        if isinstance(value, list) and value and isinstance(value[0], dict):
            if not all(isinstance(v, dict) for v in value):
                raise _bad("'instances' mixes objects and other values")
            columns: dict[Any, list[Any]] = {}
            for item in value:
                for k, v in item.items():
                    columns.setdefault(k, []).append(v)
            data = {}
            for k, vals in columns.items():
                spec = self._specs.get(k)
                data[k] = conv.column(vals, spec, f"input {k!r}") if spec is not None else _as_array(vals)
            if conv.problems:
                return None
            self._check_lengths(data)
            return data
        data = self._inputs(value, conv)
        if isinstance(data, dict):
            self._check_lengths(data)
        return data

    def _check_lengths(self, data: dict[Any, Any]) -> None:
        import numpy as np

        from tureen.models.signature import Array

        lengths = {}
        for k, v in data.items():
            if not isinstance(v, (list, np.ndarray)):
                continue
            spec = self._specs.get(k)
            if spec is not None and (not spec.required or isinstance(getattr(spec, "type", None), Array)):
                continue
            lengths[k] = len(v)
        if len(set(lengths.values())) > 1:
            raise _bad(f"The length of values for each input/column name are not the same: {lengths}")

    def _inputs(self, value: Any, conv: Conv) -> Any:
        import numpy as np

        schema = self.schema
        if schema is None:
            if isinstance(value, dict):
                return {k: _as_array(v) for k, v in value.items()}
            if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
                return value
            arr = _as_array(value)
            if arr is None:
                raise _bad("'inputs' is a ragged nest of lists")
            return arr
        if schema.has_input_names() and len(schema.inputs) == 1 and isinstance(value, list) and not any(
                isinstance(x, dict) for x in value):
            value = {schema.inputs[0].name: value}
        elif not schema.has_input_names() and not (isinstance(value, list) or _is_scalar(value)):
            raise _bad("Failed to parse input data. This model has an un-named signature, which expects a "
                       f"single n-dimensional array or a single value, but the input is a {type(value).__name__}.")
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                spec = self._specs.get(k)
                out[k] = conv.column(v, spec, f"input {k!r}") if spec is not None else _raw(v)
            return out
        if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            if schema.is_tensor_spec():
                raise _bad("'inputs' is a list of objects, but the model takes tensors")
            return self._records(value, conv)
        spec = schema.inputs[0]
        if not schema.is_tensor_spec() and len(schema.inputs) > 1:
            # a table of unnamed values for a multi-column model: every column must share a numeric type
            arr = _as_array(value)
            if arr is None:
                raise _bad("'inputs' is a ragged nest of lists")
            return arr
        return conv.column(value, spec, "input")

    def _parse_csv(self, body: bytes) -> Any:
        import io

        import pandas as pd

        dtypes = {}
        if self.schema is not None and self.schema.has_input_names() and not self.schema.is_tensor_spec():
            from tureen.models.signature import DataType

            for s in self.schema.inputs:
                if s.type in (DataType.string, DataType.binary):
                    dtypes[s.name] = object  # keep "007" a string; other columns are inferred, then checked
        check_csv_shape(body)
        try:
            # index_col=False: a row with one field more than the header never becomes the index (checked above)
            df = pd.read_csv(io.BytesIO(body), dtype=dtypes or None, encoding="utf-8", index_col=False)
        except UnicodeDecodeError as exc:
            raise BadRequestError(f"Invalid input. Ensure that input is a valid UTF-8 encoded string: "
                                  f"{exc.reason} at byte {exc.start}") from None
        except Exception as exc:  # noqa: BLE001 - pandas raises many parser errors
            raise BadRequestError("Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
                                  f"CSV-formatted Pandas DataFrame produced using `pandas.DataFrame.to_csv()`. "
                                  f"Error: {exc}") from None
        conv = Conv(may_have_bools=False)
        df = self._coerce_frame(df, conv)
        conv.raise_if_any()
        return df

    def _parse_parquet(self, body: bytes) -> Any:
        from tureen.serving._parquet import decoded_limit, read_parquet_bounded

        # bounded: a few hundred bytes of Parquet can decode to gigabytes (dictionary/run-length encoding)
        df = read_parquet_bounded(body, decoded_limit(self.max_body_bytes))
        conv = Conv(may_have_bools=False)
        df = self._coerce_frame(df, conv)
        conv.raise_if_any()
        return df


def check_csv_shape(body: bytes) -> None:
    """Refuse (400, naming the line) a CSV body whose rows do not have as many fields as its header, or whose
    quoting is broken, so that pandas never shifts values into other columns or fills them with NaN.

    Bodies without quotes are checked by counting commas per line (fast); the others with the ``csv`` module in
    strict mode. Blank lines are skipped, as pandas does.

    Example:
        >>> check_csv_shape(b"a,b\\n1,2\\n")
        >>> check_csv_shape(b"a,b\\n1,2,3\\n")
        Traceback (most recent call last):
        ...
        tureen.exceptions.BadRequestError: Invalid input. CSV line 2 has 3 fields, the header has 2
    """
    if b'"' not in body:
        lines = body.split(b"\n")
        width = None
        for number, line in enumerate(lines, 1):
            if not line.strip(b"\r \t"):
                continue
            n = line.count(b",") + 1
            if width is None:
                width = n
            elif n != width:
                raise _bad(f"CSV line {number} has {n} fields, the header has {width}")
        return
    import io

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return  # the parser below words the encoding error
    check_csv_stream(io.StringIO(text, newline=""))


def check_csv_stream(stream: Any) -> None:
    """:func:`check_csv_shape` for a text stream opened with ``newline=""`` (a file, read once, row by row).

    Raises:
        BadRequestError: naming the first line whose field count differs from the header's, or whose quoting
            is broken.
    """
    import csv

    reader = csv.reader(stream, strict=True)
    width = None
    start = 1  # the line the current record begins on (a quoted field may span lines)
    try:
        for row in reader:
            if row and not (len(row) == 1 and not row[0].strip()):
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    raise _bad(f"CSV line {start} has {len(row)} fields, the header has {width}")
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _bad(f"CSV line {start} is not valid CSV: {exc}") from None


def _raw(v: Any) -> Any:
    if isinstance(v, list):
        arr = _as_array(v)
        return arr if arr is not None else v
    return v


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _hashable(v: Any) -> Any:
    return v if not isinstance(v, list) else tuple(v)


def _series_values(values: Any) -> Any:
    import numpy as np

    if isinstance(values, np.ndarray) and values.ndim > 1:
        return list(values)  # a column of arrays (tensor-valued cells)
    return values
