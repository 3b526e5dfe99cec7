"""PostgreSQL pool: a connection is pinged only after resting, and a dead one that
rested is replaced without the caller seeing an error."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text

from leadgate.store import db

pytestmark = pytest.mark.postgres


def test_a_rested_connection_is_pinged_and_a_busy_one_is_not(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import make_app

    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.2)
    app = make_app(pg_url)
    pings: list[Any] = []
    real = app.engine.dialect.do_ping
    monkeypatch.setattr(app.engine.dialect, "do_ping",
                        lambda conn: pings.append(conn) or real(conn))
    try:
        for _ in range(5):  # back at once: no ping (was one per checkout)
            with app.engine.connect() as c:
                assert c.execute(text("SELECT 1")).scalar() == 1
        assert pings == []
        time.sleep(0.3)
        with app.engine.connect() as c:
            assert c.execute(text("SELECT 1")).scalar() == 1
        assert len(pings) == 1
    finally:
        app.close()


def test_a_connection_killed_while_resting_is_replaced(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg
    from tests.conftest import make_app

    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.2)
    app = make_app(pg_url)
    try:
        with app.engine.connect() as c:
            pid = c.execute(text("SELECT pg_backend_pid()")).scalar()
        with psycopg.connect(pg_url, autocommit=True) as admin:  # not from the pool
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.3)
        # the pool's top connection is the dead one: pinged, found gone, replaced
        with app.engine.connect() as c:
            assert c.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        with app.uow() as uow:
            assert uow.session.execute(text("SELECT count(*) FROM agents")).scalar() == 0
    finally:
        app.close()
