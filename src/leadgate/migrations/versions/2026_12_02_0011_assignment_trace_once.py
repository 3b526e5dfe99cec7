"""An assignment's trace is stored once: NULL while it is the lead's own decision.

A lead captured and assigned in one go carried its routing decision twice, in
``leads.decision`` and again in ``assignments.trace`` (about 700 bytes of JSON per
lead, parsed and written twice on the hot path). ``assignments.trace`` is now NULL
while the decision that made the assignment is the lead's current ``decision``;
when a lead is decided again (``services.routing.route_with``) the decision it
replaces is first copied to its assignments whose trace is still NULL, so the
history of every assignment is kept. Rows written before keep their copy.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

from alembic import op

import leadgate.store.models as m

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.alter_column("trace", existing_type=m.JSONType, nullable=True)


def downgrade() -> None:
    # an assignment whose trace was its lead's decision gets that decision back
    op.execute("UPDATE assignments SET trace = (SELECT decision FROM leads "
               "WHERE leads.id = assignments.lead_id) WHERE trace IS NULL")
    op.execute("UPDATE assignments SET trace = '{}' WHERE trace IS NULL")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.alter_column("trace", existing_type=m.JSONType, nullable=False)
