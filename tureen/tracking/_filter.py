"""MLflow's search grammar: ``<entity>.<key> <comparator> <value> [AND …]`` and ``order_by`` items.

This module only parses; the SQL store turns each :class:`Clause` into a SQL condition, so filtering
runs in the database. Grammar (MLflow's):

* identifiers: ``metrics.k``/``metric.k``, ``params.k``/``param.k``/``parameter(s).k``, ``tags.k``/``tag.k``,
  ``attributes.k``/``attribute.k``/``attr.k``/``run.k`` or a bare attribute, ``datasets.name|digest|context``
  (``dataset.``); keys with special characters
  are quoted with backticks or double quotes (``tags.`my key```);
* comparators ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``LIKE``, ``ILIKE``, ``IN``, ``NOT IN``, ``IS NULL``,
  ``IS NOT NULL``;
* values: quoted strings, numbers, or a parenthesized list of strings for ``IN``;
* clauses joined by ``AND`` only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from tureen.exceptions import InvalidParameterError

__all__ = ["Clause", "OrderKey", "parse_filter", "parse_order_by", "encode_page_token", "decode_page_token"]

_ENTITY_ALIASES = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
}

_WS = re.compile(r"\s+")
_IDENT = re.compile(
    r"(?P<prefix>[A-Za-z_]\w*)\.(?:`(?P<bq>[^`]*)`|\"(?P<dq>[^\"]*)\"|(?P<bare>[\w.:/\-]+))"
    r"|`(?P<wbq>[^`]*)`|\"(?P<wdq>[^\"]*)\"|(?P<attr>[A-Za-z_]\w*)"
)
_OP = re.compile(
    r"(?P<op>[<>=!]+)|(?P<word>NOT\s+IN\b|IN\b|ILIKE\b|LIKE\b|IS\s+NOT\s+NULL\b|IS\s+NULL\b)",
    re.IGNORECASE,
)
_STRING = re.compile(r"'((?:[^'\\]|\\.|'')*)'|\"((?:[^\"\\]|\\.|\"\")*)\"")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_AND = re.compile(r"AND\b", re.IGNORECASE)
_OR = re.compile(r"OR\b", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    """One comparison: ``entity`` is ``metric``, ``param``, ``tag``, ``attribute`` or ``dataset``."""

    entity: str
    key: str
    op: str  # '=', '!=', '<', '<=', '>', '>=', 'LIKE', 'ILIKE', 'IN', 'NOT IN', 'IS NULL', 'IS NOT NULL'
    value: Any


@dataclass(frozen=True)
class OrderKey:
    entity: str
    key: str
    ascending: bool


def _unescape(text: str, quote: str) -> str:
    return text.replace(quote * 2, quote).replace("\\" + quote, quote).replace("\\\\", "\\")


def _ident(text: str, pos: int, what: str) -> tuple[str, str, int]:
    m = _IDENT.match(text, pos)
    if not m:
        raise InvalidParameterError(f"Invalid {what} {text!r}: expected an identifier such as "
                                    f"'metrics.auc' or 'params.C' at position {pos}: {text[pos:pos + 20]!r}")
    if m.group("prefix") is not None:
        prefix = m.group("prefix").lower()
        entity = _ENTITY_ALIASES.get(prefix)
        key = m.group("bq") if m.group("bq") is not None else (
            m.group("dq") if m.group("dq") is not None else m.group("bare"))
        if entity is None:
            raise InvalidParameterError(f"Invalid {what} {text!r}: unknown entity type {prefix!r}; use one of "
                                        "metrics., params., tags., attributes., datasets.")
    else:
        entity = "attribute"
        key = m.group("wbq") if m.group("wbq") is not None else (
            m.group("wdq") if m.group("wdq") is not None else m.group("attr"))
    if not key:
        raise InvalidParameterError(f"Invalid {what} {text!r}: empty key at position {pos}")
    return entity, key, m.end()


def _skip_ws(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m else pos


def _value(text: str, pos: int) -> tuple[Any, int]:
    m = _STRING.match(text, pos)
    if m:
        if m.group(1) is not None:
            return _unescape(m.group(1), "'"), m.end()
        return _unescape(m.group(2), '"'), m.end()
    m = _NUMBER.match(text, pos)
    if m:
        raw = m.group(0)
        num: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
        return num, m.end()
    raise InvalidParameterError(f"Invalid filter {text!r}: expected a quoted string or a number at position "
                                f"{pos}: {text[pos:pos + 20]!r}")


def _list(text: str, pos: int) -> tuple[list[Any], int]:
    if pos >= len(text) or text[pos] != "(":
        raise InvalidParameterError(f"Invalid filter {text!r}: IN needs a parenthesized list like ('a', 'b') "
                                    f"at position {pos}")
    pos += 1
    items: list[Any] = []
    while True:
        pos = _skip_ws(text, pos)
        value, pos = _value(text, pos)
        items.append(value)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == ")":
            return items, pos + 1
        raise InvalidParameterError(f"Invalid filter {text!r}: unterminated list at position {pos}")


def parse_filter(filter_string: str | None) -> list[Clause]:
    """Parse a filter string into clauses (empty list for ``None``/blank).

    Example:
        >>> parse_filter("metrics.auc > 0.9 AND params.C = '0.5'")[0]
        Clause(entity='metric', key='auc', op='>', value=0.9)
    """
    if filter_string is None:
        return []
    if not isinstance(filter_string, str):
        raise InvalidParameterError(f"A filter must be a string, got {type(filter_string).__name__}")
    text = filter_string.strip()
    clauses: list[Clause] = []
    pos = 0
    while text:
        pos = _skip_ws(text, pos)
        entity, key, pos = _ident(text, pos, "filter")
        pos = _skip_ws(text, pos)
        m = _OP.match(text, pos)
        if not m:
            got = text[pos:].split()[0] if text[pos:].split() else "end of filter"
            raise InvalidParameterError(f"Invalid comparator {got!r} in filter {text!r}: use one of =, !=, <, <=, "
                                        ">, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL")
        op = " ".join((m.group("op") or m.group("word")).upper().split())
        op = {"<>": "!=", "==": "="}.get(op, op)
        if m.group("op") and op not in ("=", "!=", "<", "<=", ">", ">="):
            raise InvalidParameterError(f"Invalid comparator {op!r} in filter {text!r}: use one of =, !=, <, <=, "
                                        ">, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL")
        pos = _skip_ws(text, m.end())
        value: Any = None
        if op in ("IN", "NOT IN"):
            value, pos = _list(text, pos)
        elif op not in ("IS NULL", "IS NOT NULL"):
            value, pos = _value(text, pos)
        clauses.append(Clause(entity, key, op, value))
        pos = _skip_ws(text, pos)
        if pos >= len(text):
            break
        if _AND.match(text, pos):
            pos = _AND.match(text, pos).end()  # type: ignore[union-attr]
            if _skip_ws(text, pos) >= len(text):
                raise InvalidParameterError(f"Invalid filter {text!r}: it ends with AND")
            continue
        if _OR.match(text, pos):
            raise InvalidParameterError(f"Invalid clause(s) in filter string: 'OR' ({text!r}); only AND is "
                                        "supported")
        raise InvalidParameterError(f"Invalid filter {text!r}: expected AND at position {pos}: "
                                    f"{text[pos:pos + 20]!r}")
    return clauses


_DIRECTION = re.compile(r"\s+(ASC|DESC)\s*$", re.IGNORECASE)


def parse_order_by(items: list[str] | None) -> list[OrderKey]:
    """Parse ``order_by`` items such as ``"metrics.auc DESC"``; duplicates are an error.

    Example:
        >>> parse_order_by(["params.C ASC"])
        [OrderKey(entity='param', key='C', ascending=True)]
    """
    out: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for item in items or []:
        if not isinstance(item, str) or not item.strip():
            raise InvalidParameterError(f"Invalid order_by item {item!r}: expected '<key> [ASC|DESC]'")
        text = item.strip()
        ascending = True
        m = _DIRECTION.search(text)
        if m:
            ascending = m.group(1).upper() == "ASC"
            text = text[: m.start()]
        entity, key, end = _ident(text, 0, "order_by item")
        if text[end:].strip():
            raise InvalidParameterError(f"Invalid order_by item {item!r}: expected '<key> [ASC|DESC]'")
        if (entity, key) in seen:
            raise InvalidParameterError(f"Invalid order_by: {item!r} is given twice")
        seen.add((entity, key))
        out.append(OrderKey(entity, key, ascending))
    return out


def encode_page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset in a page token (``0`` for ``None``); a malformed token is an error."""
    if not token:
        return 0
    try:
        data = json.loads(base64.b64decode(token, validate=True))
        offset = data["offset"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
        return offset
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidParameterError(f"Invalid page token {token!r}: pass the token returned by the "
                                    "previous page unchanged") from None
