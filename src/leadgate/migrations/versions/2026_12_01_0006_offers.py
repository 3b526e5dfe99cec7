"""Offers: a lead offered to agents until a deadline (push with an SLA, shotgun).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import leadgate.store.models as m

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("lead_id", m.IdType, nullable=False),
        sa.Column("agent_id", m.IdType, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("offered_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_at", m.UTCDateTime(timezone=True), nullable=True),
        sa.Column("flow_key", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("target", m.JSONType, nullable=False),
        sa.Column("escalate", m.JSONType, nullable=True),
        sa.Column("fallback_queue", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_offers_lead_id_leads")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"],
                                name=op.f("fk_offers_agent_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as b:
        b.create_index("ix_offers_lead_round", ["lead_id", "round"], unique=False)
        b.create_index("ix_offers_agent_status", ["agent_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as b:
        b.drop_index("ix_offers_agent_status")
        b.drop_index("ix_offers_lead_round")
    op.drop_table("offers")
