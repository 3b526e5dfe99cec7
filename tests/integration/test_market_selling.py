"""Weighted selling and ping trees against real local buyer servers; config as code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import yaml
from sqlalchemy import select
from tests.conftest import FakeClock, apply_setup, make_app
from tests.integration.market_kit import (
    CAMPAIGN,
    BuyerServer,
    buyer_servers,
    capture,
    drain,
    lead_row,
    sale_event,
    setup_text,
)

from leadgate.bootstrap import App
from leadgate.domain.errors import InvalidConfig
from leadgate.services import configure
from leadgate.store import market as mk
from leadgate.store import models as m


@pytest.fixture
def app(sqlite_url: str, clock: FakeClock) -> Iterator[App]:
    a = make_app(sqlite_url, clock)
    yield a
    a.close()


WEIGHTED = CAMPAIGN + """\
buyers:
  - {key: acme, price: 20, weight: 60}
  - {key: globex, price: 15, weight: 20}
  - {key: initech, price: 10, weight: 20}
flows:
  - key: market
    rules:
      - name: Sell
        to: {method: sell_weighted, buyers: [acme, globex, initech]}
    fallback: {queue: unsold}
"""


def test_weighted_60_20_20_over_1000_leads_is_exact_at_every_prefix(
        app: App, clock: FakeClock) -> None:
    apply_setup(app, WEIGHTED)
    for i in range(1000):
        capture(app, i)
        clock.advance(seconds=1)
    drain(app)
    with app.reader() as uow:
        order = list(uow.session.scalars(select(mk.Sale.buyer_key).order_by(mk.Sale.id)))
        money = sum(uow.session.scalars(select(mk.Sale.price)))
    assert Counter(order) == {"acme": 600, "globex": 200, "initech": 200}
    seen: Counter[str] = Counter()
    for n, key in enumerate(order, start=1):
        seen[key] += 1
        for buyer, share in (("acme", 0.6), ("globex", 0.2), ("initech", 0.2)):
            assert abs(seen[buyer] - n * share) < 1, (n, dict(seen))
    assert money == 600 * 2000 + 200 * 1500 + 200 * 1000


def test_weighted_skips_a_capped_buyer(app: App) -> None:
    apply_setup(app, WEIGHTED.replace("{key: acme, price: 20, weight: 60}",
                                      "{key: acme, price: 20, weight: 60, caps: {daily: 3}}"))
    ids = [capture(app, i) for i in range(10)]
    drain(app)
    buyers = Counter(lead_row(app, i)[2][0].buyer_key for i in ids)
    assert buyers["acme"] == 3 and sum(buyers.values()) == 10
    with app.reader() as uow:
        load = uow.session.get(mk.BuyerLoadRow, "acme")
        assert load is not None and load.day_count == 3 and load.day_spent == 6000


TREE = """\
  - {key: acme, price: 30, priority: 1, destinations: [acme-post]}
  - {key: globex, price: 20, priority: 2, destinations: [globex-post]}
  - {key: initech, price: 10, priority: 3, destinations: [initech-post]}
"""


def test_ping_tree_offers_in_turn_until_one_accepts(app: App) -> None:
    with buyer_servers(BuyerServer("acme", accept=False), BuyerServer("globex"),
                       BuyerServer("initech")) as srv:
        apply_setup(app, setup_text(srv, TREE, "{method: ping_tree, buyers: [acme, globex, "
                                               "initech]}"))
        lead_id = capture(app, 1)
        drain(app)
    lead, _ml, sales = lead_row(app, lead_id)
    assert lead.status == "sold"
    assert [(s.buyer_key, s.price, s.status) for s in sales] == [("globex", 2000, "sold")]
    assert len(srv["acme"].posts) == 1 and len(srv["globex"].posts) == 1
    assert not srv["initech"].posts
    assert srv["globex"].posts[0].json()["first_name"] == "Asha"  # the full lead
    trace = sale_event(app, lead_id)["trace"]
    assert [(p["buyer"], p["result"]) for p in trace["posts"]] == [
        ("acme", "rejected"), ("globex", "sold")]
    with app.reader() as uow:
        acme = uow.session.get(mk.BuyerLoadRow, "acme")
        assert acme is not None and (acme.day_count, acme.rejected) == (0, 1)


def test_ping_tree_moves_on_when_a_buyer_times_out(app: App) -> None:
    slow = BuyerServer("acme", post_delay=1.0)
    with buyer_servers(slow, BuyerServer("globex"), BuyerServer("initech")) as srv:
        text = setup_text(srv, TREE, "{method: ping_tree, buyers: [acme, globex, initech]}")
        text = text.replace(f"url: '{slow.rec.url}/post', timeout: 2",  # type: ignore[union-attr]
                            f"url: '{slow.rec.url}/post', timeout: 0.2")
        apply_setup(app, text)
        lead_id = capture(app, 1)
        drain(app)
    _lead, _ml, sales = lead_row(app, lead_id)
    assert [s.buyer_key for s in sales] == ["globex"]
    posts = sale_event(app, lead_id)["trace"]["posts"]
    assert posts[0]["buyer"] == "acme" and posts[0]["result"] == "error"
    assert posts[0]["reason"].startswith("timed out after 0.2s")
    with app.reader() as uow:  # the post that timed out is closed with its attempt
        d = uow.session.scalar(select(m.Delivery).where(
            m.Delivery.lead_id == lead_id, m.Delivery.destination_key == "acme-post"))
        assert d is not None and d.status == "dead"
        attempt = uow.session.scalar(select(m.DeliveryAttempt).where(
            m.DeliveryAttempt.delivery_id == d.id))
        assert attempt is not None and attempt.outcome == "error"
        assert attempt.response is None and attempt.request["url"].endswith("/post")


def test_ping_tree_with_nobody_accepting_falls_back(app: App) -> None:
    with buyer_servers(BuyerServer("acme", accept=False), BuyerServer("globex", accept=False),
                       BuyerServer("initech", accept=False)) as srv:
        apply_setup(app, setup_text(srv, TREE, "{method: ping_tree, buyers: [acme, globex, "
                                               "initech]}"))
        lead_id = capture(app, 1)
        drain(app)
    lead, ml, sales = lead_row(app, lead_id)
    assert (lead.status, lead.queue, sales) == ("queued", "unsold", [])
    assert ml is not None and (ml.sales, ml.revenue, ml.cost) == (0, 0, 0)


REPS = """\
teams:
  - {key: sales, name: Sales}
agents:
  - {key: ravi, name: Ravi, teams: [sales]}
  - {key: meena, name: Meena, teams: [sales]}
"""


def test_an_unsold_lead_goes_to_the_flow_fallback_pool_of_reps(app: App) -> None:
    with buyer_servers(BuyerServer("acme", accept=False), BuyerServer("globex", accept=False),
                       BuyerServer("initech", accept=False)) as srv:
        text = setup_text(srv, TREE, "{method: ping_tree, buyers: [acme, globex, initech]}")
        text = text.replace("fallback: {queue: unsold}",
                            "fallback: {team: sales, method: round_robin, queue: unsold}")
        apply_setup(app, text + REPS)
        ids = [capture(app, i) for i in (1, 2, 3)]
        assert [lead_row(app, i)[0].status for i in ids] == ["sell"] * 3  # on sale first
        drain(app)
    assert len(srv["initech"].posts) == 3  # each lead went down the whole tree
    with app.reader() as uow:
        s = uow.session
        reps = {a.id: a.key for a in s.scalars(select(m.Agent))}
        rows = [s.get(m.Lead, i) for i in ids]
        assert [(r.status, reps.get(r.assignee_id), r.queue) for r in rows if r] == [
            ("assigned", "meena", None), ("assigned", "ravi", None), ("assigned", "meena", None)]
        assert rows[0] is not None and rows[0].decision["summary"] == (
            "Went to Meena: the ping tree did not sell the lead; the fallback applied; "
            "Meena was next in rotation.")
        types = list(s.scalars(select(m.LeadEvent.type).where(m.LeadEvent.lead_id == ids[0])
                               .order_by(m.LeadEvent.id)))
        assert types.index("unsold") < types.index("assigned")
        assignments = list(s.scalars(select(m.Assignment).where(
            m.Assignment.lead_id.in_(ids)).order_by(m.Assignment.id)))
        assert [(reps[a.agent_id], a.rule, a.method) for a in assignments] == [
            ("meena", None, "round_robin"), ("ravi", None, "round_robin"),
            ("meena", None, "round_robin")]
        opened = {reps[r.agent_id]: r.open_leads for r in s.scalars(select(m.AgentLoadRow))}
        assert opened == {"meena": 2, "ravi": 1}  # the live loads follow the assignments
    _lead, ml, sales = lead_row(app, ids[0])
    assert sales == [] and ml is not None and ml.sales == 0
    assert sale_event(app, ids[0])["fallback"]["queue"] == "unsold"


def test_buyers_round_trip_through_config_export(app: App) -> None:
    apply_setup(app, WEIGHTED + "market: {margin: {percent: 10}, reserve: 2}\n")
    with app.reader() as uow:
        doc = configure.export(uow)
    assert [b["key"] for b in doc["buyers"]] == ["acme", "globex", "initech"]
    assert doc["market"] == {"margin": {"percent": 10}, "reserve": 2}
    report = apply_setup(app, yaml.safe_dump(doc))
    assert report.changed == 0


def test_unknown_buyer_in_a_flow_and_bad_buyer_are_refused_with_paths(app: App) -> None:
    bad = WEIGHTED.replace("[acme, globex, initech]", "[acme, nobody]").replace(
        "{key: globex, price: 15, weight: 20}", "{key: globex, price: 15, caps: {yearly: 2}}")
    with pytest.raises(InvalidConfig) as exc:
        apply_setup(app, bad)
    paths = {p for p, _ in exc.value.errors}
    assert "buyers[1].caps.yearly" in paths
    assert "flows[0].rules[0].to.buyers[1]" in paths


def test_bad_market_settings_are_refused_with_paths(app: App) -> None:
    for market, path in (("{colour: red}", "market.colour"),
                         ("{margin: {percent: 120}}", "market.margin.percent"),
                         ("{ping_ttl: soon}", "market.ping_ttl")):
        with pytest.raises(InvalidConfig) as exc:
            apply_setup(app, WEIGHTED + f"market: {market}\n")
        assert path in {p for p, _ in exc.value.errors}, exc.value.errors
