"""The ``market:`` section of the setup file: margin, reserve, what a ping shows buyers,
the overall limit of an auction with its posts, pre-ping ids and returns.

::

    market:
      margin: {percent: 10, fixed: 0.50}   # the supplier is paid price less this
      reserve: 5                           # no sale below this price (auction and tree)
      ping_fields: [state, age, product]   # fields a ping shows buyers (default: every
                                           # field except the personal ones below)
      sale_within: 5s                      # auction + posts to fallbacks, overall
      ping_ttl: 5m                         # how long a supplier's pre-ping id is good
      return_window: 7d
      returns: {reasons: {disconnected: approve, fraud: review}, max_rate: 0.25}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from leadgate.domain.errors import InvalidConfig, InvalidFlow
from leadgate.domain.market.amounts import ZERO, parse_amount
from leadgate.domain.market.money import Margin, ReturnRules
from leadgate.domain.routing.durations import parse_duration

#: Never sent in a ping unless ``ping_fields`` names them.
PERSONAL_FIELDS = frozenset({
    "first_name", "last_name", "name", "full_name", "email", "phone", "mobile",
    "phone_number", "address", "address1", "address2", "street", "ip", "ip_address",
    "dob", "date_of_birth", "birth_date", "ssn", "national_id", "lead_id",
    "assignee", "assignee_name", "assignee_email", "delivery_id", "idempotency_key"})
KEYS = ("margin", "reserve", "ping_fields", "sale_within", "ping_ttl", "return_window",
        "returns")
DEFAULT_RETURNS = {"reasons": {"disconnected": "approve", "wrong_number": "approve",
                               "duplicate": "approve", "fraud": "review",
                               "other": "review"}}


@dataclass(frozen=True)
class MarketSettings:
    margin: Margin = field(default_factory=Margin)
    reserve: Decimal = ZERO
    ping_fields: tuple[str, ...] | None = None
    sale_within: timedelta = timedelta(seconds=5)
    ping_ttl: timedelta = timedelta(minutes=5)
    return_window: timedelta = timedelta(days=7)
    returns: ReturnRules = field(
        default_factory=lambda: ReturnRules.parse(DEFAULT_RETURNS))

    def ping_view(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """What a buyer is shown in a ping: ``ping_fields``, or all but personal data."""
        if self.ping_fields is not None:
            return {k: view[k] for k in self.ping_fields if k in view}
        return {k: v for k, v in view.items() if k not in PERSONAL_FIELDS}


def parse_settings(data: Any, path: str = "market") -> MarketSettings:
    """Validate the ``market:`` mapping (errors name their key path)."""
    if data is None:
        return MarketSettings()
    if not isinstance(data, Mapping):
        raise InvalidConfig("expected a mapping", path=path)
    for k in data:
        if k not in KEYS:
            raise InvalidConfig(f"unknown key {k!r}; market has {', '.join(KEYS)}",
                                path=f"{path}.{k}")
    kw: dict[str, Any] = {"margin": Margin.parse(data.get("margin"), path=f"{path}.margin")}
    if data.get("reserve") is not None:
        kw["reserve"] = parse_amount(data["reserve"], f"{path}.reserve")
    pf = data.get("ping_fields")
    if pf is not None:
        if not isinstance(pf, list) or not all(isinstance(x, str) for x in pf):
            raise InvalidConfig("expected a list of field names", path=f"{path}.ping_fields")
        kw["ping_fields"] = tuple(pf)
    for k in ("sale_within", "ping_ttl", "return_window"):
        if data.get(k) is not None:
            try:
                kw[k] = parse_duration(data[k], path=f"{path}.{k}")
            except InvalidFlow as exc:
                raise InvalidConfig(exc.reason, path=f"{path}.{k}") from None
    if data.get("returns") is not None:
        kw["returns"] = ReturnRules.parse(data["returns"], path=f"{path}.returns")
    return MarketSettings(**kw)


#: the ``market_state`` row holding the settings
CONFIG_KEY = "config"


def current(uow: Any) -> MarketSettings:
    """The stored ``market:`` settings, parsed once per configuration version (kept
    with the buyers: ``services.snapshot.market``, one small statement)."""
    from leadgate.services import snapshot

    got: MarketSettings = snapshot.market(uow.session).settings
    return got
