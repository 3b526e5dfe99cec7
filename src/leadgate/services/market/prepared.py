"""The sell job's prebuilt Core statements, compiled once and sent at the driver level.

A sale runs the same dozen statements for every lead. Through ``Connection.execute``
each call computes the statement's cache key (a walk of its whole expression: the
buyers' conditional UPDATEs are large), looks it up in the compiled cache and builds a
compiled execution context, which inside a job (cold caches between the waits for
pings and posts) cost more than the database's own work. :func:`run` compiles a
statement once per dialect (its SQL, its bind names in the driver's order and each
bind's processor: the very conversions SQLAlchemy applies, UTC datetimes and JSON
included) and sends it with ``Connection.exec_driver_sql``: same SQL, same values,
same transaction; ``before_cursor_execute`` listeners (the statement counts of the
tests and of ``bench/bench_auction.py``) still see each statement.

For statements without result columns to convert (DML, ``RETURNING`` of ids, keys
and counts): the rows come back as the driver gives them. A statement that leaves
anything to be worked out per call (a column's Python default it does not set, an
expanding ``IN`` list) is refused when prepared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, CursorResult, DateTime, bindparam
from sqlalchemy.engine import Dialect


class Prepared(NamedTuple):
    """A statement compiled for one dialect, with how to bind a call's values."""

    sql: str
    #: the caller's keys, each with its type's conversion (if any)
    procs: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    #: per driver parameter: the index of its caller's key in ``procs``, or -1 - the
    #: index of a value fixed in the statement in ``fixed``
    slots: tuple[int, ...]
    #: the values written in the statement, converted
    fixed: tuple[Any, ...]
    #: the driver's parameter names (named paramstyles), or None (positional)
    names: tuple[str, ...] | None

    def bind(self, params: Mapping[str, Any]) -> Any:
        """The driver's parameters for one call (each value converted once, however
        many times the statement uses it)."""
        got = [params[k] if p is None else p(params[k]) for k, p in self.procs]
        out = [got[i] if i >= 0 else self.fixed[-1 - i] for i in self.slots]
        if self.names is None:
            return tuple(out)
        return dict(zip(self.names, out, strict=True))


_cache: dict[tuple[int, str], tuple[Any, Prepared]] = {}


def prepare(stmt: Any, dialect: Dialect) -> Prepared:
    """``stmt`` compiled for ``dialect`` (once: kept with the statement object)."""
    key = (id(stmt), dialect.name)
    got = _cache.get(key)
    if got is not None and got[0] is stmt:
        return got[1]
    c: Any = stmt.compile(dialect=dialect)
    if c.insert_prefetch or c.update_prefetch:
        raise ValueError(f"{stmt}: leaves a column's default to the call (set it)")
    procs_of = c._bind_processors  # the processors SQLAlchemy itself applies
    order = list(c.positiontup) if c.positional else list(c.binds)
    procs: dict[str, Callable[[Any], Any] | None] = {}
    slots: list[int] = []
    fixed: list[Any] = []
    for name in order:
        bp = c.binds[name]
        if bp.expanding:
            raise ValueError(f"{name}: an expanding IN list is not preparable")
        proc = procs_of.get(name)
        if proc is not None and _is_time(bp.type):
            proc = _memo(proc, _seen.setdefault((type(bp.type), dialect.name), {}))
        if bp.required:  # a bindparam("...") of the statement: the call gives it
            procs.setdefault(bp.key, proc)
            slots.append(list(procs).index(bp.key))
        else:  # a literal written in the statement
            value = bp.effective_value
            fixed.append(proc(value) if proc is not None else value)
            slots.append(-len(fixed))
    names = None if c.positional else tuple(c.escaped_bind_names.get(n, n) for n in order)
    p = Prepared(c.string, tuple(procs.items()), tuple(slots), tuple(fixed), names)
    _cache[key] = (stmt, p)
    return p


def _is_time(t: Any) -> bool:
    return isinstance(t, DateTime) or isinstance(getattr(t, "impl", None), DateTime)


#: (datetime type, dialect) -> datetime -> its conversion (shared by the statements)
_seen: dict[tuple[type, str], dict[Any, Any]] = {}


def _memo(proc: Callable[[Any], Any], seen: dict[Any, Any]) -> Callable[[Any], Any]:
    """A datetime's conversion, remembered: a sale binds the same few instants (its
    time, the buyers' window starts) in many statements, and each conversion (to UTC,
    then to the driver's form) costs microseconds. Bounded (cleared when full)."""

    def convert(value: Any) -> Any:
        got = seen.get(value, _MISSING)
        if got is _MISSING:
            if len(seen) >= 256:
                seen.clear()
            got = seen[value] = proc(value)
        return got

    return convert


_MISSING = object()


def run(conn: Connection, stmt: Any,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> CursorResult[Any]:
    """Execute ``stmt`` (see the module docstring) with one call's values, or with a
    list of them (the driver's ``executemany``)."""
    p = prepare(stmt, conn.dialect)
    if isinstance(params, Mapping):
        return conn.exec_driver_sql(p.sql, p.bind(params))
    return conn.exec_driver_sql(p.sql, [p.bind(x) for x in params])


def values_of(table: Any, columns: Sequence[str], rows: int, build: Callable[..., Any]
              ) -> Any:
    """An INSERT of ``rows`` rows of ``columns`` with one ``bindparam`` per value
    (``{column}_{row}``), made by ``build(values)``: a multi-row INSERT the driver
    runs as one statement (``RETURNING`` rows and all); bind its values with
    :func:`flat`."""
    return build([{col: bindparam(f"{col}_{i}", type_=table.c[col].type) for col in columns}
                  for i in range(rows)])


def flat(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, Any]:
    """The values of :func:`values_of`'s INSERT for ``rows``."""
    return {f"{col}_{i}": row[col] for i, row in enumerate(rows) for col in columns}
