"""The rep's inbox and the manager's offers page over HTTP (in-process client):
scoping, accept / decline / claim / pull / take / outcome / status through the
console routes, CSRF, the live notices those actions publish, SLA breaches and
an audited reassignment. SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import WEBSITE_KEY, FakeClock, apply_setup, create_users
from tests.integration.test_console_pages import csrf_of, login
from tests.integration.workloop import events, holder, offers_of, setup_with

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.services import jobs, notify
from leadgate.store import models as m

WORK = setup_with("""
  - key: insurance
    rules:
      - name: Mumbai
        when: {field: city, eq: Mumbai}
        to: {agents: [a1, a2], method: shotgun, accept_within: 2m}
      - name: Delhi
        when: {field: city, eq: Delhi}
        to: {agents: [a1, a2], method: round_robin, accept_within: 5m}
      - name: Pune
        when: {field: city, eq: Pune}
        to: {agents: [a1, a2], method: pull, mode: selective, queue: pune-pick, order: score}
      - name: Goa
        when: {field: city, eq: Goa}
        to: {agents: [a1, a2], method: pull, mode: blind, queue: goa-pool, order: age}
    fallback: {queue: unassigned}
""")


@pytest.fixture
def tokens(app: App) -> dict[str, str]:
    """The work-loop setup and its users; their API tokens by agent key."""
    apply_setup(app, WORK)
    return create_users(app)


@pytest.fixture
def work(app: App, tokens: dict[str, str]) -> App:
    return app


@pytest.fixture
def client(work: App) -> Iterator[TestClient]:
    with TestClient(create_app(app=work, worker=False)) as c:
        yield c


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[notify.Notice]:
    """The live notices the console routes hand to the hub."""
    seen: list[notify.Notice] = []
    real = notify.publish_after_commit

    def spy(uow: Any, notices: list[notify.Notice]) -> None:
        seen.extend(notices)
        real(uow, notices)

    monkeypatch.setattr(notify, "publish_after_commit", spy)
    return seen


_n = iter(range(10**6))
SURNAMES = ("Rao", "Shah", "Iyer", "Nair", "Khan", "Gupta", "Patel", "Menon")


def post_lead(client: TestClient, city: str, **extra: Any) -> int:
    n = next(_n)
    body = {"first_name": "Rahul", "last_name": SURNAMES[n % len(SURNAMES)],
            "phone": f"+91 96{n:08d}", "city": city, **extra}
    r = client.post("/v1/leads", content=json.dumps(body),
                    headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                             "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def as_user(client: TestClient, email: str) -> dict[str, str]:
    """Log in as ``email`` (a fresh cookie); the HTMX headers with its CSRF token."""
    client.cookies.clear()
    assert login(client, email).status_code == 303
    return {"HX-Request": "true", "X-CSRF-Token": csrf_of(client.get("/console/tokens"))}


def agent_id(app: App, key: str) -> int:
    with app.reader() as uow:
        found = uow.session.scalar(select(m.Agent.id).where(m.Agent.key == key))
        assert found is not None
        return int(found)


def offer_of(app: App, lead_id: int, agent: str) -> int:
    with app.reader() as uow:
        found = uow.session.scalar(select(m.Offer.id).where(
            m.Offer.lead_id == lead_id, m.Offer.agent_id == agent_id(app, agent),
            m.Offer.status == "offered"))
        assert found is not None, (lead_id, agent)
        return int(found)


def push_leads(client: TestClient, work: App) -> dict[str, int]:
    """Two Delhi leads: round robin offers one to a1 and one to a2 (lead id by rep)."""
    ids = [post_lead(client, "Delhi"), post_lead(client, "Delhi")]
    by_rep = {holder(work, i)[1]: i for i in ids}
    assert set(by_rep) == {"a1", "a2"} and all(holder(work, i)[0] == "offered" for i in ids)
    return {k: v for k, v in by_rep.items() if k is not None}


def test_the_inbox_shows_only_my_offers_and_another_reps_offer_answers_404(
        client: TestClient, work: App) -> None:
    lead = push_leads(client, work)
    mine, theirs = offer_of(work, lead["a1"], "a1"), offer_of(work, lead["a2"], "a2")
    hx = as_user(client, "a1@example.com")
    page = client.get("/console/inbox")
    assert page.status_code == 200
    assert f'id="offer-{mine}"' in page.text and f'id="offer-{theirs}"' not in page.text
    assert "5:00 left" in page.text  # the countdown, rendered by the server first
    assert 'hx-trigger="leadgate:changed from:body"' in page.text  # live, not polled
    section = client.get("/console/inbox/offers")
    assert f'id="offer-{mine}"' in section.text and "<html" not in section.text
    r = client.post(f"/console/inbox/offers/{theirs}/accept", headers=hx)
    assert r.status_code == 404
    r = client.post(f"/console/inbox/offers/{theirs}/decline", headers=hx)
    assert r.status_code == 404
    assert holder(work, lead["a2"]) == ("offered", "a2", None)  # untouched


def test_accepting_an_offer_makes_the_lead_mine(client: TestClient, work: App,
                                                published: list[notify.Notice]) -> None:
    lead = push_leads(client, work)["a1"]
    offer = offer_of(work, lead, "a1")
    hx = as_user(client, "a1@example.com")
    r = client.post(f"/console/inbox/offers/{offer}/accept", headers=hx)
    assert r.status_code == 200
    assert r.headers["HX-Trigger"] == "leadgate:changed"
    assert unquote(r.headers["X-Console-Notice"]) == f"Lead {lead} is yours."
    assert holder(work, lead) == ("assigned", "a1", None)
    assert offers_of(work, lead) == [("a1", "accepted", 1)]
    assert [n.kind for n in published] == ["lead.assigned"]
    mine = client.get("/console/inbox/mine")
    assert f'id="mine-{lead}"' in mine.text
    assert f'id="offer-{offer}"' not in client.get("/console/inbox/offers").text
    # accepting twice is a conflict shown in the banner, not an error page of ours
    again = client.post(f"/console/inbox/offers/{offer}/accept", headers=hx)
    assert again.status_code == 409 and "accepted" in unquote(
        again.headers["X-Console-Message"])


def test_declining_moves_the_offer_on_and_tells_the_next_rep(
        client: TestClient, work: App, published: list[notify.Notice]) -> None:
    lead = push_leads(client, work)["a1"]
    hx = as_user(client, "a1@example.com")
    r = client.post(f"/console/inbox/offers/{offer_of(work, lead, 'a1')}/decline",
                    data={"reason": "not my language"}, headers=hx)
    assert r.status_code == 200, r.text
    assert holder(work, lead) == ("offered", "a2", None)
    assert [(n.kind, n.agent_id) for n in published] == [
        ("lead.offered", agent_id(work, "a2")), ("lead.declined", agent_id(work, "a1"))]
    declined = [d for t, d in events(work, lead) if t == "offer_declined"]
    assert declined[0]["reason"] == "not my language"
    as_user(client, "a2@example.com")
    assert f'data-lead="{lead}"' in client.get("/console/inbox/offers").text


def test_a_shotgun_claim_wins_once_and_the_loser_sees_someone_else_claimed_it(
        client: TestClient, work: App, published: list[notify.Notice]) -> None:
    lead = post_lead(client, "Mumbai")
    assert holder(work, lead) == ("offered", None, None)
    hx = as_user(client, "a2@example.com")
    shotgun = client.get("/console/inbox/shotgun").text
    assert f'id="shotgun-{lead}"' in shotgun and "2:00 left" in shotgun
    hx1 = as_user(client, "a1@example.com")
    assert client.post(f"/console/inbox/leads/{lead}/claim", headers=hx1).status_code == 200
    assert holder(work, lead) == ("assigned", "a1", None)
    assert ("lead.claimed", agent_id(work, "a2")) in [(n.kind, n.agent_id) for n in published]
    hx = as_user(client, "a2@example.com")
    lost = client.post(f"/console/inbox/leads/{lead}/claim", headers=hx)
    assert lost.status_code == 409
    assert unquote(lost.headers["X-Console-Message"]) == "Someone else claimed this lead."
    page = client.post(f"/console/inbox/leads/{lead}/claim",
                       data={"csrf_token": hx["X-CSRF-Token"]})
    assert page.status_code == 409 and "Someone else claimed this lead." in page.text
    assert f'id="shotgun-{lead}"' not in client.get("/console/inbox/shotgun").text
    with work.reader() as uow:
        rows = uow.session.scalars(select(m.Assignment).where(m.Assignment.lead_id == lead))
        assert [(a.agent_id, a.status) for a in rows] == [(agent_id(work, "a1"), "active")]
    assert sorted(s for _, s, _ in offers_of(work, lead)) == ["accepted", "lost"]


def test_pull_next_from_a_blind_queue_and_take_from_a_selective_preview(
        client: TestClient, work: App) -> None:
    goa = post_lead(client, "Goa")
    pune = post_lead(client, "Pune")
    assert holder(work, goa) == ("queued", None, "goa-pool")
    hx = as_user(client, "a1@example.com")
    queues = client.get("/console/inbox/queues").text
    assert 'data-queue="goa-pool"' in queues and "Pull next" in queues
    assert f'id="preview-{goa}"' not in queues  # blind: no preview
    assert f'id="preview-{pune}"' in queues
    r = client.post("/console/inbox/pull", data={"queue": "goa-pool"}, headers=hx)
    assert r.status_code == 200 and unquote(r.headers["X-Console-Notice"]) == \
        f"Lead {goa} is yours."
    assert holder(work, goa) == ("assigned", "a1", None)
    empty = client.post("/console/inbox/pull", data={"queue": "goa-pool"}, headers=hx)
    assert unquote(empty.headers["X-Console-Notice"]) == "Nothing is waiting in goa-pool."
    assert client.post(f"/console/inbox/leads/{goa}/take", headers=hx).status_code == 404
    assert client.post(f"/console/inbox/leads/{pune}/take", headers=hx).status_code == 200
    assert holder(work, pune) == ("assigned", "a1", None)
    mine = client.get("/console/inbox/mine").text
    assert f'id="mine-{goa}"' in mine and f'id="mine-{pune}"' in mine
    # a rep who is away cannot pull: a clear 409, not an error page of ours
    client.post("/console/inbox/status", data={"status": "away"}, headers=hx)
    post_lead(client, "Goa")
    away = client.post("/console/inbox/pull", data={"queue": "goa-pool"}, headers=hx)
    assert away.status_code == 409 and "cannot take a lead now" in unquote(
        away.headers["X-Console-Message"])


def test_outcome_buttons_record_contacted_won_and_lost(client: TestClient, work: App) -> None:
    first, second = post_lead(client, "Goa"), post_lead(client, "Goa")
    hx = as_user(client, "a1@example.com")
    client.post("/console/inbox/pull", data={"queue": "goa-pool"}, headers=hx)
    client.post("/console/inbox/pull", data={"queue": "goa-pool"}, headers=hx)
    url = f"/console/inbox/leads/{first}/outcome"
    assert client.post(url, data={"outcome": "contacted"}, headers=hx).status_code == 200
    r = client.post(url, data={"outcome": "won", "revenue": "1,250.50", "reason": "ignored"},
                    headers=hx)
    assert r.status_code == 200
    assert holder(work, first)[0] == "won"
    assert [d for t, d in events(work, first) if t == "won"] == [
        {"outcome": "won", "revenue": 1250.5}]
    client.post(f"/console/inbox/leads/{second}/outcome",
                data={"outcome": "lost", "reason": "wrong number"}, headers=hx)
    assert [d for t, d in events(work, second) if t == "lost"] == [
        {"outcome": "lost", "reason": "wrong number"}]
    assert "No open leads." in client.get("/console/inbox/mine").text
    bad = client.post(url, data={"outcome": "won", "revenue": "lots"}, headers=hx)
    assert bad.status_code == 422
    hx2 = as_user(client, "a2@example.com")  # not a2's lead
    other = client.post(url, data={"outcome": "contacted"}, headers=hx2)
    assert other.status_code == 404


def test_my_status_toggle_is_audited(client: TestClient, work: App) -> None:
    hx = as_user(client, "a1@example.com")
    r = client.post("/console/inbox/status", data={"status": "away"}, headers=hx)
    assert r.status_code == 200
    assert re.search(r'data-status="away"\s+disabled', r.text)
    with work.reader() as uow:
        agent = uow.session.scalar(select(m.Agent).where(m.Agent.key == "a1"))
        assert agent is not None and agent.status == "away"
        audit = uow.session.scalars(select(m.AuditEntry).where(
            m.AuditEntry.entity_key == "a1", m.AuditEntry.action == "status")).all()
        assert [(a.before, a.after) for a in audit] == [
            ({"status": "available"}, {"status": "away"})]
    assert client.post("/console/inbox/status", data={"status": "asleep"},
                       headers=hx).status_code == 422


def test_inbox_actions_need_the_csrf_token(client: TestClient, work: App) -> None:
    lead = push_leads(client, work)["a1"]
    offer = offer_of(work, lead, "a1")
    as_user(client, "a1@example.com")
    for url, data in ((f"/console/inbox/offers/{offer}/accept", {}),
                      (f"/console/inbox/offers/{offer}/decline", {}),
                      (f"/console/inbox/leads/{lead}/claim", {}),
                      ("/console/inbox/pull", {}),
                      ("/console/inbox/status", {"status": "away"})):
        assert client.post(url, data=data).status_code == 403, url
        assert client.post(url, data=data, headers={"X-CSRF-Token": "forged"}
                           ).status_code == 403, url
    assert holder(work, lead) == ("offered", "a1", None)
    hx = as_user(client, "boss@example.com")
    assert client.post(f"/console/offers/{lead}/reassign",
                       data={"to": "agent:a2", "reason": "x"}).status_code == 403
    assert holder(work, lead) == ("offered", "a1", None)
    assert hx  # the manager's token works below, in the reassign test


def test_a_manager_without_an_agent_sees_a_hint_and_reps_cannot_open_offers(
        client: TestClient) -> None:
    as_user(client, "boss@example.com")
    page = client.get("/console/inbox")
    assert page.status_code == 200 and "not linked to an agent" in page.text
    assert 'id="inbox-offers"' not in page.text
    assert client.get("/console/inbox/offers").status_code == 403
    assert 'href="/console/offers"' in page.text  # managers get the Offers page in the nav
    assert 'href="/console/inbox"' not in page.text  # and no inbox link without an agent
    as_user(client, "a1@example.com")
    leads = client.get("/console/leads")
    assert 'href="/console/inbox"' in leads.text and 'href="/console/offers"' not in leads.text
    assert client.get("/console/offers").status_code == 403
    assert client.get("/console/inbox/nonsense").status_code == 404


def test_the_offers_page_lists_offers_in_flight_and_sla_breaches(
        client: TestClient, work: App) -> None:
    clock: FakeClock = work.clock  # type: ignore[assignment]
    lead = push_leads(client, work)
    shot = post_lead(client, "Mumbai")
    as_user(client, "boss@example.com")
    page = client.get("/console/offers")
    assert page.status_code == 200
    flight = page.text.split('id="breaches"')[0]
    for key in ("a1", "a2"):
        assert f'id="flight-{offer_of(work, lead[key], key)}"' in flight
    assert f'data-lead="{shot}"' in flight and "shotgun" in flight
    assert "No breaches." in page.text
    clock.advance(minutes=3)  # the shotgun's 2 minutes are over; the timer has not run
    tables = client.get("/console/offers/tables").text
    breaches = tables.split('id="breaches"')[1]
    assert "past deadline" in breaches and "waiting for the timer" in breaches
    clock.advance(minutes=3)  # the push offers' 5 minutes too
    assert jobs.drain(work.uow, work.clock) >= 3
    breaches = client.get("/console/offers/tables").text.split('id="breaches"')[1]
    assert breaches.count(">expired<") == 4  # two push offers, the shotgun's two
    assert "offered to a2" in breaches and "offered to a1" in breaches  # bounced on
    assert "escalated to queue unassigned" in breaches
    assert "240 s" in breaches  # the shotgun's timer ran 4 minutes after its deadline
    assert "60 s" in breaches  # the push offers' 1 minute after theirs


def test_reassign_from_the_offers_page_is_audited_and_cancels_the_offer(
        client: TestClient, work: App, published: list[notify.Notice]) -> None:
    lead = push_leads(client, work)["a1"]
    hx = as_user(client, "boss@example.com")
    url = f"/console/offers/{lead}/reassign"
    missing = client.post(url, data={"to": "agent:a2", "reason": " "}, headers=hx)
    assert missing.status_code == 422 and "reason" in unquote(missing.headers[
        "X-Console-Message"])
    assert client.post(url, data={"to": "nobody", "reason": "x"}, headers=hx).status_code == 422
    r = client.post(url, data={"to": "agent:a2", "reason": "a1 is ill"}, headers=hx)
    assert r.status_code == 200, r.text
    assert holder(work, lead) == ("assigned", "a2", None)
    assert offers_of(work, lead) == [("a1", "cancelled", 1)]
    assert [(n.kind, n.agent_id) for n in published] == [
        ("lead.assigned", agent_id(work, "a2")), ("lead.reassigned", agent_id(work, "a1"))]
    with work.reader() as uow:
        audit = uow.session.scalars(select(m.AuditEntry).where(
            m.AuditEntry.entity == "lead", m.AuditEntry.entity_key == str(lead))).all()
        assert [(a.action, a.actor, a.before["agent"], a.after["agent"], a.after["reason"])
                for a in audit] == [("reassigned", "user:boss@example.com", "a1", "a2",
                                     "a1 is ill")]
    assert [d["reason"] for t, d in events(work, lead) if t == "reassigned"] == ["a1 is ill"]
    # and to a queue: the rep's pull preview shows it
    r = client.post(url, data={"to": "queue:pune-pick", "reason": "let them pick"},
                    headers=hx)
    assert r.status_code == 200
    assert holder(work, lead) == ("queued", None, "pune-pick")
    as_user(client, "a1@example.com")
    assert f'id="preview-{lead}"' in client.get("/console/inbox/queues").text


def test_a_claim_through_the_api_refreshes_the_other_reps_inbox_too(
        client: TestClient, work: App, tokens: dict[str, str],
        published: list[notify.Notice]) -> None:
    lead = post_lead(client, "Mumbai")
    r = client.post(f"/v1/leads/{lead}/claim",
                    headers={"Authorization": f"Bearer {tokens['a2']}"})
    assert r.status_code == 200, r.text
    assert [(n.kind, n.agent_id) for n in published] == [
        ("lead.assigned", agent_id(work, "a2")), ("lead.claimed", agent_id(work, "a1"))]


def test_the_timer_bounce_is_announced_to_the_next_rep_and_the_one_who_let_it_lapse(
        client: TestClient, work: App, published: list[notify.Notice]) -> None:
    clock: FakeClock = work.clock  # type: ignore[assignment]
    lead = push_leads(client, work)["a1"]
    published.clear()
    clock.advance(minutes=6)  # the push offers' 5 minutes are over
    assert jobs.drain(work.uow, work.clock) >= 2
    status, now_with, _ = holder(work, lead)
    assert status == "offered" and now_with not in (None, "a1")
    mine = [(n.kind, n.agent_id) for n in published if n.data["lead"]["id"] == lead]
    assert ("lead.offered", agent_id(work, now_with)) in mine  # the next rep, at once
    assert ("lead.expired", agent_id(work, "a1")) in mine  # gone from a1's inbox


def test_a_lead_joining_a_pull_queue_is_announced_to_the_reps_who_may_pull(
        client: TestClient, work: App, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[notify.Notice] = []
    monkeypatch.setattr(work.notices, "_deliver", lambda notices: seen.extend(notices))
    lead = post_lead(client, "Goa")  # the blind pull queue goa-pool of a1 and a2
    [n] = [x for x in seen if x.data["lead"]["id"] == lead]
    assert n.kind == "lead.queued" and n.agent_id is None
    pool = {agent_id(work, "a1"), agent_id(work, "a2")}
    assert set(n.agents) == pool

    loop = asyncio.new_event_loop()
    try:
        def sub(agent: int | None, everything: bool = False) -> notify.Subscription:
            return notify.Subscription(loop, agent, everything)

        assert all(sub(a).wants(n) for a in pool)
        assert not sub(agent_id(work, "a3")).wants(n)  # not in the pool
        assert sub(None, everything=True).wants(n)  # managers see every notice
        assert notify.Notice.from_json(n.to_json()) == n  # crosses processes intact
    finally:
        loop.close()
