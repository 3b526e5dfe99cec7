"""PostgreSQL: several statements of a transaction in ONE round trip.

psycopg's pipeline mode sends statements without waiting for each answer; the
server still runs them one after the other, each a statement of its own (in READ
COMMITTED each takes its own snapshot, so a statement sent after a lock statement
sees what the lock's previous holder committed, exactly as when sent alone). The
capture batch uses it twice: its BEGIN, key locks and lookup go out together
(:func:`run`), and its write statement goes out with the COMMIT
(:func:`commit_with`). Each round trip saved is also one wake-up of the capture
thread, which then waits for the interpreter lock while the event loop parses
requests; the second is made holding the flow's routing lock.

The statements are announced to SQLAlchemy's ``before_cursor_execute`` listeners
like any other (the tests count statements with one), and a failure is raised as
SQLAlchemy's own exception (``IntegrityError`` for a unique key, say), with a
broken connection invalidated, as SQLAlchemy does for the statements it runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, exc
from sqlalchemy.orm import Session, sessionmaker

Statement = tuple[str, tuple[Any, ...]]

#: :func:`commit_with`: the transaction commits without waiting for the disk (its
#: locks are released once its commit record is written) ...
_ASYNC = ("SELECT set_config('synchronous_commit', 'off', true)", ())
#: ... and the one-statement transaction after it commits synchronously: it writes
#: a WAL record (a transactional logical message, which needs no privilege and is
#: only a record in the WAL: PostgreSQL commits a transaction that wrote nothing
#: without a flush, even one with a transaction id), so its COMMIT returns once the
#: WAL is on disk up to its own commit record, which comes after the batch's. The
#: message's position is returned to the caller.
_FLUSH = ("SELECT pg_logical_emit_message(true, 'leadgate.flush', '')::text", ())


def run(session: Session, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` (driver SQL, ``%s`` parameters) in one round trip, in the
    session's transaction, and return each one's rows (``[]`` if it returns none).
    One statement is sent as is, without SQLAlchemy's result set-up (the capture
    batch's flow locks, made just before the flow's lock is held).

    On a session made by :func:`autocommit_sessions` whose transaction has not begun,
    the BEGIN goes first in the same round trip (psycopg sends its own BEGIN as a
    round trip of its own, in pipeline mode too)."""
    import psycopg

    raw = session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    if raw.autocommit and raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return _send(session, [("BEGIN", ()), *statements], commit=False)[1:]
    return _send(session, statements, commit=False)


def autocommit_sessions(engine: Engine) -> sessionmaker[Session]:
    """PostgreSQL sessions on connections in autocommit mode, for a caller whose first
    statements go through :func:`run` (it sends the BEGIN) and whose last through
    :func:`commit_with`; a statement sent before the first :func:`run` runs on its
    own. An error still rolls the transaction back (psycopg sends ROLLBACK for an
    open transaction whatever the mode), and the pool resets the mode at check-in."""
    return sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"),
                        expire_on_commit=False)


def commit_with(session: Session, statements: Sequence[Statement]) -> str:
    """Run ``statements``, COMMIT, and wait until the commit is durable, all in one
    round trip; the caller then commits its session as usual (SQLAlchemy finds the
    connection idle and sends nothing).

    The transaction's locks (a flow's routing lock, say) are released as soon as
    its commit record is written, before the disk flush: the next batch, in any
    process, no longer waits for this one's flush (a lock held across an fsync
    was up to an eighth of a routing lock's hold under load). This function
    still returns only once the flush covers the commit (a transaction that
    commits synchronously right after it), so whoever is answered after it is
    answered for a durable commit, as before. A crash in between loses only
    commits nobody was answered for, and, the WAL being one sequence, never one
    that a later durable commit (a lead decided after it, say) depended on.

    Returns a WAL position (``pg_lsn`` text) after the commit's, already on disk."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("pipeline.commit_with: ORM changes not flushed")
    rows = _send(session, [*statements, _ASYNC, ("COMMIT", ()), _FLUSH], commit=True)
    return str(rows[-1][0][0])


def _send(session: Session, statements: Sequence[Statement], *,
          commit: bool) -> list[list[tuple[Any, ...]]]:
    import psycopg

    conn = session.connection()
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    cursors = []
    sql = ""
    params: tuple[Any, ...] = ()
    announce = conn._has_events or conn.engine._has_events  # as SQLAlchemy checks
    try:
        # one statement needs no pipeline (entering and leaving one costs a sync)
        with raw.pipeline() if len(statements) > 1 else contextlib.nullcontext():
            for sql, params in statements:
                cur = raw.cursor()
                if announce:
                    conn.dispatch.before_cursor_execute(conn, cur, sql, params, None, False)
                cur.execute(sql, params)
                cursors.append(cur)
    except psycopg.Error as e:
        if raw.broken or raw.closed:
            conn.invalidate(e)
        raise exc.DBAPIError.instance(sql, params, e, psycopg.Error) from e
    if commit and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("pipeline.commit_with left a transaction open")
    return [cur.fetchall() if cur.description is not None else [] for cur in cursors]
