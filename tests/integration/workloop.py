"""Helpers shared by the work-loop tests: setups with offers, shotgun and pull
targets, posting leads through the batched capture path, and the loads check."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.conftest import SETUP, WEBSITE_KEY

from leadgate.bootstrap import App
from leadgate.services import capture, loads, snapshot
from leadgate.store import models as m

_RULES = SETUP.split("flows:")[0]


def setup_with(flow: str) -> str:
    """The test workspace (agents a1..a4 in team mumbai, a5 the manager) with ``flow``."""
    return (_RULES.replace("agents:\n", "agents:\n  - {key: a5, name: Boss Five}\n")
            + "flows:\n" + flow)


PUSH = setup_with("""
  - key: insurance
    rules:
      - name: Mumbai
        when: {field: city, eq: Mumbai}
        to: {team: mumbai, method: round_robin, accept_within: 5m}
        escalate: {agent: a5}
      - name: Delhi
        when: {field: city, eq: Delhi}
        to: {team: mumbai, method: round_robin, accept_within: 2m}
    fallback: {queue: unassigned}
""")

SHOTGUN = setup_with("""
  - key: insurance
    rules:
      - name: Mumbai
        when: {field: city, eq: Mumbai}
        to: {team: mumbai, method: shotgun, accept_within: 2m}
        escalate: {queue: managers}
    fallback: {queue: unassigned}
""")

PULL = setup_with("""
  - key: insurance
    rules:
      - name: Mumbai
        when: {field: city, eq: Mumbai}
        to: {agents: [a1, a2, a3], method: pull, mode: blind, queue: mumbai-pool, order: age}
      - name: Pune
        when: {field: city, eq: Pune}
        to: {agents: [a1, a2], method: pull, mode: selective, queue: pune-pick, order: score}
    fallback: {queue: unassigned}
""")

_counter = iter(range(10**7))


def lead_fields(i: int | None = None, **extra: Any) -> dict[str, Any]:
    n = next(_counter) if i is None else i
    return {"first_name": "Lead", "phone": f"+91 97{n:08d}", "city": "Mumbai", **extra}


def post(app: App, **fields: Any) -> int:
    """One lead through the batched capture path; returns its id."""
    return post_many(app, [lead_fields(**fields)])[0]


def post_many(app: App, payloads: list[dict[str, Any]]) -> list[int]:
    with app.uow() as uow:
        snap = snapshot.current(uow.session)
        source = snap.source_for_key(_hash(WEBSITE_KEY))
        assert source is not None
        subs = [capture.Submission(source_id=source.id, payload=p, received_at=app.clock())
                for p in payloads]
        out = capture.process(uow.session, subs, app.clock())
        uow.commit()
    ids = []
    for r in out:
        assert isinstance(r, capture.IngestResult) and r.status_code == 201, r
        assert r.lead_id is not None
        ids.append(r.lead_id)
    return ids


def _hash(secret: str) -> str:
    from leadgate.services import security

    return security.hash_secret(secret)


def lead_row(app: App, lead_id: int) -> m.Lead:
    with app.reader() as uow:
        lead = uow.session.get(m.Lead, lead_id)
        assert lead is not None
        uow.session.expunge(lead)
        return lead


def holder(app: App, lead_id: int) -> tuple[str, str | None, str | None]:
    """(status, assignee key, queue) of a lead."""
    lead = lead_row(app, lead_id)
    return lead.status, lead.assignee.key if lead.assignee else None, lead.queue


def events(app: App, lead_id: int) -> list[tuple[str, dict[str, Any]]]:
    with app.reader() as uow:
        return [(e.type, dict(e.data)) for e in uow.session.scalars(
            select(m.LeadEvent).where(m.LeadEvent.lead_id == lead_id).order_by(m.LeadEvent.id))]


def open_loads(app: App) -> dict[str, int]:
    """Open leads per agent key, as maintained."""
    with app.reader() as uow:
        snap = snapshot.current(uow.session)
        rows = loads.read(uow.session, [a.id for a in snap.agents.values()])
        return {snap.agents_by_id[i].key: r.open_leads for i, r in rows.items()}


def maintained(app: App) -> dict[int, tuple[Any, ...]]:
    with app.reader() as uow:
        snap = snapshot.current(uow.session)
        rows = loads.read(uow.session, [a.id for a in snap.agents.values()])
        now = app.clock()
        return {i: (r.open_leads, r.assigned_total, r.last_assigned_at,
                    r.to_domain(snap.agents_by_id[i].agent, now))
                for i, r in rows.items()}


def assert_loads_match_rebuild(app: App) -> None:
    """The loads kept in each transaction equal a recount from history."""
    before = maintained(app)
    with app.uow() as uow:
        infos = {a.id: a.agent for a in snapshot.current(uow.session).agents.values()}
        loads.rebuild(uow.session, infos, app.clock())
        uow.commit()
    assert maintained(app) == before


def offers_of(app: App, lead_id: int) -> list[tuple[str, str, int]]:
    """(agent, status, round) of every offer of a lead, in order."""
    with app.reader() as uow:
        return [(o.agent.key, o.status, o.round) for o in uow.session.scalars(
            select(m.Offer).where(m.Offer.lead_id == lead_id).order_by(m.Offer.id))]

