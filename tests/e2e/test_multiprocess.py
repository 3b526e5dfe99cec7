"""Several real ``serve`` processes on one PostgreSQL database behave as one."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tests.conftest import WEBSITE_KEY, apply_setup, make_app
from tests.e2e.servers import servers

from leadgate.store import models as m

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
HEADERS = {"Authorization": f"Bearer {WEBSITE_KEY}"}


NAMES = ["Asha", "Ravi", "Meena", "Karan", "Divya", "Rahul", "Sneha", "Vikram", "Anita", "Rohan"]


def lead(i: int) -> dict[str, str]:
    return {"first_name": NAMES[i % len(NAMES)], "phone": f"+91 98{i:08d}", "city": "Mumbai",
            "product": "health", "email": f"lead{i}@example.com"}


async def post_all(urls: list[str], n: int, in_flight: int,
                   results: dict[int, tuple[int, dict | None]]) -> None:
    sem = asyncio.Semaphore(in_flight)
    cycle = itertools.cycle(urls)
    targets = [next(cycle) for _ in range(n)]
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=in_flight)) \
            as client:
        async def one(i: int) -> None:
            async with sem:
                try:
                    r = await client.post(f"{targets[i]}/v1/leads", json=lead(i),
                                          headers=HEADERS)
                    results[i] = (r.status_code, r.json())
                except httpx.HTTPError as exc:
                    results[i] = (0, {"error": repr(exc)})  # never acknowledged
        await asyncio.gather(*(one(i) for i in range(n)))


def test_two_servers_round_robin_2000_leads_exactly(pg_url: str, tmp_path: Path) -> None:
    app = make_app(pg_url)
    apply_setup(app)
    results: dict[int, tuple[int, dict | None]] = {}
    with servers(pg_url, 2, tmp_path) as procs:
        asyncio.run(post_all([s.url for s in procs], 2000, 48, results))
    codes = Counter(code for code, _ in results.values())
    assert codes == {201: 2000}, [b for c, b in results.values() if c != 201][:3]
    by_answer = Counter(body["assignee"]["key"] for _, body in results.values())  # type: ignore[index]
    assert by_answer == {"a1": 500, "a2": 500, "a3": 500, "a4": 500}
    with app.reader() as uow:
        s = uow.session
        assert s.scalar(select(func.count()).select_from(m.Lead)) == 2000
        per_lead = Counter(s.scalars(select(m.Assignment.lead_id)))
        assert len(per_lead) == 2000 and set(per_lead.values()) == {1}
        per_agent = dict(s.execute(
            select(m.Agent.key, func.count()).join(m.Assignment,
                                                   m.Assignment.agent_id == m.Agent.id)
            .group_by(m.Agent.key)).all())
        assert per_agent == {"a1": 500, "a2": 500, "a3": 500, "a4": 500}
    app.close()


def test_kill_9_loses_no_acknowledged_lead(pg_url: str, tmp_path: Path) -> None:
    app = make_app(pg_url)
    apply_setup(app)
    results: dict[int, tuple[int, dict | None]] = {}
    with servers(pg_url, 2, tmp_path) as procs:
        victim = procs[0]

        async def scenario() -> None:
            task = asyncio.create_task(post_all([p.url for p in procs], 1200, 32, results))
            while len(results) < 300:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(victim.kill9)
            await task

        asyncio.run(scenario())
    acked = {body["id"]: i for i, (code, body) in results.items() if code == 201 and body}
    failed = [i for i, (code, _) in results.items() if code != 201]
    assert len(acked) >= 600, "the surviving server must keep acknowledging leads"
    assert failed, "the kill must have interrupted some requests"
    with app.reader() as uow:
        s = uow.session
        rows = {lead.id: lead for lead in s.scalars(select(m.Lead).where(
            m.Lead.id.in_(list(acked))))}
        assert set(rows) == set(acked), "every acknowledged lead is stored"
        assert all(r.status == "assigned" and r.assignee_id for r in rows.values())
        per_lead = Counter(s.scalars(select(m.Assignment.lead_id)))
        assert all(per_lead[lead_id] == 1 for lead_id in acked)
        assert set(per_lead.values()) == {1}, "no lead is assigned twice"
        # the stored phone is the one the acknowledged request sent
        for lead_id, i in acked.items():
            assert rows[lead_id].raw["phone"] == lead(i)["phone"]
    app.close()


WEIGHTED = """
campaigns:
  - key: insurance
    name: Insurance
    fields:
      first_name: {type: string, required: true}
      phone: {type: phone, required: true}
      email: {type: email}
      city: {type: string}
      product: {type: enum, values: [health, life]}
    default_region: IN
    flow: enterprise
sources:
  - {key: website, name: Website, campaign: insurance, api_key: lg_src_test_website_key_0000}
agents:
  - {key: ana, name: Ana}
  - {key: ben, name: Ben}
  - {key: cy, name: Cy}
flows:
  - key: enterprise
    rules:
      - name: Weighted
        to: {agents: [ana, ben, cy], method: weighted, weights: [60, 20, 20]}
"""


def test_two_servers_weighted_60_20_20_is_exact_over_3000_leads(pg_url: str,
                                                                tmp_path: Path) -> None:
    app = make_app(pg_url)
    apply_setup(app, WEIGHTED)
    results: dict[int, tuple[int, dict | None]] = {}
    with servers(pg_url, 2, tmp_path) as procs:
        asyncio.run(post_all([s.url for s in procs], 3000, 48, results))
    codes = Counter(code for code, _ in results.values())
    assert codes == {201: 3000}, [b for c, b in results.values() if c != 201][:3]
    with app.reader() as uow:
        per_agent = dict(uow.session.execute(
            select(m.Agent.key, func.count()).join(m.Assignment,
                                                   m.Assignment.agent_id == m.Agent.id)
            .group_by(m.Agent.key)).all())
        # and exact at every prefix, in commit order
        order = list(uow.session.scalars(
            select(m.Agent.key).join(m.Assignment, m.Assignment.agent_id == m.Agent.id)
            .order_by(m.Assignment.id)))
    assert per_agent == {"ana": 1800, "ben": 600, "cy": 600}
    seen: Counter[str] = Counter()
    for n, key in enumerate(order, start=1):
        seen[key] += 1
        for agent, share in (("ana", 0.6), ("ben", 0.2), ("cy", 0.2)):
            assert abs(seen[agent] - n * share) < 1, (n, dict(seen))
    app.close()
