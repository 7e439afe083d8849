"""A mechanical description of a database's schema, for diffing an MLflow-made database against tureen's.

``describe(uri)`` reflects every table (optionally skipping some) into sets of plain tuples: columns (name,
normalized type, nullable, normalized default), primary key, foreign keys (with ON DELETE/UPDATE), unique
constraints, indexes, CHECK constraints and (SQLite) triggers. ``diff(a, b)`` lists what is only in one.
"""

from __future__ import annotations

import re
from typing import Any


def _norm_type(t: Any, dialect: str) -> str:
    s = str(t.compile(dialect=_dialect(dialect))) if hasattr(t, "compile") else str(t)
    s = s.upper().replace("CHARACTER VARYING", "VARCHAR")
    return s


def _dialect(name: str) -> Any:
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    return {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect(), "mysql": mysql.dialect(),
            "mariadb": mysql.dialect()}[name]


def _norm_default(d: Any) -> str | None:
    if d is None:
        return None
    s = str(d)
    s = re.sub(r"::[a-z ]+(\([0-9]+\))?", "", s)  # PostgreSQL casts: '0'::bigint
    s = s.strip().strip("()").strip("'\"")
    if s.lower() in ("false",):
        s = "0"
    if s.lower() in ("true",):
        s = "1"
    return s


def describe(uri: str, skip: tuple[str, ...] = ()) -> dict[str, set[tuple[Any, ...]]]:
    import sqlalchemy as sa

    engine = sa.create_engine(uri)
    try:
        insp = sa.inspect(engine)
        dialect = engine.dialect.name
        out: dict[str, set[tuple[Any, ...]]] = {k: set() for k in
                                                ("tables", "columns", "pk", "fk", "unique", "index", "check",
                                                 "trigger")}
        for t in insp.get_table_names():
            if t.startswith(skip):
                continue
            out["tables"].add((t,))
            for c in insp.get_columns(t):
                out["columns"].add((t, c["name"], _norm_type(c["type"], dialect), bool(c["nullable"]),
                                    _norm_default(c.get("default"))))
            pk = insp.get_pk_constraint(t)
            out["pk"].add((t, tuple(pk["constrained_columns"]), pk.get("name") if dialect == "sqlite" else None))
            for fk in insp.get_foreign_keys(t):
                opts = fk.get("options") or {}
                out["fk"].add((t, tuple(fk["constrained_columns"]), fk["referred_table"],
                               tuple(fk["referred_columns"]), (opts.get("ondelete") or "").upper() or None,
                               (opts.get("onupdate") or "").upper() or None))
            for uq in insp.get_unique_constraints(t):
                out["unique"].add((t, tuple(uq["column_names"])))
            for ix in insp.get_indexes(t):
                options = tuple(sorted((k, str(v)) for k, v in (ix.get("dialect_options") or {}).items()))
                out["index"].add((t, ix["name"], tuple(ix["column_names"]), bool(ix["unique"]), options))
            try:
                for ck in insp.get_check_constraints(t):
                    out["check"].add((t, re.sub(r"\s+", " ", ck["sqltext"]).strip()))
            except NotImplementedError:
                pass
        with engine.connect() as conn:
            if dialect == "sqlite":
                for (name,) in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='trigger'"):
                    out["trigger"].add((name,))
            elif dialect == "postgresql":
                for (name,) in conn.exec_driver_sql(
                        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"):
                    out["trigger"].add((name,))
            else:
                for (name,) in conn.exec_driver_sql(
                        "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()"):
                    out["trigger"].add((name,))
        return out
    finally:
        engine.dispose()


def diff(a: dict[str, set[Any]], b: dict[str, set[Any]]) -> list[str]:
    """Human-readable differences: ``- x`` only in ``a``, ``+ x`` only in ``b``."""
    lines = []
    for kind in a:
        for item in sorted(a[kind] - b[kind], key=repr):
            lines.append(f"- {kind} {item}")
        for item in sorted(b[kind] - a[kind], key=repr):
            lines.append(f"+ {kind} {item}")
    return lines
