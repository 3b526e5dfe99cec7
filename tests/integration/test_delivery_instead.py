"""A flow rule that delivers to destinations instead of assigning a rep: the lead is
captured with status ``delivering``, its deliveries are queued in the same transaction,
no rep's load moves, and the worker sends it to real local receivers."""

from __future__ import annotations

from sqlalchemy import select
from tests.conftest import SETUP, apply_setup
from tests.integration.test_delivery_http import LEAD, deliveries_of, submit
from tests.receivers import http_receiver

from leadgate.bootstrap import App
from leadgate.services import jobs, loads
from leadgate.store import models as m

LIFE_RULE = """      - name: Life to the CRM
        when: {field: product, eq: life}
        deliver: DELIVER
"""


def setup_with(destinations: str, deliver: str) -> str:
    text = SETUP.replace("flows:\n", f"destinations:\n{destinations}\nflows:\n")
    return text.replace("    rules:\n", "    rules:\n" + LIFE_RULE.replace("DELIVER", deliver))


def test_deliver_only_rule_sends_the_lead_out_and_assigns_nobody(app: App) -> None:
    with http_receiver() as rx:
        apply_setup(app, setup_with(f"  - {{key: crm, kind: http, url: '{rx.url}/crm'}}",
                                    "[crm]"))
        lead_id = submit(app, {**LEAD, "product": "life"})
        with app.reader() as uow:
            lead = uow.session.get(m.Lead, lead_id)
            assert lead is not None
            assert (lead.status, lead.assignee_id, lead.queue) == ("delivering", None, None)
            assert lead.decision["outcome"] == "delivering"
            assert lead.decision["rule"] == "Life to the CRM"
            assert "instead of a rep" in lead.decision["summary"]
            events = [e.type for e in uow.session.scalars(
                select(m.LeadEvent).where(m.LeadEvent.lead_id == lead_id)
                .order_by(m.LeadEvent.id))]
            assert "delivering" in events and "assigned" not in events
            assert uow.session.scalar(select(m.Assignment).where(
                m.Assignment.lead_id == lead_id)) is None
            agents = list(uow.session.scalars(select(m.Agent)))
            got = loads.read(uow.session, [a.id for a in agents])
            assert all(x.open_leads == 0 and x.assigned_total == 0 for x in got.values())
        [queued] = deliveries_of(app, lead_id)
        assert (queued["destination"], queued["status"]) == ("crm", "pending")
        jobs.drain(app.uow, app.clock)
    [d] = deliveries_of(app, lead_id)
    assert d["status"] == "accepted"
    assert [r.path for r in rx.requests] == ["/crm"]
    assert rx.requests[0].json()["product"] == "life"

    # a health lead in Mumbai still goes to a rep by the next rule
    other = submit(app, {**LEAD, "phone": "+91 98123 40000", "email": "z@example.com"})
    with app.reader() as uow:
        lead = uow.session.get(m.Lead, other)
        assert lead is not None and lead.status == "assigned" and lead.assignee_id
    assert deliveries_of(app, other) == []


def test_first_accepting_instead_of_a_rep(app: App) -> None:
    def answer(r):  # type: ignore[no-untyped-def]
        return (422, "no") if r.path == "/a" else (200, "ok")

    with http_receiver(answer) as rx:
        apply_setup(app, setup_with(
            f"  - {{key: a, kind: http, url: '{rx.url}/a'}}\n"
            f"  - {{key: b, kind: http, url: '{rx.url}/b'}}\n"
            f"  - {{key: c, kind: http, url: '{rx.url}/c'}}",
            "{mode: first_accepting, to: [a, b, c]}"))
        lead_id = submit(app, {**LEAD, "product": "life"})
        for _ in range(4):
            jobs.drain(app.uow, app.clock)
    status = {d["destination"]: d["status"] for d in deliveries_of(app, lead_id)}
    assert status == {"a": "rejected", "b": "accepted", "c": "skipped"}
    with app.reader() as uow:
        lead = uow.session.get(m.Lead, lead_id)
        assert lead is not None and lead.status == "delivering"


def test_no_destination_condition_holds_so_a_rep_gets_it(app: App) -> None:
    with http_receiver() as rx:
        apply_setup(app, setup_with(
            f"  - {{key: crm, kind: http, url: '{rx.url}/crm'}}",
            "[{destination: crm, when: {field: company_size, gte: 100}}]"))
        small = submit(app, {**LEAD, "product": "life", "city": "Mumbai",
                             "company_size": 5})
        big = submit(app, {**LEAD, "product": "life", "company_size": 500,
                           "phone": "+91 98123 40001", "email": "big@example.com"})
        jobs.drain(app.uow, app.clock)
    with app.reader() as uow:
        s = uow.session.get(m.Lead, small)
        b = uow.session.get(m.Lead, big)
        assert s is not None and b is not None
        assert (s.status, s.decision["rule"]) == ("assigned", "Mumbai")
        assert "no destination's condition held" in str(s.decision["trace"])
        assert (b.status, b.decision["rule"]) == ("delivering", "Life to the CRM")
    assert deliveries_of(app, small) == []
    assert [d["status"] for d in deliveries_of(app, big)] == ["accepted"]
    assert len(rx.requests) == 1
