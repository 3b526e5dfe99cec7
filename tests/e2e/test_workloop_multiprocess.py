"""The work loop under real concurrency: two ``serve`` processes on one PostgreSQL
database, many reps claiming and pulling at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tests.conftest import PASSWORD, apply_setup, make_app
from tests.e2e.servers import servers
from tests.integration.workloop import assert_loads_match_rebuild, open_loads, post_many

from leadgate.bootstrap import App
from leadgate.services import accounts
from leadgate.store import models as m

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CAMPAIGN = """
campaigns:
  - key: insurance
    name: Insurance
    fields:
      first_name: {type: string, required: true}
      phone: {type: phone, required: true}
      city: {type: string}
    default_region: IN
    flow: floor
sources:
  - {key: website, name: Website, campaign: insurance, api_key: lg_src_test_website_key_0000}
teams:
  - {key: floor, name: Floor}
"""


def real_app(url: str) -> App:
    """The servers run on the real clock, so the test's writes must too (deadlines)."""
    return make_app(url, lambda: datetime.now(UTC))


def setup(n: int, target: str) -> str:
    agents = "agents:\n" + "".join(f"  - {{key: r{i:02d}, name: Rep {i}, teams: [floor]}}\n"
                                   for i in range(n))
    return (CAMPAIGN + agents + "flows:\n  - key: floor\n    rules:\n"
            f"      - name: Floor\n        to: {target}\n    fallback: {{queue: unassigned}}\n")


def rep_tokens(app: App, n: int) -> list[str]:
    out = []
    with app.uow() as uow:
        for i in range(n):
            user = accounts.create_user(uow, f"r{i:02d}@example.com", PASSWORD, "agent",
                                        app.clock(), agent_key=f"r{i:02d}")
            out.append(accounts.create_token(uow, user, "e2e", app.clock()))
        uow.commit()
    return out


def payloads(n: int) -> list[dict[str, str]]:
    return [{"first_name": "Lead", "phone": f"+91 96{i:08d}", "city": "Mumbai"}
            for i in range(n)]


def test_50_reps_claiming_one_shotgun_lead_make_exactly_one_winner(
        pg_url: str, tmp_path: Path) -> None:
    app = real_app(pg_url)
    apply_setup(app, setup(50, "{team: floor, method: shotgun, accept_within: 10m}"))
    tokens = rep_tokens(app, 50)
    (lead,) = post_many(app, payloads(1))

    async def claim_all(urls: list[str]) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=50)) as c:
            return await asyncio.gather(*(
                c.post(f"{urls[i % 2]}/v1/leads/{lead}/claim",
                       headers={"Authorization": f"Bearer {t}"})
                for i, t in enumerate(tokens)))

    with servers(pg_url, 2, tmp_path) as procs:
        answers = asyncio.run(claim_all([p.url for p in procs]))
    codes = Counter(r.status_code for r in answers)
    assert codes == {200: 1, 409: 49}, [r.text for r in answers][:2]
    refused = [r for r in answers if r.status_code == 409]
    assert {r.json()["code"] for r in refused} == {"already_claimed"}
    assert all(r.headers["content-type"].startswith("application/problem+json")
               for r in refused)
    winner = next(r.json()["assignee"]["key"] for r in answers if r.status_code == 200)
    with app.reader() as uow:
        s = uow.session
        statuses = Counter(s.scalars(select(m.Offer.status).where(m.Offer.lead_id == lead)))
        assert statuses == {"accepted": 1, "lost": 49}
        assert s.scalar(select(func.count()).select_from(m.Assignment)) == 1
    assert {k: v for k, v in open_loads(app).items() if v} == {winner: 1}
    assert_loads_match_rebuild(app)
    app.close()


def test_10_reps_draining_200_leads_from_a_pull_queue_get_each_lead_once(
        pg_url: str, tmp_path: Path) -> None:
    app = real_app(pg_url)
    apply_setup(app, setup(10, "{team: floor, method: pull, queue: floor-q, order: age}"))
    tokens = rep_tokens(app, 10)
    ids = post_many(app, payloads(200))
    got: dict[str, list[int]] = {}

    async def rep(url: str, token: str, c: httpx.AsyncClient) -> None:
        mine = got.setdefault(token, [])
        while True:
            r = await c.post(f"{url}/v1/pull", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            lead = r.json()["lead"]
            if lead is None:
                return
            mine.append(lead["id"])

    async def drain(urls: list[str]) -> None:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=10)) as c:
            await asyncio.gather(*(rep(urls[i % 2], t, c) for i, t in enumerate(tokens)))

    with servers(pg_url, 2, tmp_path) as procs:
        asyncio.run(drain([p.url for p in procs]))
    pulled = [i for mine in got.values() for i in mine]
    assert sorted(pulled) == sorted(ids), "every lead pulled exactly once"
    assert sum(1 for mine in got.values() if mine) >= 2, "the reps pulled side by side"
    with app.reader() as uow:
        s = uow.session
        per_lead = Counter(s.scalars(select(m.Assignment.lead_id)))
        assert len(per_lead) == 200 and set(per_lead.values()) == {1}
        assert s.scalar(select(func.count()).select_from(m.Lead).where(
            m.Lead.status == "assigned")) == 200
    assert sum(open_loads(app).values()) == 200
    assert_loads_match_rebuild(app)
    app.close()
