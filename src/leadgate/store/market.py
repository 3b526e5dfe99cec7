"""SQLAlchemy models of the lead marketplace (migration 0008). Money is whole cents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.store.models import Base, IdType, JSONType, UTCDateTime


class Buyer(Base):
    """A buyer of leads: its validated config entry (``domain.market.parse_buyer``)."""

    __tablename__ = "buyers"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BuyerLoadRow(Base):
    """A buyer's live counters, changed in the transaction of each sale (never computed
    by scanning sales): leads bought in the current hour/day/week/month window (each
    with its start, in the buyer's zone) and cents spent today and this month; plus
    totals for the console (offers, bids, accepted and rejected posts)."""

    __tablename__ = "buyer_loads"
    buyer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hour_count: Mapped[int] = mapped_column(Integer, default=0)
    day_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    day_count: Mapped[int] = mapped_column(Integer, default=0)
    week_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    week_count: Mapped[int] = mapped_column(Integer, default=0)
    month_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    month_count: Mapped[int] = mapped_column(Integer, default=0)
    day_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    month_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    spent: Mapped[int] = mapped_column(BigInteger, default=0)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    bids: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MarketLead(Base):
    """A lead on the market: times sold (and whether exclusively), revenue, the supplier
    cost (``quoted`` when a pre-ping price holds it), credits and charge-backs, and the
    last sale's trace."""

    __tablename__ = "market_leads"
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), primary_key=True)
    source_key: Mapped[str | None] = mapped_column(String(64))
    sales: Mapped[int] = mapped_column(Integer, default=0)
    exclusive: Mapped[bool] = mapped_column(default=False)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[int] = mapped_column(BigInteger, default=0)
    quoted: Mapped[int | None] = mapped_column(BigInteger)
    credited: Mapped[int] = mapped_column(BigInteger, default=0)
    charged_back: Mapped[int] = mapped_column(BigInteger, default=0)
    trace: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Sale(Base):
    """One lead sold to one buyer at ``price`` (the supplier's share is ``payout``)."""

    __tablename__ = "sales"
    __table_args__ = (UniqueConstraint("lead_id", "buyer_key", name="uq_sales_lead_buyer"),
                      Index("ix_sales_buyer_sold", "buyer_key", "sold_at"))
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    buyer_key: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    price: Mapped[int] = mapped_column(BigInteger)
    payout: Mapped[int] = mapped_column(BigInteger)
    exclusive: Mapped[bool] = mapped_column(default=True)
    bid_id: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(200))
    #: sold | returned
    status: Mapped[str] = mapped_column(String(16))
    sold_at: Mapped[datetime] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SaleReturn(Base):
    """A buyer's request to return a sale and what became of it."""

    __tablename__ = "sale_returns"
    __table_args__ = (Index("ix_sale_returns_status", "status"),
                      Index("ix_sale_returns_sale", "sale_id"))
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"))
    buyer_key: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    #: approved | refused | needs_review
    status: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    credit: Mapped[int] = mapped_column(BigInteger, default=0)
    chargeback: Mapped[int] = mapped_column(BigInteger, default=0)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))


class MarketPing(Base):
    """A supplier pre-ping id that was used to post a lead (each id posts once)."""

    __tablename__ = "market_pings"
    ping_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(64))
    price: Mapped[int] = mapped_column(BigInteger)
    lead_id: Mapped[int | None] = mapped_column(IdType)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MarketState(Base):
    """Small keyed documents: ``config`` (the setup's ``market:`` section) and the
    weighted selling state per flow rule (``weighted:<flow>:<rule>``)."""

    __tablename__ = "market_state"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
