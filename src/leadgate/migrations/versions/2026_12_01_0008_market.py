"""The lead marketplace: buyers, their live loads, sales, supplier costs, returns.

Money is stored as whole cents (BigInteger) so sums are exact on SQLite and
PostgreSQL alike and a sale's budget check is one conditional UPDATE.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import leadgate.store.models as m

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as b:
        b.add_column(sa.Column("buyer_key", sa.String(length=64), nullable=True))
    op.create_table(
        "buyers",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spec", m.JSONType, nullable=False),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyers")),
        sa.UniqueConstraint("key", name=op.f("uq_buyers_key")),
    )
    op.create_table(
        "buyer_loads",
        sa.Column("buyer_key", sa.String(length=64), nullable=False),
        *[c for w in ("hour", "day", "week", "month") for c in (
            sa.Column(f"{w}_start", m.UTCDateTime(timezone=True), nullable=True),
            sa.Column(f"{w}_count", sa.Integer(), nullable=False))],
        sa.Column("day_spent", sa.BigInteger(), nullable=False),
        sa.Column("month_spent", sa.BigInteger(), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("bids", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("updated_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("buyer_key", name=op.f("pk_buyer_loads")),
    )
    op.create_table(
        "market_leads",
        sa.Column("lead_id", m.IdType, nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=True),
        sa.Column("sales", sa.Integer(), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("quoted", sa.BigInteger(), nullable=True),
        sa.Column("credited", sa.BigInteger(), nullable=False),
        sa.Column("charged_back", sa.BigInteger(), nullable=False),
        sa.Column("trace", m.JSONType, nullable=True),
        sa.Column("updated_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"],
                                name=op.f("fk_market_leads_lead_id_leads")),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_market_leads")),
    )
    op.create_table(
        "sales",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("lead_id", m.IdType, nullable=False),
        sa.Column("buyer_key", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("payout", sa.BigInteger(), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("bid_id", sa.String(length=200), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sold_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("returned_at", m.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_sales_lead_id_leads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales")),
        sa.UniqueConstraint("lead_id", "buyer_key", name="uq_sales_lead_buyer"),
    )
    with op.batch_alter_table("sales", schema=None) as b:
        b.create_index("ix_sales_buyer_sold", ["buyer_key", "sold_at"], unique=False)
    op.create_table(
        "sale_returns",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("sale_id", m.IdType, nullable=False),
        sa.Column("buyer_key", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("credit", sa.BigInteger(), nullable=False),
        sa.Column("chargeback", sa.BigInteger(), nullable=False),
        sa.Column("requested_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", m.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"],
                                name=op.f("fk_sale_returns_sale_id_sales")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_returns")),
    )
    with op.batch_alter_table("sale_returns", schema=None) as b:
        b.create_index("ix_sale_returns_status", ["status"], unique=False)
        b.create_index("ix_sale_returns_sale", ["sale_id"], unique=False)
    op.create_table(
        "market_pings",
        sa.Column("ping_hash", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", m.IdType, nullable=True),
        sa.Column("used_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ping_hash", name=op.f("pk_market_pings")),
    )
    op.create_table(
        "market_state",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("data", m.JSONType, nullable=False),
        sa.Column("updated_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_market_state")),
    )


def downgrade() -> None:
    op.drop_table("market_state")
    op.drop_table("market_pings")
    with op.batch_alter_table("sale_returns", schema=None) as b:
        b.drop_index("ix_sale_returns_sale")
        b.drop_index("ix_sale_returns_status")
    op.drop_table("sale_returns")
    with op.batch_alter_table("sales", schema=None) as b:
        b.drop_index("ix_sales_buyer_sold")
    op.drop_table("sales")
    op.drop_table("market_leads")
    op.drop_table("buyer_loads")
    op.drop_table("buyers")
    with op.batch_alter_table("users", schema=None) as b:
        b.drop_column("buyer_key")
