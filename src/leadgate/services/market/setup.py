"""Config as code for the market: the ``buyers:`` and ``market:`` sections of the setup
file, called by ``services/configure.py`` (validate, apply, export)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from leadgate.domain.errors import InvalidConfig
from leadgate.domain.market.buyer_config import parse_buyer
from leadgate.services.market.settings import CONFIG_KEY, parse_settings
from leadgate.store import market as mk
from leadgate.store.uow import UnitOfWork

Errors = list[tuple[str, str]]


def validate(buyers: Sequence[Mapping[str, Any]], market: Any,
             destinations: set[str]) -> Errors:
    """(path, message) for every problem in ``buyers:`` and ``market:``."""
    errors: Errors = []
    for i, b in enumerate(buyers):
        path = f"buyers[{i}]"
        try:
            buyer = parse_buyer(b, path=path)
        except InvalidConfig as exc:
            errors.extend(exc.errors)
            continue
        for j, d in enumerate(buyer.destinations):
            if d not in destinations:
                errors.append((f"{path}.destinations[{j}]", f"unknown destination {d!r}"))
        if buyer.ping and buyer.ping not in destinations:
            errors.append((f"{path}.ping", f"unknown destination {buyer.ping!r}"))
        if buyer.pricing.kind == "bid" and not buyer.ping:
            errors.append((f"{path}.ping", "a buyer with price: bid needs ping: the "
                                           "destination that answers pings with a bid"))
    try:
        parse_settings(market)
    except InvalidConfig as exc:
        errors.extend(exc.errors)
    return errors


def apply(uow: UnitOfWork, buyers: Sequence[Mapping[str, Any]], market: Any,
          now: datetime, audit: Callable[[str, str, Any, Any], None],
          same: Callable[[str, str], None]) -> None:
    """Upsert the buyers (and their load rows) and the market settings."""
    s = uow.session
    for b in buyers:
        spec = parse_buyer(b).to_mapping()
        row = s.scalar(select(mk.Buyer).where(mk.Buyer.key == spec["key"]))
        name = spec.get("name") or spec["key"]
        status = spec.get("status", "active")
        if row is None:
            s.add(mk.Buyer(key=spec["key"], name=name, status=status, spec=spec,
                           created_at=now, updated_at=now))
            audit("buyer", spec["key"], None, spec)
        elif row.spec != spec:
            before = dict(row.spec)
            row.spec, row.name, row.status, row.updated_at = spec, name, status, now
            audit("buyer", spec["key"], before, spec)
        else:
            same("buyer", spec["key"])
        if s.get(mk.BuyerLoadRow, spec["key"]) is None:
            s.add(mk.BuyerLoadRow(buyer_key=spec["key"], updated_at=now, **ZERO_LOAD))
    if market is not None:
        row_s = s.get(mk.MarketState, CONFIG_KEY)
        if row_s is None:
            s.add(mk.MarketState(key=CONFIG_KEY, data=dict(market), updated_at=now))
            audit("market", CONFIG_KEY, None, dict(market))
        elif row_s.data != market:
            before = dict(row_s.data)
            row_s.data, row_s.updated_at = dict(market), now
            audit("market", CONFIG_KEY, before, dict(market))
        else:
            same("market", CONFIG_KEY)


ZERO_LOAD = {f"{w}_count": 0 for w in ("hour", "day", "week", "month")} | {
    "day_spent": 0, "month_spent": 0, "sold": 0, "spent": 0, "offered": 0, "bids": 0,
    "accepted": 0, "rejected": 0}


def export(uow: UnitOfWork) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The ``buyers:`` list and the ``market:`` mapping as stored."""
    buyers = [dict(b.spec) for b in uow.session.scalars(select(mk.Buyer).order_by(mk.Buyer.key))]
    row = uow.session.get(mk.MarketState, CONFIG_KEY)
    return buyers, (dict(row.data) if row is not None else None)
