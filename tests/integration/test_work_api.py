"""The work loop over HTTP: shotgun claims, pull (blind and selective), reassign and
release, roles, problem+json errors, loads exact. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import FakeClock, apply_setup, create_users
from tests.integration.workloop import (
    PULL,
    PUSH,
    SHOTGUN,
    assert_loads_match_rebuild,
    events,
    holder,
    offers_of,
    open_loads,
    post,
)

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.services import jobs
from leadgate.store import models as m


def client_for(app: App, setup: str) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    apply_setup(app, setup)
    tokens = create_users(app)
    auth = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
    with TestClient(create_app(app=app, worker=False)) as c:
        yield c, auth


@pytest.fixture
def shotgun(app: App) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    yield from client_for(app, SHOTGUN)


@pytest.fixture
def pulling(app: App) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    yield from client_for(app, PULL)


@pytest.fixture
def pushing(app: App) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    yield from client_for(app, PUSH)


def problem(r: object, status: int, code: str) -> None:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    assert r.json()["code"] == code  # type: ignore[attr-defined]


def test_shotgun_first_claim_wins_and_the_second_gets_409(app: App, shotgun) -> None:
    c, auth = shotgun
    lead = post(app)
    assert holder(app, lead) == ("offered", None, None)
    mine = c.get("/v1/offers", headers=auth["a1"]).json()["items"]
    assert [(o["lead_id"], o["agent"], o["kind"]) for o in mine] == [(lead, "a1", "shotgun")]
    everyone = c.get("/v1/offers", params={"lead_id": lead}, headers=auth["manager"]).json()
    assert sorted(o["agent"] for o in everyone["items"]) == ["a1", "a2", "a3", "a4", "a5"][:4]
    r = c.post(f"/v1/leads/{lead}/claim", headers=auth["a2"])
    assert r.status_code == 200, r.text
    assert r.json()["assignee"]["key"] == "a2"
    problem(c.post(f"/v1/leads/{lead}/claim", headers=auth["a1"]), 409, "already_claimed")
    assert sorted(s for _, s, _ in offers_of(app, lead)) == ["accepted", "lost", "lost", "lost"]
    assert open_loads(app)["a2"] == 1
    assert "claimed" in [t for t, _ in events(app, lead)]
    assert_loads_match_rebuild(app)


def test_a_rep_who_went_away_since_the_offer_cannot_claim_it(app: App, shotgun) -> None:
    c, auth = shotgun
    lead = post(app)
    assert c.put("/v1/agents/a1/status", json={"status": "away"},
                 headers=auth["a1"]).status_code == 200
    r = c.post(f"/v1/leads/{lead}/claim", headers=auth["a1"])
    problem(r, 409, "not_eligible")
    assert "away" in r.json()["detail"]
    assert holder(app, lead) == ("offered", None, None)  # still open for the others
    assert c.post(f"/v1/leads/{lead}/claim", headers=auth["a2"]).status_code == 200
    assert open_loads(app)["a2"] == 1 and open_loads(app).get("a1", 0) == 0
    assert_loads_match_rebuild(app)


def test_an_unclaimed_shotgun_escalates_to_the_rules_queue(app: App, shotgun) -> None:
    lead = post(app)
    clock: FakeClock = app.clock  # type: ignore[assignment]
    clock.advance(minutes=2)
    jobs.drain(app.uow, app.clock)
    assert holder(app, lead) == ("queued", None, "managers")
    assert {s for _, s, _ in offers_of(app, lead)} == {"expired"}


def test_a_rep_cannot_see_or_answer_another_reps_offer(app: App, pushing) -> None:
    c, auth = pushing
    lead = post(app)  # offered to a1
    offer = c.get("/v1/offers", headers=auth["a1"]).json()["items"][0]
    assert c.get("/v1/offers", headers=auth["a2"]).json()["items"] == []
    problem(c.post(f"/v1/offers/{offer['id']}/accept", headers=auth["a2"]), 404, "not_found")
    r = c.post(f"/v1/offers/{offer['id']}/decline", json={"reason": "on a call"},
               headers=auth["a1"])
    assert r.status_code == 200 and r.json()["offer"]["status"] == "declined"
    assert holder(app, lead) == ("offered", "a2", None)
    offer2 = c.get("/v1/offers", headers=auth["a2"]).json()["items"][0]
    r = c.post(f"/v1/offers/{offer2['id']}/accept", headers=auth["a2"])
    assert r.status_code == 200 and r.json()["lead"]["status"] == "assigned"
    problem(c.post(f"/v1/offers/{offer2['id']}/accept", headers=auth["a2"]), 409,
            "offer_closed")
    assert_loads_match_rebuild(app)


def test_blind_pull_gives_the_oldest_lead_a_rep_may_take(app: App, pulling) -> None:
    c, auth = pulling
    clock: FakeClock = app.clock  # type: ignore[assignment]
    first = post(app)
    clock.advance(minutes=1)
    second = post(app)
    assert holder(app, first) == ("queued", None, "mumbai-pool")
    r = c.post("/v1/pull", json={"queue": "mumbai-pool"}, headers=auth["a1"])
    assert r.status_code == 200 and r.json()["lead"]["id"] == first
    r = c.post("/v1/pull", headers=auth["a2"])
    assert r.json()["lead"]["id"] == second
    assert c.post("/v1/pull", headers=auth["a2"]).json() == {"lead": None}
    assert [t for t, _ in events(app, first)][-1] == "pulled"
    # a blind queue cannot be previewed by a rep; a4 is not in the pool at all
    problem(c.get("/v1/queues/mumbai-pool", headers=auth["a1"]), 403, "forbidden")
    assert open_loads(app)["a1"] == 1 and open_loads(app)["a2"] == 1
    assert_loads_match_rebuild(app)


def test_pull_refuses_a_rep_who_is_away(app: App, pulling) -> None:
    c, auth = pulling
    post(app)
    assert c.put("/v1/agents/a1/status", json={"status": "away"},
                 headers=auth["a1"]).status_code == 200
    problem(c.post("/v1/pull", headers=auth["a1"]), 409, "not_eligible")


def test_selective_queue_preview_and_claim(app: App, pulling) -> None:
    c, auth = pulling
    lead = post(app, city="Pune")
    page = c.get("/v1/queues/pune-pick", headers=auth["a1"]).json()
    assert (page["mode"], [x["id"] for x in page["items"]]) == ("selective", [lead])
    names = [q["name"] for q in c.get("/v1/queues", headers=auth["a2"]).json()["items"]]
    assert names == ["mumbai-pool", "pune-pick", "unassigned"]
    r = c.post(f"/v1/leads/{lead}/claim", headers=auth["a2"])
    assert r.status_code == 200 and r.json()["assignee"]["key"] == "a2"
    problem(c.post(f"/v1/leads/{lead}/claim", headers=auth["a1"]), 404, "not_found")
    # the unassigned queue is a pull queue too: nothing is forgotten
    stray = post(app, city="Nowhere")
    assert holder(app, stray) == ("unassigned", None, "unassigned")
    assert c.post("/v1/pull", json={"queue": "unassigned"},
                  headers=auth["a1"]).json()["lead"]["id"] == stray
    # release puts it back where it came from
    r = c.post(f"/v1/leads/{lead}/release", json={"reason": "wrong language"},
               headers=auth["a2"])
    assert r.status_code == 200 and r.json()["queue"] == "pune-pick"
    problem(c.post(f"/v1/leads/{lead}/release", headers=auth["a2"]), 404, "not_found")
    problem(c.post(f"/v1/leads/{lead}/release", headers=auth["manager"]), 409, "not_assigned")
    assert_loads_match_rebuild(app)


def test_reassign_is_audited_and_does_not_move_the_rotation(app: App) -> None:
    from tests.conftest import SETUP

    apply_setup(app)
    tokens = create_users(app)
    auth = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
    assert "round_robin" in SETUP
    with TestClient(create_app(app=app, worker=False)) as c:
        first = post(app)
        assert holder(app, first)[1] == "a1"
        problem(c.post(f"/v1/leads/{first}/reassign", json={"agent": "a3", "reason": "x"},
                       headers=auth["a1"]), 403, "forbidden")
        r = c.post(f"/v1/leads/{first}/reassign",
                   json={"agent": "a3", "reason": "speaks Marathi"}, headers=auth["manager"])
        assert r.status_code == 200 and r.json()["assignee"]["key"] == "a3"
        second = post(app)  # the rotation continues after a1, not after a3
        assert holder(app, second)[1] == "a2"
        r = c.post(f"/v1/leads/{second}/reassign", json={"queue": "review", "reason": "check"},
                   headers=auth["manager"])
        assert r.json()["status"] == "queued" and r.json()["queue"] == "review"
        problem(c.post(f"/v1/leads/{second}/reassign", json={"reason": "x"},
                       headers=auth["manager"]), 422, "invalid_body")
        # a rep cannot release someone else's lead
        problem(c.post(f"/v1/leads/{first}/release", headers=auth["a1"]), 404, "not_found")
    assert open_loads(app) == {"a1": 0, "a2": 0, "a3": 1, "a4": 0}
    with app.reader() as uow:
        audit = list(uow.session.scalars(select(m.AuditEntry).where(
            m.AuditEntry.entity == "lead").order_by(m.AuditEntry.id)))
    assert [(a.action, a.entity_key, a.after["reason"]) for a in audit] == [
        ("reassigned", str(first), "speaks Marathi"), ("reassigned", str(second), "check")]
    assert [t for t, _ in events(app, first)][-1] == "reassigned"
    assert_loads_match_rebuild(app)


def test_work_routes_are_in_the_openapi_document_with_problem_answers(app: App) -> None:
    with TestClient(create_app(app=app, worker=False)) as c:
        doc = c.get("/openapi.json").json()
    for path, method in (("/v1/offers", "get"), ("/v1/offers/{offer_id}/accept", "post"),
                         ("/v1/offers/{offer_id}/decline", "post"), ("/v1/pull", "post"),
                         ("/v1/leads/{lead_id}/claim", "post"), ("/v1/queues/{name}", "get"),
                         ("/v1/leads/{lead_id}/reassign", "post"),
                         ("/v1/leads/{lead_id}/release", "post")):
        op = doc["paths"][path][method]
        assert "application/problem+json" in op["responses"]["401"]["content"], path
    claim = doc["paths"]["/v1/leads/{lead_id}/claim"]["post"]["responses"]["409"]
    assert "already_claimed" in claim["description"]
