"""Delayed delivery with an injected clock: office hours across a time zone and a
public holiday, a date, and a condition met by a later PATCH of the lead; plus the
/v1/destinations and /v1/deliveries API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from tests.conftest import WEBSITE_KEY, FakeClock, apply_setup, create_users
from tests.integration.test_delivery_http import LEAD, deliveries_of, submit, with_delivery
from tests.receivers import http_receiver

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.services import jobs


@pytest.fixture(autouse=True)
def _at(clock: FakeClock) -> None:
    # Wednesday 2026-12-23 22:00 UTC = Thursday 24 Dec 03:30 in Kolkata
    clock.now = datetime(2026, 12, 23, 22, 0, tzinfo=UTC)


def test_office_hours_hold_until_next_open_across_time_zone_and_holiday(
        app: App, clock: FakeClock) -> None:
    with http_receiver() as rx:
        # office in Kolkata, mon-fri 09:00-18:00, Indian holidays: 25 Dec is Christmas
        apply_setup(app, with_delivery(
            f"  - {{key: hook, kind: http, url: '{rx.url}/x', hold: {{office_hours: "
            "{timezone: Asia/Kolkata, hours: {mon-fri: '09:00-18:00'}, holidays: IN}}}"))
        lead_id = submit(app)
        jobs.drain(app.uow, app.clock)
        [d] = deliveries_of(app, lead_id)
        assert d["status"] == "held"
        # opens Thursday 24 Dec 09:00 IST = 03:30 UTC
        assert d["next_attempt_at"] == "2026-12-24T03:30:00+00:00"
        clock.now = datetime(2026, 12, 24, 3, 29, tzinfo=UTC)
        jobs.drain(app.uow, app.clock)
        assert rx.requests == []
        clock.now = datetime(2026, 12, 24, 3, 31, tzinfo=UTC)
        jobs.drain(app.uow, app.clock)
        assert len(rx.requests) == 1
        # a lead on Christmas day (Friday) waits for Monday 28 Dec 09:00 IST
        clock.now = datetime(2026, 12, 25, 6, 0, tzinfo=UTC)
        other = submit(app, {**LEAD, "phone": "+91 98123 11111", "email": "x@example.com"})
        jobs.drain(app.uow, app.clock)
        [d2] = deliveries_of(app, other)
        assert (d2["status"], d2["next_attempt_at"]) == ("held", "2026-12-28T03:30:00+00:00")
    assert deliveries_of(app, lead_id)[0]["status"] == "accepted"


def test_hold_until_a_date(app: App, clock: FakeClock) -> None:
    with http_receiver() as rx:
        apply_setup(app, with_delivery(
            f"  - {{key: hook, kind: http, url: '{rx.url}/x'}}",
            deliver="[{destination: hook, hold: {until: '2027-01-02T09:00:00+01:00'}}]"))
        lead_id = submit(app)
        jobs.drain(app.uow, app.clock)
        assert deliveries_of(app, lead_id)[0]["next_attempt_at"] == "2027-01-02T08:00:00+00:00"
        clock.now = datetime(2027, 1, 2, 8, 0, 1, tzinfo=UTC)
        jobs.drain(app.uow, app.clock)
        assert len(rx.requests) == 1
    assert deliveries_of(app, lead_id)[0]["status"] == "accepted"


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(app=app, worker=False)) as c:
        yield c


def test_condition_hold_released_by_a_patch_from_the_same_source(
        app: App, client: TestClient) -> None:
    with http_receiver() as rx:
        apply_setup(app, with_delivery(
            f"  - {{key: hook, kind: http, url: '{rx.url}/x'}}",
            deliver="[{destination: hook, hold: {when: {field: company_size, exists: true}}}]"))
        tokens = create_users(app)
        lead_id = submit(app)
        jobs.drain(app.uow, app.clock)
        assert deliveries_of(app, lead_id)[0]["status"] == "held"
        h = {"Authorization": f"Bearer {WEBSITE_KEY}"}
        r = client.patch(f"/v1/leads/{lead_id}", json={"city": "Mumbai"}, headers=h)
        assert r.status_code == 200, r.text
        jobs.drain(app.uow, app.clock)
        assert rx.requests == []  # the condition still does not hold
        r = client.patch(f"/v1/leads/{lead_id}", json={"company_size": 40}, headers=h)
        assert r.status_code == 200 and r.json()["released_deliveries"] == 1
        jobs.drain(app.uow, app.clock)
        assert len(rx.requests) == 1 and rx.requests[0].json()["company_size"] == 40
        # users cannot patch leads; a user sees the delivery and its attempts
        mh = {"Authorization": f"Bearer {tokens['manager']}"}
        assert client.patch(f"/v1/leads/{lead_id}", json={"city": "X"},
                            headers=mh).status_code == 403
        listed = client.get(f"/v1/deliveries?lead_id={lead_id}", headers=mh).json()
        [d] = listed["items"]
        assert d["status"] == "accepted"
        one = client.get(f"/v1/deliveries/{d['id']}", headers=mh).json()
        assert len(one["attempt_log"]) == 1
        assert client.post(f"/v1/deliveries/{d['id']}/discard",
                           headers=mh).status_code == 409


def test_a_forms_second_step_updates_the_lead_and_releases_its_held_delivery(
        app: App, client: TestClient, clock: FakeClock) -> None:
    from urllib.parse import parse_qs, urlsplit

    with http_receiver() as rx:
        apply_setup(app, with_delivery(
            f"  - {{key: hook, kind: http, url: '{rx.url}/x'}}",
            deliver="[{destination: hook, hold: {when: {field: company_size, exists: true}}}]"))
        first = client.post("/f/web-form", data={k: str(v) for k, v in LEAD.items()},
                            follow_redirects=False)
        assert first.status_code == 303
        query = parse_qs(urlsplit(first.headers["location"]).query)
        lead_id, step = int(query["lead"][0]), query["step"][0]
        jobs.drain(app.uow, app.clock)
        assert deliveries_of(app, lead_id)[0]["status"] == "held"
        # step 2 of the form posts the token back with the fields it asks for
        second = client.post("/f/web-form", data={"_step": step, "company_size": "40"},
                             follow_redirects=False)
        assert second.status_code == 303
        assert parse_qs(urlsplit(second.headers["location"]).query)["lead"] == [str(lead_id)]
        jobs.drain(app.uow, app.clock)
        assert len(rx.requests) == 1 and rx.requests[0].json()["company_size"] == 40
        assert rx.requests[0].json()["first_name"] == "Asha"  # the same lead, updated
        # a forged, moved or expired token updates nothing and creates no lead
        bad = client.post("/f/web-form", data={"_step": step[:-2] + "xx", "city": "Pune"},
                          follow_redirects=False)
        assert "error=invalid_step" in bad.headers["location"]
        clock.advance(hours=25)
        late = client.post("/f/web-form", data={"_step": step, "city": "Pune"},
                           follow_redirects=False)
        assert "error=step_expired" in late.headers["location"]
        [d] = deliveries_of(app, lead_id)
        assert d["status"] == "accepted"
        assert client.get("/v1/leads", headers={"Authorization": "Bearer " + create_users(
            app)["manager"]}).json()["total"] == 1


def test_destinations_api_hides_secrets_previews_and_sends_a_test_lead(
        app: App, client: TestClient) -> None:
    with http_receiver() as rx:
        apply_setup(app, with_delivery(
            f"  - {{key: hook, kind: http, url: '{rx.url}/x', "
            "auth: {type: bearer, token: tok_very_secret}}", deliver="[]").replace(
            "        deliver: []\n", ""))
        tokens = create_users(app)
        lead_id = submit(app)
        mh = {"Authorization": f"Bearer {tokens['manager']}"}
        items = client.get("/v1/destinations", headers=mh).json()["items"]
        assert [d["key"] for d in items] == ["hook"]
        assert items[0]["spec"]["auth"]["token"] == "***"
        p = client.post("/v1/destinations/hook/preview", json={"lead_id": lead_id}, headers=mh)
        assert p.status_code == 200 and '"first_name":"Asha"' in p.json()["request"]["body"]
        assert rx.requests == []  # a preview sends nothing
        t = client.post("/v1/destinations/hook/test", json={"lead_id": lead_id}, headers=mh)
        assert t.status_code == 202
        jobs.drain(app.uow, app.clock)
        assert len(rx.requests) == 1
        agent = {"Authorization": f"Bearer {tokens['a1']}"}
        assert client.get("/v1/destinations", headers=agent).status_code == 403
