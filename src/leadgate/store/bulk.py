"""Many rows into one table in one statement, on SQLite and PostgreSQL.

On PostgreSQL, psycopg's ``executemany`` runs one INSERT per row, and a
multi-row ``VALUES`` list makes psycopg parse a new, long query text every
time. Instead the whole batch travels as ONE JSON document (encoded by orjson
in C) and PostgreSQL turns it into typed rows::

    INSERT INTO t (a, b) SELECT u.a, u.b
    FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) AS (a bigint, b text))
         WITH ORDINALITY AS u(a, b, ord)
    ORDER BY u.ord RETURNING id

The statement's text depends only on the columns, so it is parsed once, and the
rows are inserted in the order given. On SQLite, ``executemany`` is one C loop
over the rows of one prepared statement.

With ``ids=True`` the new ids come back in the order of ``rows``: both
databases number the rows of one INSERT in the order it inserts them (an
ascending sequence on PostgreSQL, the next rowid under the write lock on
SQLite), so the sorted ids are that order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, LargeBinary, Table, insert
from sqlalchemy.orm import Session

from leadgate.store.db import dumps


def _pg_type(col: Any) -> str:
    """The PostgreSQL type a column's JSON value is read as."""
    t = col.type
    impl = getattr(t, "impl", t)
    if isinstance(impl, JSON) or isinstance(t, JSON):
        return "jsonb"
    if isinstance(impl, DateTime):
        return "timestamptz"
    if isinstance(impl, Boolean):
        return "boolean"
    if isinstance(impl, Integer):
        return "bigint"
    if isinstance(impl, Float):
        return "float8"
    if isinstance(impl, LargeBinary):
        return "bytea"
    return "text"


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]], *,
                ids: bool = False) -> list[int]:
    """Insert ``rows`` (dicts with the same keys) in one statement; their ids if asked."""
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        if ids:
            return sorted(session.execute(insert(table).returning(table.c.id), rows).scalars())
        session.execute(insert(table), rows)
        return []
    quote = session.get_bind().dialect.identifier_preparer.quote
    names = list(rows[0])
    cols = [quote(n) for n in names]
    typed = ", ".join(f"{c} {_pg_type(table.c[n])}" for n, c in zip(names, cols, strict=True))
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(cols)}) "
           f"SELECT {', '.join(f'u.{c}' for c in cols)} "
           f"FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) AS ({typed})) "
           f"WITH ORDINALITY AS u({', '.join(cols)}, ord) ORDER BY u.ord"
           + (" RETURNING id" if ids else ""))
    result = session.connection().exec_driver_sql(sql, (dumps(rows),))
    return sorted(result.scalars()) if ids else []
