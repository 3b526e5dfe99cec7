"""Two real ``serve`` processes on one PostgreSQL database sell 1,000 leads at once:
no buyer goes one lead past a cap or one cent past a budget, an exclusive lead is sold
once, a shared lead at most N times, and the money reconciles to the cent.

Leads are captured by two servers without workers, every ``lead.sell`` job is then
doubled (as if redelivered), and two servers with workers sell them concurrently: the
twin jobs of a lead race each other as well as the other leads."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from tests.conftest import apply_setup, make_app
from tests.e2e.servers import servers
from tests.e2e.test_multiprocess import HEADERS
from tests.integration.market_kit import CAMPAIGN
from tests.receivers import http_receiver

from leadgate.store import market as mk
from leadgate.store import models as m

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
N = 1000


def market_setup(url: str) -> str:
    return CAMPAIGN.replace("dedupe: {keys: [[phone]], window: 30d}", "") + f"""\
destinations:
  - {{key: post, kind: http, url: '{url}/post', timeout: 5}}
buyers:
  - {{key: excl, price: 10, priority: 1, caps: {{daily: 150}}, destinations: [post]}}
  - {{key: budg, price: 7.50, priority: 2, budget: {{daily: 1500}}, destinations: [post]}}
  - {{key: sh1, price: 5, priority: 3, sale: {{shared: 2}}, caps: {{daily: 400}},
     destinations: [post]}}
  - {{key: sh2, price: 4, priority: 4, sale: {{shared: 2}}, budget: {{daily: 1000}},
     destinations: [post]}}
  - {{key: sh3, price: 3, priority: 5, sale: {{shared: 2}}, destinations: [post]}}
market: {{margin: {{percent: 10}}}}
flows:
  - key: market
    rules:
      - name: Sell
        to: {{method: ping_tree, buyers: [excl, budg, sh1, sh2, sh3]}}
    fallback: {{queue: unsold}}
"""


def test_two_servers_sell_1000_leads_within_caps_budgets_and_exclusivity(
        pg_url: str, tmp_path: Path) -> None:
    app = make_app(pg_url)
    with http_receiver() as buyer:
        apply_setup(app, market_setup(buyer.url))
        results: dict[int, tuple[int, dict | None]] = {}
        with servers(pg_url, 2, tmp_path, worker=False) as procs:
            asyncio.run(post_all([s.url for s in procs], N, 32, results))
        assert Counter(c for c, _ in results.values()) == {201: N}
        with app.uow() as uow:  # every sale job twice, as if redelivered
            uow.session.execute(text(
                "INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_after,"
                " created_at) SELECT kind, payload, status, attempts, max_attempts, "
                "run_after, created_at FROM jobs WHERE kind = 'lead.sell'"))
            uow.commit()
        with servers(pg_url, 2, tmp_path):
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                with app.reader() as uow:
                    left = uow.session.scalar(select(func.count()).select_from(m.Job).where(
                        m.Job.kind == "lead.sell", m.Job.status.in_(("pending", "running"))))
                if left == 0:
                    break
                time.sleep(0.5)
            assert left == 0
    with app.reader() as uow:
        s = uow.session
        assert s.scalar(select(func.count()).select_from(m.Job).where(
            m.Job.kind == "lead.sell", m.Job.status != "done")) == 0
        sales = list(s.scalars(select(mk.Sale)))
        assert {x.status for x in sales} == {"sold"}
        per_buyer = Counter(x.buyer_key for x in sales)
        spent = Counter[str]()
        for x in sales:
            spent[x.buyer_key] += x.price
        # demand exceeds every cap and budget: each is met exactly, never passed
        assert per_buyer["excl"] == 150
        assert spent["budg"] == 150000 and per_buyer["budg"] == 200
        assert per_buyer["sh1"] == 400
        assert spent["sh2"] == 100000 and per_buyer["sh2"] == 250
        per_lead: dict[int, list[mk.Sale]] = {}
        for x in sales:
            per_lead.setdefault(x.lead_id, []).append(x)
        assert len(per_lead) == N
        exclusive = shared_twice = 0
        for lead_sales in per_lead.values():
            if any(x.exclusive for x in lead_sales):
                assert len(lead_sales) == 1  # an exclusive lead is sold once
                exclusive += 1
            else:
                assert 1 <= len(lead_sales) <= 2  # shared: at most N = 2 times
                if {x.buyer_key for x in lead_sales} == {"sh1", "sh2"}:
                    shared_twice += 1
                else:
                    assert "sh3" in {x.buyer_key for x in lead_sales}
        assert exclusive == 150 + 200
        # sh3 (no cap) took every shared lead that sh1 and sh2 did not fill together
        assert per_buyer["sh3"] == N - exclusive - shared_twice
        # the counters kept in the sales' transactions match the sales themselves
        for load in s.scalars(select(mk.BuyerLoadRow)):
            assert load.sold == per_buyer[load.buyer_key]
            assert load.day_count == per_buyer[load.buyer_key]
            assert load.spent == load.day_spent == spent[load.buyer_key]
        # and the money per lead reconciles with the sales, to the cent
        rows = {r.lead_id: r for r in s.scalars(select(mk.MarketLead))}
        for lead_id, lead_sales in per_lead.items():
            assert rows[lead_id].sales == len(lead_sales)
            assert rows[lead_id].revenue == sum(x.price for x in lead_sales)
            assert rows[lead_id].cost == sum(x.payout for x in lead_sales)
        assert sum(r.revenue for r in rows.values()) == sum(spent.values())
        assert s.scalar(select(func.count()).select_from(m.Lead).where(
            m.Lead.status == "sold")) == N
    assert len(buyer.requests) == len(sales)  # no buyer was posted a lead it did not buy
    app.close()


def lead(i: int) -> dict[str, object]:
    return {"first_name": "Asha", "phone": f"+91 98{i:08d}", "email": f"m{i}@example.com",
            "state": "CA", "age": 30, "product": "life"}


async def post_all(urls: list[str], n: int, in_flight: int,
                   results: dict[int, tuple[int, dict | None]]) -> None:
    sem = asyncio.Semaphore(in_flight)
    targets = list(itertools.islice(itertools.cycle(urls), n))
    async with httpx.AsyncClient(timeout=60) as client:
        async def one(i: int) -> None:
            async with sem:
                r = await client.post(f"{targets[i]}/v1/leads", json=lead(i), headers=HEADERS)
                results[i] = (r.status_code, r.json())
        await asyncio.gather(*(one(i) for i in range(n)))
