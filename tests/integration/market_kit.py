"""Shared pieces of the marketplace tests: a setup with buyers served by real local
HTTP servers (one per buyer, answering /ping with a bid and /post with accept or
reject), and helpers to capture and sell leads."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from tests.receivers import Received, Receiver, http_receiver

from leadgate.bootstrap import App
from leadgate.services import jobs
from leadgate.services.ingest import ingest_lead
from leadgate.store import market as mk
from leadgate.store import models as m

CAMPAIGN = """
campaigns:
  - key: insurance
    name: Insurance
    fields:
      first_name: {type: string, required: true}
      last_name: {type: string}
      phone: {type: phone, required: true}
      email: {type: email}
      city: {type: string}
      state: {type: string}
      age: {type: integer, min: 0}
      product: {type: enum, values: [health, life]}
    default_region: IN
    dedupe: {keys: [[phone]], window: 30d}
    flow: market
sources:
  - {key: website, name: Website, campaign: insurance, api_key: lg_src_test_website_key_0000}
  - {key: partner, name: Partner, campaign: insurance, api_key: lg_src_test_partner_key_0000}
"""


def weighted_setup(buyers: str, keys: str) -> str:
    """The campaign with ``buyers`` (YAML list lines) sold by ``sell_weighted`` to
    ``keys`` (``"acme, globex"``), unsold leads queued."""
    return CAMPAIGN + "buyers:\n" + buyers + f"""\
flows:
  - key: market
    rules:
      - name: Sell
        to: {{method: sell_weighted, buyers: [{keys}]}}
    fallback: {{queue: unsold}}
"""


@dataclass
class BuyerServer:
    """A buyer's script: its bid (None: no bid), its ping latency, and whether it takes
    the posted lead."""

    key: str
    bid: float | None = 10.0
    delay: float = 0.0
    accept: bool = True
    post_delay: float = 0.0
    rec: Receiver | None = None
    pings: list[Received] = field(default_factory=list)
    posts: list[Received] = field(default_factory=list)

    def answer(self, r: Received) -> tuple[int, Any]:
        if r.path.endswith("/ping"):
            self.pings.append(r)
            if self.delay:
                time.sleep(self.delay)
            if self.bid is None:
                return 200, {"bid": None}
            return 200, {"bid": self.bid, "bid_id": f"{self.key}-{len(self.pings)}"}
        self.posts.append(r)
        if self.post_delay:
            time.sleep(self.post_delay)
        return (200, {"result": "accepted", "id": f"{self.key}-lead"}) if self.accept else \
            (200, {"result": "rejected", "message": "not today"})


def destinations(servers: Mapping[str, BuyerServer], timeout: float = 2) -> str:
    out = ["destinations:"]
    for k, b in servers.items():
        assert b.rec is not None
        out.append(f"  - {{key: {k}-ping, kind: http, url: '{b.rec.url}/ping', "
                   f"timeout: {timeout}, response: {{price: {{json: bid}}, "
                   f"external_id: {{json: bid_id}}}}}}")
        out.append(f"  - {{key: {k}-post, kind: http, url: '{b.rec.url}/post', "
                   f"timeout: {timeout}, retry: {{max_attempts: 1}}, response: {{rules: "
                   f"[{{json: result, equals: rejected, outcome: rejected, "
                   f"reason_json: message}}], external_id: {{json: id}}}}}}")
    return "\n".join(out) + "\n"


@contextmanager
def buyer_servers(*scripts: BuyerServer) -> Iterator[dict[str, BuyerServer]]:
    with ExitStack() as stack:
        out = {}
        for b in scripts:
            b.rec = stack.enter_context(http_receiver(b.answer))
            out[b.key] = b
        yield out


def setup_text(servers: Mapping[str, BuyerServer], buyers: str, flow_to: str,
               market: str = "") -> str:
    return (CAMPAIGN + destinations(servers) + "buyers:\n" + buyers + market +
            "flows:\n  - key: market\n    rules:\n      - name: Sell\n"
            f"        to: {flow_to}\n    fallback: {{queue: unsold}}\n")


def returns_setup(buyers: str, sold_to: str) -> str:
    """A setup for the returns and buyer-role tests: two reps on a team, the ``buyers``
    (YAML list items), return rules (``disconnected`` approved, ``fraud`` reviewed,
    3-day window) and a flow selling by weight to ``sold_to`` (``[acme, globex]``)."""
    return CAMPAIGN + """\
teams:
  - {key: sales, name: Sales}
agents:
  - {key: a1, name: Agent One, teams: [sales]}
  - {key: a2, name: Agent Two, teams: [sales]}
buyers:
""" + buyers + """\
market:
  return_window: 3d
  returns: {reasons: {disconnected: approve, fraud: review}}
flows:
  - key: market
    rules:
      - name: Sell
        to: {method: sell_weighted, buyers: """ + sold_to + """}
    fallback: {queue: unsold}
"""


def capture(app: App, i: int, source: str = "website", **extra: Any) -> int:
    payload = {"first_name": "Asha", "last_name": "Rao", "phone": f"+91 98{i:08d}",
               "email": f"l{i}@example.com", "state": "CA", "age": 30,
               "product": "life"} | extra
    with app.uow() as uow:
        src = uow.session.scalar(select(m.Source).where(m.Source.key == source))
        res = ingest_lead(uow, src, payload, app.clock())
    assert res.status_code == 201, res.body
    assert res.lead_id is not None
    return res.lead_id


def drain(app: App) -> int:
    return jobs.drain(app.uow, app.clock)


def lead_row(app: App, lead_id: int) -> tuple[m.Lead, mk.MarketLead | None, list[mk.Sale]]:
    with app.reader() as uow:
        s = uow.session
        lead = s.get(m.Lead, lead_id)
        ml = s.get(mk.MarketLead, lead_id)
        sales = list(s.scalars(select(mk.Sale).where(mk.Sale.lead_id == lead_id)))
        s.expunge_all()
    assert lead is not None
    return lead, ml, sales


def sale_event(app: App, lead_id: int) -> dict[str, Any]:
    with app.reader() as uow:
        ev = uow.session.scalar(select(m.LeadEvent).where(
            m.LeadEvent.lead_id == lead_id, m.LeadEvent.type.in_(("sold", "unsold")))
            .order_by(m.LeadEvent.id.desc()))
        assert ev is not None
        return {"type": ev.type, **ev.data}


Answer = Callable[[Received], tuple[int, Any]]
