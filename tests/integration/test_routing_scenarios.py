"""Routing scenarios from the demo seeds, over the HTTP API, and the
hold-until-open path with an injected clock."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from tests.conftest import FakeClock, apply_setup

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.services import configure, jobs
from leadgate.services.demo import demo_config

DEMO_KEY = "lg_src_demo_website_0123456789abcdef"


@pytest.fixture
def demo(app: App) -> Iterator[TestClient]:
    data, lines = configure.load_yaml(demo_config())
    with app.uow() as uow:
        configure.apply(uow, data, app.clock(), lines=lines)
    with TestClient(create_app(app=app, worker=False)) as c:
        yield c


_n = iter(range(10**6))


def post(client: TestClient, **fields: object) -> dict:
    i = next(_n)
    fields.setdefault("phone", f"+91 98{i:08d}")
    fields.setdefault("first_name", "Lead")
    r = client.post("/v1/leads", json=fields, headers={"Authorization": f"Bearer {DEMO_KEY}"})
    assert r.status_code == 201, r.text
    return r.json()


def test_mumbai_health_lead_goes_to_a_mumbai_health_agent(demo: TestClient) -> None:
    got = Counter(post(demo, city="Mumbai", product="health")["assignee"]["key"]
                  for _ in range(6))
    assert got == {"arjun": 3, "priya": 3}  # meera (life only) never


def test_brazil_lead_goes_to_a_portuguese_speaker_based_in_brazil(demo: TestClient) -> None:
    for country in ("BR", "Brasil", "Brazil", "BRA"):
        lead = post(demo, country=country, phone=f"+55 11 9{next(_n):04d} 5678")
        assert lead["assignee"]["key"] in {"ana", "bruno"}, (country, lead)
    # tiago speaks Portuguese but works Portugal: never for Brazil


def test_enterprise_lead_goes_to_the_enterprise_tier(demo: TestClient) -> None:
    for size in (1000, 5000, 250000):
        lead = post(demo, company_size=size, country="IN")
        assert lead["assignee"]["key"] in {"elena", "farid", "grace"}


def test_lead_from_india_never_goes_to_the_us_team(demo: TestClient) -> None:
    rnd = random.Random(7)
    cities = ["Mumbai", "Pune", "Delhi", "Chennai", None]
    seen = Counter()
    for _ in range(40):
        fields: dict[str, object] = {"country": rnd.choice(["IN", "India", "Inde", None])}
        city = rnd.choice(cities)
        if city:
            fields["city"] = city
        fields["product"] = rnd.choice(["health", "life"])
        fields["company_size"] = rnd.choice([5, 50, 500, 999])
        lead = post(demo, **{k: v for k, v in fields.items() if v is not None})
        assignee = (lead["assignee"] or {}).get("key")
        seen[assignee] += 1
        assert assignee not in {"ben", "cy"}, lead
    assert seen[None] == 0, "every Indian lead finds an Indian agent"


HOURS = """
campaigns:
  - key: c
    name: C
    fields:
      first_name: {type: string, required: true}
      phone: {type: phone, required: true}
    default_region: DE
    flow: f
sources:
  - {key: s, name: S, campaign: c, api_key: lg_src_hours_key_00000000000}
teams:
  - {key: berlin, name: Berlin}
agents:
  - {key: hanna, name: Hanna, teams: [berlin], timezone: Europe/Berlin,
     working_hours: {mon-fri: "09:00-17:00"}, holidays: DE}
flows:
  - key: f
    rules:
      - name: Berlin
        to: {team: berlin, method: round_robin}
        when_nobody: hold
"""


def test_lead_outside_hours_is_held_and_placed_when_the_shift_opens(app: App,
                                                                   clock: FakeClock) -> None:
    # Saturday 2026-03-28 12:00 UTC; DST starts in Berlin on Sunday 03-29;
    # Monday 09:00 Berlin is then 07:00 UTC (not 08:00).
    clock.now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    apply_setup(app, HOURS)
    with TestClient(create_app(app=app, worker=False)) as c:
        r = c.post("/v1/leads", json={"first_name": "Jan", "phone": "030 1234567"},
                   headers={"Authorization": "Bearer lg_src_hours_key_00000000000"})
    assert r.status_code == 201
    assert r.json()["status"] == "queued"
    assert jobs.drain(app.uow, app.clock) == 0  # the wake-up job is not due yet
    clock.now = datetime(2026, 3, 30, 6, 59, tzinfo=UTC)
    assert jobs.drain(app.uow, app.clock) == 0
    clock.now = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert jobs.drain(app.uow, app.clock) >= 1
    from leadgate.store import models as m

    with app.reader() as uow:
        lead = uow.session.get(m.Lead, r.json()["id"])
        assert lead is not None
        assert lead.status == "assigned" and lead.assignee is not None
        assert lead.assignee.key == "hanna"
        assert lead.assigned_at == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_public_holiday_holds_the_lead_until_the_next_working_day(app: App,
                                                                  clock: FakeClock) -> None:
    # 2026-10-03 is German Unity Day, a Saturday; use Good Friday 2026-04-03 instead.
    clock.now = datetime(2026, 4, 3, 10, 0, tzinfo=UTC)  # Friday, 12:00 in Berlin
    apply_setup(app, HOURS)
    with TestClient(create_app(app=app, worker=False)) as c:
        r = c.post("/v1/leads", json={"first_name": "Eva", "phone": "030 7654321"},
                   headers={"Authorization": "Bearer lg_src_hours_key_00000000000"})
    assert r.json()["status"] == "queued"
    from leadgate.store import models as m

    with app.reader() as uow:
        lead = uow.session.get(m.Lead, r.json()["id"])
        assert lead is not None and lead.decision is not None
        assert "holiday" in str(lead.decision["trace"])
    # Easter Monday (04-06) is a holiday too: the lead waits for Tuesday 09:00 Berlin
    clock.now = datetime(2026, 4, 6, 7, 30, tzinfo=UTC)
    jobs.drain(app.uow, app.clock)
    with app.reader() as uow:
        lead = uow.session.get(m.Lead, r.json()["id"])
        assert lead is not None and lead.status == "queued"
    clock.now = datetime(2026, 4, 7, 7, 0, tzinfo=UTC)
    jobs.drain(app.uow, app.clock)
    with app.reader() as uow:
        lead = uow.session.get(m.Lead, r.json()["id"])
        assert lead is not None and lead.status == "assigned"


CAPPED = HOURS.replace(
    """  - {key: hanna, name: Hanna, teams: [berlin], timezone: Europe/Berlin,
     working_hours: {mon-fri: "09:00-17:00"}, holidays: DE}""",
    """  - {key: hanna, name: Hanna, teams: [berlin], timezone: Europe/Berlin,
     capacity: {daily: 1}}""")


def test_lead_held_by_a_daily_cap_is_placed_after_the_cap_resets(app: App,
                                                                 clock: FakeClock) -> None:
    from leadgate.services import handlers
    from leadgate.store import models as m

    clock.now = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)  # 11:00 in Berlin
    apply_setup(app, CAPPED)
    key = {"Authorization": "Bearer lg_src_hours_key_00000000000"}
    with TestClient(create_app(app=app, worker=False)) as c:
        first = c.post("/v1/leads", json={"first_name": "Jan", "phone": "030 1234567"},
                       headers=key).json()
        second = c.post("/v1/leads", json={"first_name": "Eva", "phone": "030 7654321"},
                        headers=key).json()
    assert first["status"] == "assigned"
    assert second["status"] == "queued"
    with app.uow() as uow:  # the worker's periodic look: still capped today
        handlers.schedule_queue_retry(uow, clock.now)
    jobs.drain(app.uow, app.clock)
    with app.reader() as uow:
        lead = uow.session.get(m.Lead, second["id"])
        assert lead is not None and lead.status == "queued"
        assert "cap_daily" in str(lead.decision)
    clock.now = datetime(2026, 5, 5, 22, 1, tzinfo=UTC)  # 00:01 in Berlin: a new day
    with app.uow() as uow:
        handlers.schedule_queue_retry(uow, clock.now)
    jobs.drain(app.uow, app.clock)
    with app.reader() as uow:
        lead = uow.session.get(m.Lead, second["id"])
        assert lead is not None and lead.status == "assigned"
