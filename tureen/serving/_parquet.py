"""Parquet request bodies, read with a bound on the memory they decode to.

A Parquet file is compressed and run-length / dictionary encoded: a file of a few hundred bytes can say "one
100 KB string, repeated 200,000 times", which pandas would decode into 20 GB. The request-size limit bounds
the bytes on the wire, not what they decode to, so this reader checks before and while decoding:

1. from the footer, before any page is read: rows x fixed-width columns, and the column chunks' declared
   uncompressed sizes;
2. string and binary columns are read dictionary-encoded (memory: the indices plus the distinct values) and
   their decoded length is summed from the dictionary before a single string is expanded;
3. the decoded table's own size, before it becomes a DataFrame.

What it does not cover: pyarrow decompresses each page into a buffer of the size that page's header declares;
a hand-made file whose page headers contradict its column metadata can make that buffer large. The server's
``--max-request-bytes`` still bounds the file itself.
"""

from __future__ import annotations

import io
from typing import Any

from tureen.exceptions import BadRequestError, RequestTooLargeError

__all__ = ["read_parquet_bounded", "decoded_limit"]


def decoded_limit(max_request_bytes: int) -> int:
    """Most bytes a Parquet body may decode to: four times the request-size limit (a JSON or CSV body of
    the largest accepted size decodes to about that much)."""
    return 4 * int(max_request_bytes)


def _too_big(what: str, size: int, limit: int) -> RequestTooLargeError:
    return RequestTooLargeError(f"The Parquet body would decode to {size} bytes ({what}), over the limit of "
                                f"{limit} bytes (4 x TUREEN_SERVING_MAX_REQUEST_BYTES / --max-request-bytes)")


def read_parquet_bounded(body: bytes, limit: int) -> Any:
    """The DataFrame in a Parquet ``body``, refused (413) when it would decode to more than ``limit`` bytes.

    Raises:
        BadRequestError: not a readable Parquet file.
        RequestTooLargeError: the decoded table would exceed ``limit``.
        MissingDependencyError: pyarrow is not installed.

    Example:
        >>> read_parquet_bounded(parquet_bytes, 1 << 28)  # doctest: +SKIP
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError as exc:
        from tureen.exceptions import MissingDependencyError

        raise MissingDependencyError(f"Parquet input needs pyarrow: {exc}") from None
    try:
        pf = pq.ParquetFile(io.BytesIO(body))
        meta = pf.metadata
        schema = pf.schema_arrow
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types on a malformed footer
        raise _bad(exc) from None
    rows = int(meta.num_rows)
    if rows < 0:
        raise BadRequestError("The Parquet body declares a negative row count")
    fixed = 0
    variable: list[str] = []
    for field in schema:
        width = _fixed_width(pa, field.type)
        if width is None:
            variable.append(field.name)
        else:
            fixed += rows * width
    if fixed > limit:
        raise _too_big(f"{rows} rows of fixed-width columns", fixed, limit)
    declared = sum(max(meta.row_group(g).column(c).total_uncompressed_size, 0)
                   for g in range(meta.num_row_groups) for c in range(meta.num_columns))
    if declared > limit:
        raise _too_big("the column chunks' declared uncompressed size", declared, limit)
    strings = [f.name for f in schema if _is_string_like(pa, f.type)]
    try:
        if strings:
            pf = pq.ParquetFile(io.BytesIO(body), read_dictionary=strings)
        table = pf.read(use_pandas_metadata=True)
    except Exception as exc:  # noqa: BLE001
        raise _bad(exc) from None
    total = 0
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_dictionary(column.type) and _is_string_like(pa, column.type.value_type):
            # what the column costs once its strings are expanded (pandas, or a cast to the schema's type)
            for chunk in column.chunks:
                lengths = pc.binary_length(chunk.dictionary)
                total += int(pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0) + 8 * len(chunk)
                if total > limit:
                    break
        elif pa.types.is_dictionary(column.type):
            width = _fixed_width(pa, column.type.value_type)
            total += len(column) * (width if width is not None else 8) + column.nbytes
        else:
            total += column.nbytes
        if total > limit:
            raise _too_big(f"column {name!r} decoded", total, limit)
    if strings:
        try:
            table = table.cast(pa.schema([pa.field(f.name, _plain(pa, f.type) if f.name in strings else f.type,
                                                   f.nullable, f.metadata)
                                          for f in table.schema], metadata=table.schema.metadata))
        except Exception as exc:  # noqa: BLE001
            raise _bad(exc) from None
    try:
        return table.to_pandas()
    except Exception as exc:  # noqa: BLE001
        raise _bad(exc) from None


def _bad(exc: BaseException) -> BadRequestError:
    return BadRequestError("Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid Parquet "
                           f"Pandas DataFrame produced using `pandas.DataFrame.to_parquet()`. Error: {exc}")


def _fixed_width(pa: Any, typ: Any) -> int | None:
    """Bytes per row of a fixed-width Arrow type (booleans count a byte: pandas stores them so), else None."""
    if pa.types.is_boolean(typ):
        return 1
    if pa.types.is_null(typ):
        return 0
    try:
        return max(int(typ.bit_width) // 8, 1)
    except (ValueError, AttributeError):
        return None


def _is_string_like(pa: Any, typ: Any) -> bool:
    return bool(pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_binary(typ)
                or pa.types.is_large_binary(typ))


def _plain(pa: Any, typ: Any) -> Any:
    """The value type of a dictionary-encoded column (what the body would have given without encoding)."""
    return typ.value_type if pa.types.is_dictionary(typ) else typ
