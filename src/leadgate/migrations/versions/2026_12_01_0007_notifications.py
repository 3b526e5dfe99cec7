"""Notifications to reps: per-agent and per-team preferences, and notification
deliveries in the outbox.

* ``agents.notify`` / ``teams.notify``: the notification preferences (email,
  webhook, events) as normalised JSON; NULL means "no notifications". Both tables
  already bump the ``agents`` config stamp (migration 0003), so processes see a
  change at once.
* ``deliveries.notice``: for a notification (``destination_key`` ``notify:*``),
  what to say and to whom: event, agent, round. NULL for lead deliveries.

Columns are added with plain ``ALTER TABLE ... ADD COLUMN`` (no table rebuild on
SQLite), so the stamp triggers of ``agents`` and ``teams`` stay in place.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import leadgate.store.models as m

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agents", sa.Column("notify", m.JSONType, nullable=True))
    op.add_column("teams", sa.Column("notify", m.JSONType, nullable=True))
    op.add_column("deliveries", sa.Column("notice", m.JSONType, nullable=True))


def downgrade() -> None:
    # DROP COLUMN (SQLite >= 3.35) keeps the tables, and so their triggers
    op.drop_column("deliveries", "notice")
    op.drop_column("teams", "notify")
    op.drop_column("agents", "notify")
