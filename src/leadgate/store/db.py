"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from leadgate.config import Settings


def _default(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, tuple | list) or (hasattr(obj, "__len__") and hasattr(obj, "__getitem__")):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS


def dumps(obj: Any) -> str:
    """JSON for the database's JSON columns: orjson (fast), with datetimes as ISO
    8601, durations in seconds and any mapping or sequence (lazy traces) as
    JSON; the standard library is the fallback for what orjson refuses (integers
    beyond 64 bits)."""
    try:
        return orjson.dumps(obj, default=_default, option=_OPTS).decode()
    except TypeError:
        return json.dumps(obj, default=_fallback, ensure_ascii=False)


def _fallback(obj: Any) -> Any:
    try:
        return _default(obj)
    except TypeError:
        return str(obj)


def make_engine(settings: Settings) -> Engine:
    """Build the engine; SQLite gets WAL, a busy timeout and IMMEDIATE transactions."""
    url = settings.database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=settings.pool_size,
            max_overflow=20,
            pool_use_lifo=True,
            json_serializer=dumps,
            json_deserializer=orjson.loads,
        )
        _sqlite_setup(engine)
        return engine
    engine = create_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=10,
        pool_use_lifo=True,
        json_serializer=dumps,
        json_deserializer=orjson.loads,
    )
    _ping_when_idle(engine)
    return engine


#: a pooled PostgreSQL connection back in use after resting longer than this (seconds)
#: is pinged first (:func:`_ping_when_idle`)
PING_AFTER_IDLE = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for connections that rested: one checked out
    after more than :data:`PING_AFTER_IDLE` seconds in the pool is pinged, and
    replaced if the server is gone (a restart, an idle timeout), as SQLAlchemy's
    ``pool_pre_ping`` does for every checkout. Under load a connection comes back
    within milliseconds (the pool is LIFO), and the ping was one round trip of a
    handful per capture batch. A connection broken in between still fails that one
    use; SQLAlchemy then invalidates the pool (its optimistic handling)."""
    from sqlalchemy import exc

    @event.listens_for(engine, "checkin")
    def _rested(_dbapi_conn: Any, record: Any) -> None:
        record.info["leadgate_checkin"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("leadgate_checkin")
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as e:
            # the pool discards this connection and checks out another (three tries)
            raise exc.DisconnectionError(f"pooled connection is gone: {e}") from e


def _sqlite_setup(engine: Engine) -> None:
    # pysqlite's own transaction handling is switched off so that every
    # transaction starts with BEGIN IMMEDIATE: writers queue on the database
    # lock at the start instead of failing half-way with "database is locked".
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache per connection (the default is 2 MiB): with a large
        # history, index pages of leads and dedupe keys stay in memory
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # read-only units of work take no lock: WAL lets them run beside a writer
        if conn.get_execution_options().get("leadgate_readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    bind = engine.execution_options(leadgate_readonly=True) if readonly else engine
    return sessionmaker(bind, expire_on_commit=False)
