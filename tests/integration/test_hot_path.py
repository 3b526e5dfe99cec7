"""The capture path costs the same whatever the history, and batches stay exact.

Statements are counted with a SQLAlchemy event listener (structural, not
timing): one routed lead issues the same statements with 0 and with 5,000
leads of history, none of them reads ``leads`` or ``assignments``, and a batch
of many leads issues no more statements than a batch of one.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select
from tests.conftest import WEBSITE_KEY

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.services import capture, loads, outcomes, snapshot
from leadgate.services.principal import Principal
from leadgate.store import models as m

#: statements in the transaction of one routed lead (the issue's target is 8), counted
#: with the transaction's own: on PostgreSQL the BEGIN, 4 of the batch's (advisory
#: locks of the dedupe keys, the lookup drawing the leads' ids, flow locks with the
#: loads, then one statement for every write and the NOTIFY) and the commit's 3
#: (commit without waiting for the disk, COMMIT, the flush that waits for it), in 3
#: round trips (store/pipeline.py); on SQLite (no round trips) one per table, 9, plus
#: its BEGIN IMMEDIATE
MAX_STATEMENTS = {"postgresql": 8, "sqlite": 10}


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, stmt: str, params: Any, ctx: Any, many: bool) -> None:
        seen.append(stmt)

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(app.engine, "before_cursor_execute", count)


def seed_history(app: App, n: int) -> None:
    """``n`` old leads: assigned, won and lost, with assignments, events and keys."""
    with app.uow() as uow:
        s = uow.session
        agents = [a for a, in s.execute(select(m.Agent.id).order_by(m.Agent.id))]
        campaign = s.scalar(select(m.Campaign.id))
        source = s.scalar(select(m.Source.id))
        start = datetime(2026, 8, 1, tzinfo=UTC)
        rows = []
        for i in range(n):
            at = start + timedelta(minutes=20 * i)
            rows.append({"campaign_id": campaign, "source_id": source,
                         "status": ("assigned", "won", "lost")[i % 3],
                         "values": {"first_name": "Old", "phone": f"+9198{i:08d}"}, "raw": {},
                         "reasons": [], "checks": [], "enrichment": {}, "consent": {},
                         "score_explanation": [], "assignee_id": agents[i % len(agents)],
                         "via": "api", "created_at": at, "assigned_at": at})
        ids = s.execute(insert(m.Lead).returning(m.Lead.id, sort_by_parameter_order=True),
                        rows).scalars().all()
        s.execute(insert(m.Assignment), [
            {"lead_id": lid, "agent_id": r["assignee_id"], "trace": {}, "status": "active",
             "assigned_at": r["assigned_at"], "flow_key": "insurance"}
            for lid, r in zip(ids, rows, strict=True)])
        s.execute(insert(m.LeadEvent), [
            {"lead_id": lid, "type": "received", "data": {}, "at": r["created_at"]}
            for lid, r in zip(ids, rows, strict=True)])
        s.execute(insert(m.DedupeKey), [
            {"campaign_id": campaign, "key": f"phone:{r['values']['phone']}", "lead_id": lid,
             "created_at": r["created_at"]} for lid, r in zip(ids, rows, strict=True)])
        infos = {a.id: a.agent for a in snapshot.current(s).agents.values()}
        loads.rebuild(s, infos, app.clock())
        uow.commit()


def lead(i: int) -> dict[str, str]:
    return {"first_name": "Asha", "phone": f"+91 97{i:08d}", "city": "Mumbai",
            "product": "health", "email": f"asha{i}@example.com"}


def post_counted(app: App, client: TestClient, i: int) -> list[str]:
    with statements(app) as seen:
        r = client.post("/v1/leads", content=json.dumps(lead(i)),
                        headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                                 "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "assigned"
    return seen


def shape(stmts: list[str]) -> list[str]:
    """Statements without their literal values (history must not change them)."""
    return [re.sub(r"\s+", " ", s).split(" WHERE ")[0][:60] for s in stmts]


def test_a_routed_lead_costs_the_same_with_5000_leads_of_history(workspace: App) -> None:
    with TestClient(create_app(app=workspace, worker=False)) as client:
        post_counted(workspace, client, 1)  # warm the configuration cache
        empty = post_counted(workspace, client, 2)
        seed_history(workspace, 5000)
        post_counted(workspace, client, 3)  # the seeding changed no configuration...
        full = post_counted(workspace, client, 4)
    assert len(empty) == len(full), (shape(empty), shape(full))
    assert shape(empty) == shape(full)
    # on PostgreSQL the batch's write statement also NOTIFYs the other processes (live
    # notices, delivered at commit): no statement or transaction of its own
    notify = [s for s in full if "pg_notify" in s]
    assert len(notify) == (1 if workspace.engine.dialect.name == "postgresql" else 0)
    assert len(full) <= MAX_STATEMENTS[workspace.engine.dialect.name], shape(full)
    for stmt in full:  # nothing on the hot path reads history
        assert not re.search(r"FROM (leads|assignments|lead_events)\b", stmt), stmt


def test_a_warm_lead_reads_no_configuration_rows(workspace: App) -> None:
    with TestClient(create_app(app=workspace, worker=False)) as client:
        post_counted(workspace, client, 1)
        seen = post_counted(workspace, client, 2)
    for stmt in seen:
        assert not re.search(r"FROM (sources|campaigns|flows|flow_versions|agents|"
                             r"scoring_models|api_tokens)\b", stmt), stmt


def test_a_configuration_change_is_seen_by_the_next_lead(workspace: App) -> None:
    with TestClient(create_app(app=workspace, worker=False)) as client:
        post_counted(workspace, client, 1)
        with workspace.uow() as uow:  # a2..a4 go away behind the cache's back
            for agent in uow.session.scalars(select(m.Agent).where(m.Agent.key != "a1")):
                agent.status = "away"
            uow.commit()
        keys = {client.post("/v1/leads", content=json.dumps(lead(10 + i)),
                            headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                                     "Content-Type": "application/json"},
                            ).json()["assignee"]["key"] for i in range(4)}
    assert keys == {"a1"}


def submissions(app: App, n: int, base: int = 100) -> list[capture.Submission]:
    return [capture.Submission(source_id=1, payload=lead(base + i), received_at=app.clock())
            for i in range(n)]


def run_batch(app: App, subs: list[capture.Submission]) -> tuple[list[Any], list[str]]:
    with statements(app) as seen, app.uow() as uow:
        results = capture.process(uow.session, subs, app.clock())
        uow.commit()
    return results, seen


def test_a_batch_of_20_leads_costs_the_statements_of_one(workspace: App) -> None:
    run_batch(workspace, submissions(workspace, 1, base=0))  # warm
    _, one = run_batch(workspace, submissions(workspace, 1, base=1))
    results, twenty = run_batch(workspace, submissions(workspace, 20, base=100))
    assert len(twenty) == len(one)
    assert [r.status_code for r in results] == [201] * 20
    # round robin stays exact inside a batch: 22 leads over four agents
    with workspace.reader() as uow:
        counts = Counter(uow.session.scalars(
            select(m.Agent.key).join(m.Lead, m.Lead.assignee_id == m.Agent.id)))
    assert sorted(counts.values()) == [5, 5, 6, 6]


def test_a_repeated_key_in_one_batch_waits_for_the_next(workspace: App) -> None:
    subs = submissions(workspace, 3)
    subs[2].payload = dict(subs[0].payload)  # same phone and email as the first
    results, _ = run_batch(workspace, subs)
    assert results[0].status_code == 201 and results[1].status_code == 201
    assert results[2] is capture.DEFER
    (again,), _ = run_batch(workspace, [subs[2]])
    assert again.status_code == 422
    assert again.body["reasons"][0]["code"] == "duplicate"
    assert f"lead {results[0].lead_id}" in again.body["reasons"][0]["message"]


def maintained(app: App) -> dict[int, tuple[Any, ...]]:
    with app.reader() as uow:
        snap = snapshot.current(uow.session)
        rows = loads.read(uow.session, [a.id for a in snap.agents.values()])
        now = app.clock()
        return {i: (r.open_leads, r.assigned_total, r.last_assigned_at,
                    r.to_domain(snap.agents_by_id[i].agent, now))
                for i, r in rows.items()}


def test_maintained_loads_equal_a_rebuild_from_history(workspace: App) -> None:
    with workspace.uow() as uow:  # a daily cap makes the window counters matter
        a1 = uow.session.scalar(select(m.Agent).where(m.Agent.key == "a1"))
        assert a1 is not None
        a1.spec = {**a1.spec, "capacity": {"daily": 50, "hourly": 40}}
        uow.commit()
    results, _ = run_batch(workspace, submissions(workspace, 30))
    workspace.clock.advance(hours=1)  # type: ignore[attr-defined]
    more, _ = run_batch(workspace, submissions(workspace, 10, base=500))
    boss = Principal(kind="user", name="boss", role="manager", user_id=1)
    for k, r in enumerate([*results, *more][:12]):
        with workspace.uow() as uow:
            outcomes.record_outcome(uow, boss, r.lead_id, ("won", "lost", "contacted")[k % 3],
                                    workspace.clock())
    before = maintained(workspace)
    with workspace.uow() as uow:
        infos = {a.id: a.agent for a in snapshot.current(uow.session).agents.values()}
        loads.rebuild(uow.session, infos, workspace.clock())
        uow.commit()
    after = maintained(workspace)
    assert before == after
    assert sum(v[0] for v in after.values()) == 40 - 8  # 8 leads won or lost
    assert sum(v[3].won for v in after.values()) == 4
    assert sum(v[3].closed for v in after.values()) == 8


@pytest.mark.parametrize("n", [0])
def test_statement_listener_counts(workspace: App, n: int) -> None:
    """The counting itself works (so the tests above cannot pass vacuously)."""
    with statements(workspace) as seen, workspace.reader() as uow:
        uow.session.execute(select(m.Lead.id).limit(1))
    assert len(seen) >= 1 + n


def test_waiting_leads_share_one_transaction_and_stay_exact(workspace: App) -> None:
    from concurrent.futures import Future

    from leadgate.services.group_commit import CaptureRouter

    router = CaptureRouter(workspace.uow, workspace.clock, ttl=timedelta(hours=24))
    futures: list[Future[Any]] = []
    for sub in submissions(workspace, 20):  # all waiting before the router starts
        fut: Future[Any] = Future()
        router._queue.put((sub, fut))
        futures.append(fut)
    router._ensure_started()
    answers = [f.result(timeout=60) for f in futures]
    router.stop()
    assert router.stats() == {"batches": 1, "leads": 20, "largest_batch": 20}
    assert [a.body["assignee"]["key"] for a in answers] == ["a1", "a2", "a3", "a4"] * 5
    with workspace.reader() as uow:
        assert len(uow.session.scalars(select(m.Assignment.id)).all()) == 20


def test_healthz_counts_group_commits(workspace: App) -> None:
    with TestClient(create_app(app=workspace, worker=False)) as client:
        post_counted(workspace, client, 1)
        post_counted(workspace, client, 2)
        capture_stats = client.get("/healthz").json()["capture"]
    assert capture_stats == {"batches": 2, "leads": 2, "largest_batch": 1}


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.postgres
@pytest.mark.parametrize(("history", "rows"), [(5000, 20000), (10, 3000)],
                         ids=["big tables", "young tables"])
def test_the_batch_lookup_reads_only_the_keys_it_asks_for(pg_url: str, history: int,
                                                          rows: int) -> None:
    """Rows scanned, not time: the lookup statement (stamps, do-not-contact, dedupe,
    idempotency) reads a handful of rows, with 5,000 leads of history and big
    tables, and with young tables: a few thousand rows never analysed, where a
    ``key = ANY(...)`` over the table made the planner read every row."""
    from tests.conftest import apply_setup, make_app

    app = make_app(pg_url)
    try:
        apply_setup(app)
        seed_history(app, history)
        with app.uow() as uow:  # big enough that reading every row would be a plan choice
            uow.session.execute(insert(m.Suppression), [
                {"key": f"phone:+9196{i:08d}", "created_at": app.clock()} for i in range(rows)])
            uow.session.execute(insert(m.IdempotencyKey), [
                {"source_id": 1, "key": f"old{i}", "body_hash": "x", "status_code": 201,
                 "response": {}, "created_at": app.clock()} for i in range(rows)])
            lead_id = uow.session.scalar(select(m.Lead.id).limit(1))
            uow.session.execute(insert(m.DedupeKey), [  # all inside the dedupe window
                {"campaign_id": 1, "key": f"email:h{i}@example.org", "lead_id": lead_id,
                 "created_at": app.clock() - timedelta(days=1)} for i in range(rows)])
            uow.commit()
        subs = submissions(app, 8, base=300)
        for i, s in enumerate(subs):
            s.idempotency_key = f"k{i}"
        seen: list[tuple[str, Any]] = []

        def keep(conn: Any, cursor: Any, stmt: str, params: Any, ctx: Any, many: bool) -> None:
            if "AS kind" in stmt:
                seen.append((stmt, params))

        event.listen(app.engine, "before_cursor_execute", keep)
        try:
            run_batch(app, subs)
        finally:
            event.remove(app.engine, "before_cursor_execute", keep)
        (stmt, params), = seen
        with app.engine.connect() as conn:
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + stmt, params)
            plan = cur.fetchone()[0][0]["Plan"]
        read: dict[str, int] = {}
        for node in _plan_nodes(plan):
            table = node.get("Relation Name")
            if table:
                read[table] = (read.get(table, 0) + node["Actual Rows"] * node["Actual Loops"]
                               + node.get("Rows Removed by Filter", 0)
                               + node.get("Rows Removed by Index Recheck", 0))
        assert read.get("dedupe_keys", 0) <= 16, read  # 8 leads x (phone, email)
        assert read.get("idempotency_keys", 0) <= 8, read
        assert read.get("suppressions", 0) <= 16, read
    finally:
        app.close()


@pytest.mark.postgres
def test_the_batch_statements_run_their_generic_plans(pg_url: str) -> None:
    """Plans, not time: PostgreSQL would plan the lookup of a one-lead batch anew every
    time (a custom plan looks cheaper for arrays of one key); the batch's transaction
    asks for the generic plans, so no batch statement is planned per execution."""
    from sqlalchemy import text
    from tests.conftest import apply_setup, make_app

    app = make_app(pg_url)
    try:
        apply_setup(app)
        plans: list[tuple[int, int, str]] = []
        for i in range(12):  # psycopg prepares a statement at its 5th execution
            with app.uow() as uow:
                capture.process(uow.session, submissions(app, 1, base=400 + i), app.clock())
                if i == 11:
                    plans = [tuple(r) for r in uow.session.execute(text(
                        "SELECT generic_plans, custom_plans, statement "
                        "FROM pg_prepared_statements"))]
                uow.commit()
        lookup = [p for p in plans if "AS kind" in p[2]]
        write = [p for p in plans if "INSERT INTO leads" in p[2]]
        assert lookup and write, plans  # the batch's statements are prepared ...
        assert all(custom == 0 and generic > 0 for generic, custom, _ in lookup + write), \
            [(g, c, s[:60]) for g, c, s in plans]  # ... and never planned per execution
        # psycopg parses a statement's text once and keeps it only up to 4,096 characters
        assert all(len(s) <= 4096 for _, _, s in lookup + write), [len(s) for *_, s in plans]
    finally:
        app.close()


def test_a_campaign_without_a_flow_keeps_its_leads_and_still_dedupes(workspace: App) -> None:
    from tests.conftest import apply_setup

    apply_setup(workspace, """
campaigns:
  - key: solar
    name: Solar
    fields:
      first_name: {type: string, required: true}
      phone: {type: phone, required: true}
    default_region: IN
    dedupe: {keys: [[phone]], window: 30d}
sources:
  - {key: roof, name: Roof, campaign: solar, api_key: lg_src_test_roof_key_00000000}
""")
    with workspace.reader() as uow:
        roof = uow.session.scalar(select(m.Source.id).where(m.Source.key == "roof"))
    subs = [capture.Submission(source_id=roof, payload={"first_name": "Ravi",
                                                        "phone": "+91 9700000777"},
                               received_at=workspace.clock()) for _ in range(2)]
    first, _ = run_batch(workspace, subs[:1])
    assert first[0].status_code == 201
    assert first[0].body["status"] == "unassigned" and first[0].body["queue"] == "unassigned"
    again, _ = run_batch(workspace, subs[1:])
    assert again[0].status_code == 422
    assert again[0].body["reasons"][0]["code"] == "duplicate"


def test_a_rotated_key_is_refused_although_the_cache_knew_it(workspace: App) -> None:
    from leadgate.services import accounts

    with TestClient(create_app(app=workspace, worker=False)) as client:
        post_counted(workspace, client, 1)  # the cache now knows the website key
        with workspace.uow() as uow:
            accounts.rotate_source_key(uow, "website")
            uow.commit()
        r = client.post("/v1/leads", content=json.dumps(lead(2)),
                        headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                                 "Content-Type": "application/json"})
    assert r.status_code == 401, r.text
    assert r.json()["status"] == 401
