"""The lead a ``lead.sell`` job works on, read in one Core statement.

One SELECT by the lead's id brings what selling it reads: the lead's own columns
that its facts and the buyers' view are made of (``routing_facts``,
``deliveries.lead_view``), its source's, campaign's and assignee's keys, its
``market_leads`` row (sales, exclusive, the quoted price) and the configuration
stamps the marketplace's cached configuration is checked against. No ORM object is
built (the ORM lead with its joined source, campaign and assignee was one statement
too, but several objects and their identity-map bookkeeping per job), and the
market's configuration costs no statement of its own while no stamp moved
(``snapshot.market(session, stamps)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select

from leadgate.services.market.ledger import LeadSales, core
from leadgate.store import market as mk
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork


@dataclass(frozen=True)
class Named:
    """A source, campaign or assignee as the buyers' view of a lead names it."""

    key: str
    name: str | None = None
    email: str | None = None


@dataclass
class LeadForSale:
    """What selling reads of a lead (the attributes ``lead_view`` and ``lead_facts``
    read of an ORM lead, by the same names)."""

    id: int
    status: str
    values: dict[str, Any]
    enrichment: dict[str, Any]
    score: float | None
    grade: str | None
    created_at: datetime
    source: Named | None
    campaign: Named
    assignee: Named | None
    #: its ``market_leads`` row (None: not written yet)
    market: LeadSales | None
    #: the ``market`` and ``instance`` configuration stamps, read with the lead
    stamps: tuple[int, int]


_L = cast(Table, m.Lead.__table__)
_S = cast(Table, m.Source.__table__)
_C = cast(Table, m.Campaign.__table__)
_A = cast(Table, m.Agent.__table__)
_ML = cast(Table, mk.MarketLead.__table__)
_CS = cast(Table, m.ConfigStamp.__table__)


def _stamp(area: str) -> Any:
    return (select(_CS.c.version).where(_CS.c.area == area).scalar_subquery()
            .label(f"stamp_{area}"))


_LEAD = (select(_L.c.id, _L.c.status, _L.c["values"].label("lead_values"),
                _L.c.enrichment, _L.c.score, _L.c.grade, _L.c.created_at,
                _S.c.key.label("source_key"),
                _C.c.key.label("campaign_key"), _A.c.key.label("assignee_key"),
                _A.c.name.label("assignee_name"), _A.c.email.label("assignee_email"),
                _ML.c.lead_id.label("market_lead"), _ML.c.sales, _ML.c.exclusive,
                _ML.c.quoted, _stamp("market"), _stamp("instance"))
         .select_from(_L.join(_C, _C.c.id == _L.c.campaign_id)
                      .outerjoin(_S, _S.c.id == _L.c.source_id)
                      .outerjoin(_A, _A.c.id == _L.c.assignee_id)
                      .outerjoin(_ML, _ML.c.lead_id == _L.c.id))
         .where(_L.c.id == bindparam("b_lead")))


def load(uow: UnitOfWork, lead_id: int) -> LeadForSale | None:
    """The lead for sale with its market row and the configuration stamps: one
    statement."""
    r = core(uow).execute(_LEAD, {"b_lead": lead_id}).one_or_none()
    if r is None:
        return None
    return LeadForSale(
        r.id, r.status, r.lead_values or {}, r.enrichment or {}, r.score, r.grade, r.created_at,
        Named(r.source_key) if r.source_key is not None else None, Named(r.campaign_key),
        Named(r.assignee_key, r.assignee_name, r.assignee_email)
        if r.assignee_key is not None else None,
        LeadSales(r.sales, bool(r.exclusive), r.quoted) if r.market_lead is not None
        else None, (int(r.stamp_market or 0), int(r.stamp_instance or 0)))
