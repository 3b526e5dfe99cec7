"""Many rows into one table in one statement, on SQLite and PostgreSQL.

On PostgreSQL, psycopg's ``executemany`` runs one INSERT per row, and a
multi-row ``VALUES`` list makes psycopg parse a new, long query text every
time. Instead the whole batch travels as ONE JSON document (encoded by orjson
in C) and PostgreSQL turns it into typed rows::

    INSERT INTO t (a, b) SELECT a, b
    FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) AS (a bigint, b text))
         WITH ORDINALITY ORDER BY ordinality RETURNING id

The statement's text depends only on the columns, so it is parsed once, and the
rows are inserted in the order given. On SQLite, ``executemany`` is one C loop
over the rows of one prepared statement.

With ``ids=True`` the new ids come back in the order of ``rows``: both
databases number the rows of one INSERT in the order it inserts them (an
ascending sequence on PostgreSQL, the next rowid under the write lock on
SQLite), so the sorted ids are that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, DateTime, Float, Integer, LargeBinary, Table
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
    quote = session.get_bind().dialect.identifier_preparer.quote
    names = list(rows[0])
    if session.get_bind().dialect.name != "postgresql":
        return _sqlite(session, table, rows, names, [quote(n) for n in names], ids)
    sql = _pg_insert(session, table, names) + (" RETURNING id" if ids else "")
    result = session.connection().exec_driver_sql(sql, (dumps(rows),))
    return sorted(result.scalars()) if ids else []


@dataclass
class JsonRows:
    """Rows already encoded, for :func:`insert_many` on PostgreSQL: one JSON object
    text per row, each with every column of ``names``."""

    names: list[str]
    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def json(self) -> str:
        return "[" + ",".join(self.texts) + "]"


def insert_many(session: Session, batches: Sequence[tuple[Table, list[dict[str, Any]] | JsonRows]],
                pg_parts: Sequence[tuple[str, list[dict[str, Any]]]] = (),
                notify: tuple[str, list[str]] | None = None,
                last: list[tuple[str, tuple[Any, ...]]] | None = None) -> None:
    """Rows into several tables. On PostgreSQL in ONE statement (each table's
    INSERT a data-modifying ``WITH`` part), so a batch's writes cost one round
    trip; on SQLite one ``executemany`` per table (no round trips there).

    ``pg_parts`` (PostgreSQL only) are more data-modifying statements sent in the
    same ``WITH``, each with one ``%s`` for its rows as JSON (see :func:`pg_upsert`,
    :func:`pg_update`), and ``notify`` (PostgreSQL only) a channel and payloads to
    ``NOTIFY`` from the same statement (PostgreSQL delivers them at commit).

    With ``last`` (PostgreSQL), that one statement is not sent but appended to
    ``last``, for a caller that sends it together with its COMMIT in one round trip
    (store/pipeline.py) and runs nothing in between."""
    batches = [(t, rows) for t, rows in batches if rows]
    extra = [(sql, rows) for sql, rows in pg_parts if rows]
    tell = notify is not None and bool(notify[1]) and \
        session.get_bind().dialect.name == "postgresql"
    if not tell and (session.get_bind().dialect.name != "postgresql"
                     or len(batches) + len(extra) < 2):
        for table, rows in batches:
            if isinstance(rows, JsonRows):  # PostgreSQL only
                session.connection().exec_driver_sql(
                    _pg_insert(session, table, rows.names), (rows.json(),))
            else:
                insert_rows(session, table, rows)
        for sql, rows in extra:
            session.connection().exec_driver_sql(sql, (dumps(rows),))
        return
    texts = [_pg_insert(session, table, rows.names if isinstance(rows, JsonRows)
                        else list(rows[0])) for table, rows in batches]
    texts += [sql for sql, _ in extra]
    params: tuple[Any, ...] = tuple(rows.json() if isinstance(rows, JsonRows) else dumps(rows)
                                    for _, rows in batches) + \
        tuple(dumps(rows) for _, rows in extra)
    sql = ("WITH " + ", ".join(f"w{i} AS ({t})" for i, t in enumerate(texts)) + " ") \
        if texts else ""
    if tell:
        assert notify is not None
        # the payloads (JSON texts) as one JSON array, read back element by element
        # as the same texts: no text-array quoting of every payload on the way
        sql += "SELECT count(pg_notify(%s, p)) FROM json_array_elements_text(%s::json) AS p"
        params += (notify[0], "[" + ",".join(notify[1]) + "]")
    else:
        sql += "SELECT 1"
    if last is not None:
        last.append((sql, params))
    else:
        session.connection().exec_driver_sql(sql, params)


def pg_ids(ids: Sequence[int]) -> str:
    """PostgreSQL: integers as an array literal (``{1,2,3}``) for a ``%s::bigint[]``
    parameter: psycopg's list dumper inspects every element to pick an array type,
    several times the cost of the whole statement's other parameters."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def pg_texts(texts: Sequence[str]) -> str:
    """PostgreSQL: texts as one JSON array (``db.dumps``: orjson, in C) for a ``%s::jsonb``
    parameter read by ``jsonb_array_elements_text``: no quoting rules of array
    literals to get right, and none of psycopg's per-element work."""
    return dumps(list(texts))


def pg_upsert(session: Session, table: Table, names: list[str], on_conflict: str) -> str:
    """PostgreSQL: ``INSERT ... SELECT`` of JSON rows (one ``%s``) with an ON CONFLICT clause."""
    return _pg_insert(session, table, names) + " " + on_conflict


def sqlite_upsert(db: Session | Connection, table: Table, rows: list[dict[str, Any]],
                  on_conflict: str) -> None:
    """SQLite: ``rows`` (dicts with the same keys) as one ``executemany`` of ``INSERT ...
    VALUES (...)`` followed by ``on_conflict`` (SQLite's upsert has PostgreSQL's
    syntax, so the same clause serves both, see :func:`pg_upsert`); the values are
    converted as for :func:`insert_rows`."""
    if not rows:
        return
    names = list(rows[0])
    key = (table.name, tuple(names), on_conflict)
    sql = _sqlite_upserts.get(key)
    if sql is None:
        sql = _sqlite_upserts[key] = (
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' * len(names))}) {on_conflict}")
    conn = db.connection() if isinstance(db, Session) else db
    conn.exec_driver_sql(sql, _sqlite_values(table, names, rows))


#: the upsert text per (table, columns, ON CONFLICT clause): built once
_sqlite_upserts: dict[tuple[str, tuple[str, ...], str], str] = {}


def pg_update(session: Session, table: Table, key: str, names: list[str],
              set_sql: str) -> str:
    """PostgreSQL: ``UPDATE table AS t SET <set_sql> FROM`` JSON rows (one ``%s``, read
    as ``u`` with the columns ``names``) ``WHERE t.key = u.key``."""
    cache_key = (table.name, key, tuple(names), set_sql)
    sql = _pg_updates.get(cache_key)
    if sql is None:
        quote = session.get_bind().dialect.identifier_preparer.quote
        typed = ", ".join(f"{quote(n)} {_pg_type(table.c[n])}" for n in names)
        sql = _pg_updates[cache_key] = (
            f"UPDATE {quote(table.name)} AS t SET {set_sql} "
            f"FROM jsonb_to_recordset(%s::jsonb) AS u({typed}) "
            f"WHERE t.{quote(key)} = u.{quote(key)}")
    return sql


#: the UPDATE text per (table, key, columns, SET clause): built once, like the INSERTs
_pg_updates: dict[tuple[str, str, tuple[str, ...], str], str] = {}


#: the INSERT text per (table, columns): built once, it depends on nothing else
_pg_inserts: dict[tuple[str, tuple[str, ...]], str] = {}


def _pg_insert(session: Session, table: Table, names: list[str]) -> str:
    key = (table.name, tuple(names))
    sql = _pg_inserts.get(key)
    if sql is None:
        sql = _pg_inserts[key] = _pg_insert_text(session, table, names)
    return sql


def _pg_insert_text(session: Session, table: Table, names: list[str]) -> str:
    quote = session.get_bind().dialect.identifier_preparer.quote
    cols = [quote(n) for n in names]
    typed = ", ".join(f"{c} {_pg_type(table.c[n])}" for n, c in zip(names, cols, strict=True))
    # as short as it can be said: psycopg parses a statement's text once and caches it
    # only up to 4,096 characters, and the capture batch's write statement is made of
    # these (the columns named once per part, not three times, keep it under that)
    names_sql = ", ".join(cols)
    return (f"INSERT INTO {quote(table.name)} ({names_sql}) SELECT {names_sql} "
            f"FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) AS ({typed})) "
            f"WITH ORDINALITY ORDER BY ordinality")


def _sqlite_time(v: Any) -> str | None:
    """A datetime as SQLAlchemy's SQLite DATETIME stores it: UTC, no offset, microseconds."""
    if v is None:
        return None
    return str(v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds"))


def from_sqlite_time(v: str | None) -> datetime | None:
    """The reverse of :func:`_sqlite_time`: stored text back to an aware UTC datetime
    (for rows read with driver-level SQL, which no column type converts)."""
    return datetime.fromisoformat(v).replace(tzinfo=UTC) if v is not None else None


def _sqlite_value(col: Any) -> Any:
    """What SQLAlchemy would send SQLite for one value of this column."""
    t = col.type
    impl = getattr(t, "impl", t)
    if isinstance(impl, JSON) or isinstance(t, JSON):
        return _sqlite_json
    if isinstance(impl, DateTime):
        return _sqlite_time
    if isinstance(impl, Boolean):
        return lambda v: None if v is None else int(v)
    return None


def _sqlite_json(v: Any) -> str | None:
    """A JSON value as SQLite stores it; None is SQL NULL, as ``jsonb_to_recordset``
    makes it on PostgreSQL (not the JSON text ``null``)."""
    return None if v is None else dumps(v)


def _sqlite(session: Session, table: Table, rows: list[dict[str, Any]], names: list[str],
            cols: list[str], ids: bool) -> list[int]:
    """SQLite: the values converted once, then one executemany (or, for ids, one
    multi-row INSERT ... RETURNING) sent as driver SQL."""
    values = _sqlite_values(table, names, rows)
    head = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES "
    one = "(" + ", ".join("?" * len(cols)) + ")"
    conn = session.connection()
    if not ids:
        conn.exec_driver_sql(head + one, values)
        return []
    flat = tuple(v for row in values for v in row)
    result = conn.exec_driver_sql(head + ", ".join([one] * len(values)) + " RETURNING id", flat)
    return sorted(result.scalars())


def _sqlite_values(table: Table, names: list[str],
                   rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each row's values in ``names`` order, as SQLite takes them: the columns are
    read in one C call per row (``itemgetter``) and only those that need it (JSON,
    times, booleans) go through a converter. A batch's rows share few distinct
    times (its ``now``, the leads' arrival times), so each is formatted once."""
    get = itemgetter(*names)
    times: dict[Any, str | None] = {}

    def at(v: Any) -> str | None:
        text = times.get(v, _MISSING)
        if text is _MISSING:
            text = times[v] = _sqlite_time(v)
        return text  # type: ignore[return-value]

    work = []
    for i, n in enumerate(names):
        c = _sqlite_value(table.c[n])
        if c is not None:
            work.append((i, at if c is _sqlite_time else c))
    if len(names) == 1:
        get1 = get
        get = lambda r: (get1(r),)  # noqa: E731
    if not work:
        return [get(r) for r in rows]
    out = []
    for r in rows:
        v = list(get(r))
        for i, c in work:
            v[i] = c(v[i])
        out.append(tuple(v))  # SQLAlchemy's executemany takes tuples (or dicts)
    return out


_MISSING = object()
