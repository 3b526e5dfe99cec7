"""Agents' live load, maintained in the transaction that changes it.

Routing needs, for each member of the pool it decides over: open leads, the
last assignment, assignments in the current hour/day/week/month (caps) and
won/closed counts over the performance window. Counting those from ``leads``
and ``assignments`` costs a scan of history per decision; instead each change
(an assignment, an outcome) updates one small row per agent, and routing reads
those rows by primary key (:func:`read`).

* Counts are changed with relative updates (``open_leads + 1``) in an upsert, so
  two transactions touching the same agent never lose an increment.
* A cap window is a (start, count) pair. The count applies while its start is
  the start of the current window in the agent's time zone; the first
  assignment of a new window resets it to 1.
* Outcomes are bucketed by the UTC day the lead was assigned; the performance
  window sums the buckets of its last 30 days (older ones are pruned when the
  row is next written).

:func:`rebuild` recomputes every row from history (migration, maintenance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import case, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from leadgate.domain.agents import Agent, AgentLoad, cap_window_starts
from leadgate.store import models as m
from leadgate.store.bulk import from_sqlite_time, sqlite_upsert
from leadgate.store.db import dumps

#: an offered lead holds its rep's capacity like an assigned one (services/offers.py)
OPEN_STATUSES = ("assigned", "offered")
CLOSED_STATUSES = ("won", "lost")
#: Outcomes of leads assigned within this window drive the performance method.
PERFORMANCE_DAYS = 30
WINDOWS = ("hour", "day", "week", "month")

T = m.AgentLoadRow.__table__


@dataclass
class LoadRow:
    """One agent's stored load, as read (plain data, no ORM)."""

    agent_id: int
    open_leads: int = 0
    assigned_total: int = 0
    last_assigned_at: datetime | None = None
    windows: Mapping[str, tuple[datetime | None, int]] | None = None
    outcomes: Mapping[str, Any] | None = None

    def to_domain(self, agent: Agent, now: datetime) -> AgentLoad:
        """The routing view at ``now``: only counts of the current windows apply."""
        assigned: dict[str, int] = {"total": self.assigned_total}
        if agent.capacity:
            starts = cap_window_starts(agent, now)
            for w in WINDOWS:
                start, n = (self.windows or {}).get(w, (None, 0))
                assigned[w] = n if start is not None and start == starts[w] else 0
        won, closed = performance(self.outcomes or {}, now)
        return AgentLoad(open_leads=self.open_leads, assigned=assigned,
                         last_assigned_at=self.last_assigned_at, won=won, closed=closed)


def _utc(v: datetime | None) -> datetime | None:
    if v is None:
        return None
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


def performance(outcomes: Mapping[str, Any], now: datetime) -> tuple[int, int]:
    """(won, closed) of leads assigned in the last PERFORMANCE_DAYS days."""
    first = (now.astimezone(UTC) - timedelta(days=PERFORMANCE_DAYS)).date().isoformat()
    won = closed = 0
    for day, (w, c) in outcomes.items():
        if day >= first:
            won += int(w)
            closed += int(c)
    return won, closed


def read(db: Session | Connection, agent_ids: Iterable[int], *,
         lock: bool = False) -> dict[int, LoadRow]:
    """The stored loads of these agents (missing rows read as zero), one statement.

    With ``lock`` (PostgreSQL), the rows are locked until commit, in agent id
    order, so two flows sharing agents cannot both fill the last slot of a cap.
    """
    ids = sorted(set(agent_ids))
    out = {i: LoadRow(i) for i in ids}
    if not ids:
        return out
    if db.get_bind().dialect.name == "sqlite":
        return _sqlite_read(db, ids, out)
    q = select(T).where(T.c.agent_id.in_(ids)).order_by(T.c.agent_id)
    if lock and db.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    for r in db.execute(q):
        out[r.agent_id] = LoadRow(
            agent_id=r.agent_id, open_leads=r.open_leads, assigned_total=r.assigned_total,
            last_assigned_at=_utc(r.last_assigned_at),
            windows={w: (_utc(getattr(r, f"{w}_start")), getattr(r, f"{w}_n"))
                     for w in WINDOWS},
            outcomes=r.outcomes or {})
    return out


#: SQLite: :func:`read` as one fixed text (the ids a JSON array), nothing compiled per call
_SQLITE_READ = (
    "SELECT agent_id, open_leads, assigned_total, last_assigned_at, "
    + ", ".join(f"{w}_start, {w}_n" for w in WINDOWS)
    + ", outcomes FROM agent_loads WHERE agent_id IN (SELECT value FROM json_each(?)) "
    "ORDER BY agent_id")


def _sqlite_read(db: Session | Connection, ids: list[int],
                 out: dict[int, LoadRow]) -> dict[int, LoadRow]:
    at = from_sqlite_time
    conn = db.connection() if isinstance(db, Session) else db
    for r in conn.exec_driver_sql(_SQLITE_READ, (dumps(ids),)):
        out[r[0]] = LoadRow(
            agent_id=r[0], open_leads=r[1], assigned_total=r[2], last_assigned_at=at(r[3]),
            windows={w: (at(r[4 + 2 * k]), r[5 + 2 * k]) for k, w in enumerate(WINDOWS)},
            outcomes=orjson.loads(r[12]) if r[12] else {})
    return out


def from_json(r: Mapping[str, Any]) -> LoadRow:
    """A LoadRow from PostgreSQL's ``row_to_json`` of an ``agent_loads`` row."""
    def at(v: Any) -> datetime | None:
        return _utc(datetime.fromisoformat(v)) if v is not None else None

    return LoadRow(
        agent_id=int(r["agent_id"]), open_leads=r["open_leads"],
        assigned_total=r["assigned_total"], last_assigned_at=at(r["last_assigned_at"]),
        windows={w: (at(r[f"{w}_start"]), r[f"{w}_n"]) for w in WINDOWS},
        outcomes=r["outcomes"] or {})


_statements: dict[tuple[str, Callable[[Any], dict[str, Any]]], Any] = {}


def _upsert(db: Session | Connection, rows: list[dict[str, Any]],
            set_: Callable[[Any], dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = db.get_bind().dialect.name
    stmt = _statements.get((dialect, set_))
    if stmt is None:  # built once per dialect and kind of change
        ins = (pg_insert(T) if dialect == "postgresql" else sqlite_insert(T))
        # RETURNING makes SQLAlchemy send one multi-row statement (one row per agent)
        stmt = ins.on_conflict_do_update(index_elements=[T.c.agent_id],
                                         set_=set_(ins.excluded)).returning(T.c.agent_id)
        _statements[(dialect, set_)] = stmt
    db.execute(stmt, rows)


def _add_assignments(ex: Any) -> dict[str, Any]:
    """Relative updates: counts added, window counts restarted when the window moved."""
    out: dict[str, Any] = {
        "open_leads": T.c.open_leads + ex.open_leads,
        "assigned_total": T.c.assigned_total + ex.assigned_total,
        "last_assigned_at": case(
            (T.c.last_assigned_at.is_(None), ex.last_assigned_at),
            (T.c.last_assigned_at < ex.last_assigned_at, ex.last_assigned_at),
            else_=T.c.last_assigned_at),
    }
    for w in WINDOWS:
        start, n = T.c[f"{w}_start"], T.c[f"{w}_n"]
        out[f"{w}_n"] = case((start == ex[f"{w}_start"], n + ex[f"{w}_n"]), else_=ex[f"{w}_n"])
        out[f"{w}_start"] = ex[f"{w}_start"]
    return out


def record_assignments(db: Session | Connection,
                       assigned: Iterable[tuple[int, Agent, datetime]]) -> None:
    """Count assignments (agent id, agent, when): one upsert for all of them.

    Several assignments of one agent are folded into one row, so a batch of
    leads costs one statement whatever its size.
    """
    rows = assignment_rows(assigned)
    if db.get_bind().dialect.name == "sqlite":
        # driver-level, like the capture batch's other SQLite inserts: SQLAlchemy's
        # per-value processing of a compiled multi-row upsert was most of its cost
        sqlite_upsert(db, T, rows, PG_ADD_ASSIGNMENTS)
        return
    _upsert(db, rows, _add_assignments)


def assignment_rows(assigned: Iterable[tuple[int, Agent, datetime]]) -> list[dict[str, Any]]:
    """The rows :func:`record_assignments` upserts, one per agent."""
    per_agent: dict[int, dict[str, Any]] = {}
    for agent_id, agent, at in assigned:
        row = per_agent.get(agent_id)
        starts = cap_window_starts(agent, at)
        if row is None:
            row = {"agent_id": agent_id, "open_leads": 0, "assigned_total": 0,
                   "last_assigned_at": at, "outcomes": {}}
            for w in WINDOWS:
                row[f"{w}_start"], row[f"{w}_n"] = starts[w], 0
            per_agent[agent_id] = row
        row["open_leads"] += 1
        row["assigned_total"] += 1
        row["last_assigned_at"] = max(row["last_assigned_at"], at)
        for w in WINDOWS:
            if row[f"{w}_start"] != starts[w]:  # a batch spanning a window boundary
                row[f"{w}_start"], row[f"{w}_n"] = starts[w], 0
            row[f"{w}_n"] += 1
    return list(per_agent.values())


#: :func:`record_assignments` as the ON CONFLICT clause of an ``INSERT ... SELECT``
#: on PostgreSQL (the capture batch sends it as a part of its one write statement)
PG_ADD_ASSIGNMENTS = (
    "ON CONFLICT (agent_id) DO UPDATE SET "
    "open_leads = agent_loads.open_leads + excluded.open_leads, "
    "assigned_total = agent_loads.assigned_total + excluded.assigned_total, "
    "last_assigned_at = CASE WHEN agent_loads.last_assigned_at IS NULL "
    "OR agent_loads.last_assigned_at < excluded.last_assigned_at "
    "THEN excluded.last_assigned_at ELSE agent_loads.last_assigned_at END, " + ", ".join(
        f"{w}_n = CASE WHEN agent_loads.{w}_start = excluded.{w}_start "
        f"THEN agent_loads.{w}_n + excluded.{w}_n ELSE excluded.{w}_n END, "
        f"{w}_start = excluded.{w}_start" for w in WINDOWS))


def change_open(db: Session | Connection, agent_id: int, delta: int) -> None:
    """Add ``delta`` to an agent's open leads (a lead closed, released or reassigned)."""
    dialect = db.get_bind().dialect.name
    ins = pg_insert(T) if dialect == "postgresql" else sqlite_insert(T)
    db.execute(ins.values(agent_id=agent_id, outcomes={}).on_conflict_do_nothing())
    floor = func.max if dialect == "sqlite" else func.greatest
    db.execute(update(T).where(T.c.agent_id == agent_id)
               .values(open_leads=floor(T.c.open_leads + delta, 0)))


def _outcome_value(status: str | None) -> tuple[int, int]:
    return {"won": (1, 1), "lost": (0, 1)}.get(status or "", (0, 0))


def lead_status_changed(db: Session | Connection, agent_id: int | None,
                        assigned_at: datetime | None, old: str | None, new: str,
                        now: datetime) -> None:
    """Keep the assignee's load right when a lead's status changes (outcomes)."""
    if agent_id is None:
        return
    if old in OPEN_STATUSES and new not in OPEN_STATUSES:
        change_open(db, agent_id, -1)
    elif new in OPEN_STATUSES and old not in OPEN_STATUSES:
        change_open(db, agent_id, +1)
    dw, dc = (a - b for a, b in zip(_outcome_value(new), _outcome_value(old), strict=True))
    if (dw or dc) and assigned_at is not None:
        _add_outcome(db, agent_id, _utc(assigned_at).date(), dw, dc, now)  # type: ignore[union-attr]


def _add_outcome(db: Session | Connection, agent_id: int, day: date, dw: int, dc: int,
                 now: datetime) -> None:
    q = select(T.c.outcomes).where(T.c.agent_id == agent_id)
    if db.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    current = db.execute(q).scalar()
    if current is None:
        change_open(db, agent_id, 0)  # create the row
        current = {}
    first = (now.astimezone(UTC) - timedelta(days=PERFORMANCE_DAYS + 1)).date().isoformat()
    buckets = {d: list(v) for d, v in dict(current).items() if d >= first}
    w, c = buckets.get(day.isoformat(), [0, 0])
    if day.isoformat() >= first:
        buckets[day.isoformat()] = [max(w + dw, 0), max(c + dc, 0)]
    db.execute(update(T).where(T.c.agent_id == agent_id).values(outcomes=buckets))


def rebuild(db: Session | Connection, agents: Mapping[int, Agent], now: datetime) -> int:
    """Recompute every agent's load from leads and assignments; returns rows written.

    Reads all of history, so it is for migrations and maintenance
    (``leadgate db rebuild-loads``), never for routing.
    """
    from sqlalchemy import delete

    lead, asg = m.Lead.__table__, m.Assignment.__table__
    open_counts = dict(db.execute(
        select(lead.c.assignee_id, func.count())
        .where(lead.c.status.in_(OPEN_STATUSES), lead.c.assignee_id.is_not(None))
        .group_by(lead.c.assignee_id)).all())
    totals = {a: (int(n), _utc(last)) for a, n, last in db.execute(
        select(asg.c.agent_id, func.count(), func.max(asg.c.assigned_at))
        .group_by(asg.c.agent_id)).all()}
    outcomes: dict[int, dict[str, list[int]]] = {}
    since = now - timedelta(days=PERFORMANCE_DAYS + 1)
    day = func.date(lead.c.assigned_at) if db.get_bind().dialect.name == "sqlite" else \
        func.to_char(func.timezone("UTC", lead.c.assigned_at), literal_column("'YYYY-MM-DD'"))
    for agent_id, d, won, closed in db.execute(
            select(lead.c.assignee_id, day, func.count().filter(lead.c.status == "won"),
                   func.count())
            .where(lead.c.status.in_(CLOSED_STATUSES), lead.c.assignee_id.is_not(None),
                   lead.c.assigned_at >= since)
            .group_by(lead.c.assignee_id, day)).all():
        outcomes.setdefault(agent_id, {})[str(d)] = [int(won), int(closed)]
    rows = []
    for agent_id, agent in agents.items():
        total, last = totals.get(agent_id, (0, None))
        row: dict[str, Any] = {
            "agent_id": agent_id, "open_leads": int(open_counts.get(agent_id, 0)),
            "assigned_total": total, "last_assigned_at": last,
            "outcomes": outcomes.get(agent_id, {})}
        starts = cap_window_starts(agent, now)
        counts = db.execute(
            select(*[func.count().filter(asg.c.assigned_at >= starts[w]) for w in WINDOWS])
            .where(asg.c.agent_id == agent_id)).one()
        for w, n in zip(WINDOWS, counts, strict=True):
            row[f"{w}_start"], row[f"{w}_n"] = starts[w], int(n)
        rows.append(row)
    db.execute(delete(T))
    if rows:
        db.execute(T.insert(), rows)
    return len(rows)


def bump(load: AgentLoad, at: datetime) -> AgentLoad:
    """``load`` after one more assignment at ``at`` (a batch deciding in memory)."""
    assigned = {k: v + 1 for k, v in load.assigned.items()}
    return AgentLoad(open_leads=load.open_leads + 1, assigned=assigned, last_assigned_at=at,
                     won=load.won, closed=load.closed)
