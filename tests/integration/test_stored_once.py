"""What a captured lead stores once: its routing decision (not copied to its
assignment) and its checks as short arrays; both read back as before."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from tests.conftest import WEBSITE_KEY, create_users

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.domain.qualify import pack_checks, unpack_checks
from leadgate.services import routing
from leadgate.store import models as m


def post(client: TestClient, i: int) -> dict[str, Any]:
    r = client.post("/v1/leads", headers={"X-API-Key": WEBSITE_KEY}, json={
        "first_name": "Asha", "phone": f"+91 98765{i:05d}", "email": f"asha{i}@example.com",
        "city": "Mumbai"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_an_assigned_lead_stores_its_decision_once_and_keeps_it_when_decided_again(
        workspace: App) -> None:
    client = TestClient(create_app(app=workspace))
    lead_id = post(client, 1)["id"]
    with workspace.uow() as uow:
        lead = uow.session.get(m.Lead, lead_id)
        assert lead is not None and lead.status == "assigned"
        first = dict(lead.decision)
        first_agent = lead.assignee_id
        # stored NULL: the trace is the lead's own decision (no JSON null either)
        assert uow.session.execute(text(
            "SELECT count(*) FROM assignments WHERE lead_id = :i AND trace IS NULL"),
            {"i": lead_id}).scalar() == 1
        # the lead is decided again (as a re-route does): the first assignment keeps
        # the decision that made it, the new one points at the lead's new decision
        routing.route_lead(uow, lead, workspace.clock(), actor="test")
        uow.commit()
    with workspace.uow() as uow:
        lead = uow.session.get(m.Lead, lead_id)
        assert lead is not None
        rows = uow.session.execute(select(m.Assignment.agent_id, m.Assignment.trace)
                                   .where(m.Assignment.lead_id == lead_id)
                                   .order_by(m.Assignment.id)).all()
        assert len(rows) == 2 and rows[0][0] == first_agent
        assert rows[0][1] == first
        assert rows[1][1] is None and lead.decision != first
        assert lead.decision["summary"] and rows[1][0] == lead.assignee_id


def test_checks_are_stored_as_arrays_and_read_back_as_objects(workspace: App) -> None:
    client = TestClient(create_app(app=workspace))
    lead_id = post(client, 2)["id"]
    with workspace.uow() as uow:
        stored = uow.session.scalar(select(m.Lead.checks).where(m.Lead.id == lead_id))
    assert stored and all(isinstance(row, list) for row in stored)
    token = create_users(workspace)["manager"]
    detail = client.get(f"/v1/leads/{lead_id}",
                        headers={"Authorization": f"Bearer {token}"}).json()
    checks = detail["checks"]
    assert {"code": "invalid_phone", "field": "phone", "passed": True, "action": "reject",
            "message": ""} in checks
    assert len(checks) == len(stored)
    assert all(set(c) == {"code", "field", "passed", "action", "message"} for c in checks)


def test_packing_checks_round_trips_and_reads_the_older_objects() -> None:
    checks = [
        {"code": "required", "field": "phone", "passed": True, "action": "reject",
         "message": ""},
        {"code": "junk_name", "field": "first_name", "passed": False, "action": "flag",
         "message": "First name looks like junk."},
        {"code": "invalid_email", "field": "email", "passed": False, "action": "reject",
         "message": ""},  # failed with no message: still failed
    ]
    packed = pack_checks(checks)
    assert packed[0] == ["required", "phone", "reject"]
    assert unpack_checks(packed) == checks
    assert unpack_checks(checks) == checks  # leads stored before the arrays
    assert unpack_checks(None) == []


def test_the_stored_trace_leaves_out_what_its_decision_record_says(workspace: App) -> None:
    client = TestClient(create_app(app=workspace))
    lead_id = post(client, 3)["id"]
    with workspace.uow() as uow:
        stored = uow.session.scalar(select(m.Lead.decision).where(m.Lead.id == lead_id))
    assert stored is not None
    assert not {"flow", "outcome", "summary", "now"} & set(stored["trace"])
    token = create_users(workspace)["manager"]
    shown = client.get(f"/v1/leads/{lead_id}",
                       headers={"Authorization": f"Bearer {token}"}).json()["decision"]
    trace = shown["trace"]
    assert trace["summary"] == shown["summary"] and trace["outcome"] == "assigned"
    assert trace["flow"] == "insurance" and trace["now"] == shown["decided_at"]
    assert trace["rules"] == stored["trace"]["rules"]
    # a record stored whole (before) is shown as it is
    whole = {**stored, "trace": {**stored["trace"], "summary": "then", "flow": "x",
                                 "outcome": "queued", "now": "2026-01-01T00:00:00+00:00"}}
    assert routing.decision_view(whole) == whole


def test_the_received_row_holds_the_qualified_step_and_the_timeline_shows_both(
        workspace: App) -> None:
    client = TestClient(create_app(app=workspace))
    lead_id = post(client, 4)["id"]
    with workspace.uow() as uow:
        rows = uow.session.execute(select(m.LeadEvent.type, m.LeadEvent.data)
                                   .where(m.LeadEvent.lead_id == lead_id)
                                   .order_by(m.LeadEvent.id)).all()
    assert [r[0] for r in rows] == ["received", "assigned"]  # two rows, three steps
    assert rows[0][1]["via"] == "api" and rows[0][1]["qualified"]["actor"] == "gatekeeper"
    token = create_users(workspace)["manager"]
    timeline = client.get(f"/v1/leads/{lead_id}",
                          headers={"Authorization": f"Bearer {token}"}).json()["timeline"]
    assert [(e["type"], e["actor"]) for e in timeline] == [
        ("received", "source:website"), ("qualified", "gatekeeper"), ("assigned", "router")]
    assert timeline[0]["data"] == {"via": "api"}
    assert timeline[1]["data"] == {"score": None, "grade": None}
    assert timeline[1]["at"] == timeline[2]["at"]  # decided in the same batch


def test_a_lead_row_made_of_its_json_before_the_lock_and_its_decision_reads_back_whole(
        workspace: App) -> None:
    """On PostgreSQL the lead row's undecided columns are encoded before the flow's
    lock and the decided ones joined to them under it (capture/write.py): every
    column reads back as the qualification and the decision made it."""
    from leadgate.services import capture, snapshot

    payload = {"first_name": "Zoë \"Z\" O'Brien \\ ✓", "phone": "+91 9876512345",
               "email": "zoe@example.com", "city": "Mumbai"}
    client = TestClient(create_app(app=workspace))
    r = client.post("/v1/leads", headers={"X-API-Key": WEBSITE_KEY}, json=payload)
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["status"] == "assigned", answer
    with workspace.uow() as uow:
        s = uow.session
        lead = s.get(m.Lead, answer["id"])
        assert lead is not None
        sub = capture.Submission(source_id=lead.source_id, payload=payload,
                                 received_at=lead.created_at)
        capture.prepare(snapshot.current(s), sub)  # the same qualification, again
        q = sub.q
        assert q is not None
        assert (lead.values, lead.raw, lead.enrichment, lead.consent) == \
            (q.values, q.raw, q.enrichment, q.consent)
        assert unpack_checks(lead.checks) == unpack_checks(pack_checks(q.checks))
        assert (lead.score, lead.grade, lead.score_explanation) == \
            (q.score, q.grade, q.score_explanation)
        assert lead.raw["first_name"] == "Zoë \"Z\" O'Brien \\ ✓"
        assert (lead.status, lead.via, lead.duplicate_of_id) == (answer["status"], "api", None)
        assignee = s.get(m.Agent, lead.assignee_id)
        assert assignee is not None and assignee.key == answer["assignee"]["key"]
        assert lead.flow_key and lead.flow_version
        assert lead.decision["outcome"] == "assigned" and lead.decision["flow"] == lead.flow_key
        assert lead.assigned_at is not None and lead.created_at.isoformat() == \
            answer["created_at"]
