"""Delivery: destinations, deliveries and every delivery attempt.

Revision ID: 0005
Revises: 0003 (to become 0004 once that revision is merged)
Create Date: 2026-12-01 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import leadgate.store.models as m

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "destinations",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),  # json keeps key order
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destinations")),
        sa.UniqueConstraint("key", name=op.f("uq_destinations_key")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("lead_id", m.IdType, nullable=False),
        sa.Column("destination_key", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempts_offset", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", m.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sending_until", m.UTCDateTime(timezone=True), nullable=True),
        sa.Column("hold", m.JSONType, nullable=True),
        sa.Column("group_key", sa.String(length=100), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("flow_key", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", m.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"],
                                name=op.f("fk_deliveries_lead_id_leads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_deliveries_idempotency_key")),
    )
    with op.batch_alter_table("deliveries", schema=None) as b:
        b.create_index("ix_deliveries_lead_id", ["lead_id"], unique=False)
        b.create_index("ix_deliveries_status_next", ["status", "next_attempt_at"], unique=False)
        b.create_index("ix_deliveries_destination_status", ["destination_key", "status"],
                       unique=False)
    op.create_table(
        "delivery_attempts",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("delivery_id", m.IdType, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("retryable", sa.Boolean(), nullable=False),
        sa.Column("request", m.JSONType, nullable=False),
        sa.Column("response", m.JSONType, nullable=True),
        sa.Column("started_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"],
                                name=op.f("fk_delivery_attempts_delivery_id_deliveries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as b:
        b.create_index("ix_delivery_attempts_delivery_id", ["delivery_id"], unique=False)


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("destinations")
