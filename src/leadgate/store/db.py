"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from leadgate.config import Settings


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
        )
        _sqlite_setup(engine)
        return engine
    return create_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=10,
        pool_pre_ping=True,
    )


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
