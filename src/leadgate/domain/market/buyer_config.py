"""Buyer config: ``parse_buyer`` validates a config entry into a :class:`Buyer`.

Errors are :class:`InvalidConfig` naming the key path (``buyers[2].price[1].when``), in the
style of ``Agent.from_mapping`` and ``parse_flow``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from leadgate.domain.conditions import parse_condition
from leadgate.domain.errors import InvalidConfig
from leadgate.domain.market.amounts import parse_amount
from leadgate.domain.market.buyers import (
    BUDGET_WINDOWS,
    CAP_WINDOWS,
    STATUSES,
    Buyer,
    PriceRule,
    Pricing,
    calendar,
    zone,
)
from leadgate.domain.schedule import parse_working_hours

__all__ = ["parse_buyer"]

_KEYS = frozenset({"key", "name", "status", "filters", "caps", "budget", "timezone",
                   "working_hours", "holidays", "price", "sale", "priority", "weight",
                   "destinations", "ping"})


def parse_buyer(data: Any, *, path: str = "buyer",
                fields: Collection[str] | None = None) -> Buyer:
    """Validate a buyer config entry; errors are :class:`InvalidConfig` naming the key
    path (``buyers[2].price[1].when.field``). ``fields``, when given, limits the lead
    fields the filters and price rules may read (as in ``parse_condition``)."""
    if not isinstance(data, Mapping):
        raise InvalidConfig("expected a mapping", path=path)
    for k in data:
        if k not in _KEYS:
            raise InvalidConfig(f"unknown key {k!r}; a buyer has {', '.join(sorted(_KEYS))}",
                                path=f"{path}.{k}")
    key = data.get("key")
    if not isinstance(key, str) or not key.strip():
        raise InvalidConfig("key must be a non-empty string", path=f"{path}.key")
    kw: dict[str, Any] = {"key": key.strip()}
    for name in ("name", "status", "timezone"):
        if data.get(name) is not None:
            if not isinstance(data[name], str):
                raise InvalidConfig(f"expected text, got {type(data[name]).__name__}",
                                    path=f"{path}.{name}")
            kw[name] = data[name].strip()
    if kw.get("status", "active") not in STATUSES:
        raise InvalidConfig(f"unknown status {kw['status']!r}; use {', '.join(STATUSES)}",
                            path=f"{path}.status")
    kw["filters"] = parse_condition(data.get("filters"), path=f"{path}.filters",
                                    fields=fields)
    kw["caps"] = _counts(data.get("caps"), CAP_WINDOWS, f"{path}.caps")
    kw["budget"] = _budget(data.get("budget"), f"{path}.budget")
    tz = kw.get("timezone", "UTC")
    try:
        zone(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidConfig(f"unknown time zone {tz!r}", path=f"{path}.timezone") from None
    wh = data.get("working_hours")
    if wh is not None:
        parse_working_hours(wh, path=f"{path}.working_hours")
        kw["working_hours"] = {str(k): str(v) for k, v in wh.items()}
    if data.get("holidays") is not None:
        code = data["holidays"]
        if not isinstance(code, str):
            raise InvalidConfig("expected a holiday calendar code such as US or IN-MH",
                                path=f"{path}.holidays")
        try:
            calendar(code.strip().upper())
        except (NotImplementedError, KeyError, ValueError) as exc:
            raise InvalidConfig(f"unknown holiday calendar {code!r}: {exc}",
                                path=f"{path}.holidays") from None
        kw["holidays"] = code.strip().upper()
    if "price" not in data:
        raise InvalidConfig("price is required: an amount, a list of {when, price} rules, "
                            "or bid", path=f"{path}.price")
    kw["pricing"] = _pricing(data["price"], f"{path}.price", fields)
    kw["max_sales"] = _sale(data.get("sale", "exclusive"), f"{path}.sale")
    kw["priority"] = _whole(data.get("priority", 100), f"{path}.priority")
    weight = data.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not (
            0 <= weight < float("inf")):
        raise InvalidConfig(f"weight must be a number >= 0, got {weight!r}",
                            path=f"{path}.weight")
    kw["weight"] = float(weight)
    dests = data.get("destinations") or []
    if isinstance(dests, str):
        dests = [dests]
    if not isinstance(dests, list | tuple) or not all(
            isinstance(d, str) and d.strip() for d in dests):
        raise InvalidConfig("expected a list of destination keys",
                            path=f"{path}.destinations")
    kw["destinations"] = tuple(d.strip() for d in dests)
    ping = data.get("ping")
    if ping is not None:
        if not isinstance(ping, str) or not ping.strip():
            raise InvalidConfig("expected the key of the destination that answers pings "
                                "with a bid", path=f"{path}.ping")
        kw["ping"] = ping.strip()
    return Buyer(**kw)


def _whole(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidConfig(f"expected a whole number >= 0, got {value!r}", path=path)
    return value


def _counts(value: Any, keys: Mapping[str, str], path: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidConfig("expected a mapping like {daily: 100}", path=path)
    out: dict[str, int] = {}
    for k, v in value.items():
        if k not in keys:
            raise InvalidConfig(f"unknown window {k!r}; use {', '.join(keys)}",
                                path=f"{path}.{k}")
        out[k] = _whole(v, f"{path}.{k}")
    return out


def _budget(value: Any, path: str) -> dict[str, Decimal]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidConfig("expected a mapping like {daily: 2500, monthly: 50000}", path=path)
    out: dict[str, Decimal] = {}
    for k, v in value.items():
        if k not in BUDGET_WINDOWS:
            raise InvalidConfig(f"unknown budget {k!r}; use {', '.join(BUDGET_WINDOWS)}",
                                path=f"{path}.{k}")
        out[k] = parse_amount(v, f"{path}.{k}")
    return out


def _pricing(value: Any, path: str, fields: Collection[str] | None) -> Pricing:
    if value == "bid":
        return Pricing("bid")
    if isinstance(value, list | tuple):
        if not value:
            raise InvalidConfig("price rules need at least one {when, price}", path=path)
        rules: list[PriceRule] = []
        for i, item in enumerate(value):
            sub = f"{path}[{i}]"
            if not isinstance(item, Mapping):
                raise InvalidConfig("expected {when: condition, price: amount}", path=sub)
            extra = [k for k in item if k not in ("when", "price")]
            if extra:
                raise InvalidConfig(f"unknown key {extra[0]!r}; a price rule has when, "
                                    "price", path=f"{sub}.{extra[0]}")
            if "price" not in item:
                raise InvalidConfig("price is required", path=f"{sub}.price")
            rules.append(PriceRule(
                parse_condition(item.get("when"), path=f"{sub}.when", fields=fields),
                parse_amount(item["price"], f"{sub}.price")))
        return Pricing("rules", rules=tuple(rules))
    if isinstance(value, str) and not value.strip().replace(".", "", 1).isdigit():
        raise InvalidConfig(f"expected an amount, a list of price rules or bid, got "
                            f"{value!r}", path=path)
    return Pricing("fixed", amount=parse_amount(value, path))


def _sale(value: Any, path: str) -> int:
    if value == "exclusive":
        return 1
    if isinstance(value, Mapping) and list(value) == ["shared"]:
        n = value["shared"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise InvalidConfig(f"shared needs a whole number >= 2, got {n!r}",
                                path=f"{path}.shared")
        return n
    raise InvalidConfig(f"expected exclusive or {{shared: N}}, got {value!r}", path=path)
