"""PostgreSQL pipelines (store/pipeline.py): several statements in one round trip,
in order, in the transaction; a COMMIT sent with them answers only once durable."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from leadgate.store import pipeline

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_url: str) -> Any:
    eng = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as c:
        c.execute(text("CREATE TABLE t (k int PRIMARY KEY, v text)"))
    yield eng
    eng.dispose()


def rows(eng: Engine) -> list[tuple[Any, ...]]:
    with eng.connect() as c:
        return [tuple(r) for r in c.execute(text("SELECT k, v FROM t ORDER BY k"))]


def test_statements_run_in_order_in_the_transaction(engine: Engine) -> None:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda *a: seen.append(a[2]))  # the listeners hear each statement
    with sessionmaker(engine)() as s:
        out = pipeline.run(s, [("INSERT INTO t VALUES (1, 'a')", ()),
                               ("UPDATE t SET v = v || %s RETURNING v", ("b",)),
                               ("SELECT count(*) FROM t", ())])
        assert out == [[], [("ab",)], [(1,)]]
        s.rollback()  # they were in the session's transaction
    assert rows(engine) == []
    assert seen[:3] == ["INSERT INTO t VALUES (1, 'a')",
                        "UPDATE t SET v = v || %s RETURNING v", "SELECT count(*) FROM t"]


def test_an_autocommit_session_gets_its_begin_in_the_first_round_trip(engine: Engine) -> None:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with pipeline.autocommit_sessions(engine)() as s:
        pipeline.run(s, [("INSERT INTO t VALUES (1, 'a')", ())])
        s.execute(text("INSERT INTO t VALUES (2, 'b')"))
        s.rollback()  # both inserts were in one transaction
    assert rows(engine) == []
    assert seen[0] == "BEGIN"
    with pipeline.autocommit_sessions(engine)() as s:
        pipeline.run(s, [("INSERT INTO t VALUES (3, 'c')", ())])
        pipeline.commit_with(s, [("INSERT INTO t VALUES (4, 'd')", ())])
        s.commit()  # nothing left to send
    assert rows(engine) == [(3, "c"), (4, "d")]
    with engine.connect() as c:  # the pool gave the connection back as it was
        assert c.connection.driver_connection.autocommit is False


def test_a_commit_sent_with_the_writes_returns_once_on_disk(engine: Engine) -> None:
    for n in range(20):
        with sessionmaker(engine)() as s:
            lsn = pipeline.commit_with(s, [("INSERT INTO t VALUES (%s, 'x')", (n,))])
            s.commit()
        with engine.connect() as c:  # the WAL is flushed past the commit already
            assert c.execute(text("SELECT pg_current_wal_flush_lsn() >= CAST(:l AS pg_lsn)"),
                             {"l": lsn}).scalar() is True
    assert len(rows(engine)) == 20


def test_a_failing_statement_raises_sqlalchemys_error_and_rolls_back(engine: Engine) -> None:
    with sessionmaker(engine)() as s:
        pipeline.commit_with(s, [("INSERT INTO t VALUES (1, 'a')", ())])
        s.commit()
    with sessionmaker(engine)() as s:
        with pytest.raises(IntegrityError):
            pipeline.commit_with(s, [("INSERT INTO t VALUES (2, 'b')", ()),
                                     ("INSERT INTO t VALUES (1, 'dup')", ())])
        s.rollback()
        # the connection is usable again, and nothing of the failed transaction stayed
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 1
    assert rows(engine) == [(1, "a")]
