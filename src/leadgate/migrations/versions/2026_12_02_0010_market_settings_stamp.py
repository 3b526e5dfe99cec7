"""The marketplace's ``market:`` settings under the ``market`` configuration stamp.

The settings are the ``config`` row of ``market_state``; the table's other rows are
the weighted sellers' running state, written by every such sale. Row triggers that
fire only for the ``config`` row bump the ``market`` stamp of migration 0009, so the
``lead.sell`` job keeps the parsed settings with the buyers and destinations
(``services.snapshot.market``) and no longer reads and re-parses them per auction.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

AREA = "market"
KEY = "config"
#: event -> the row the trigger reads (a DELETE has no NEW row, an INSERT no OLD one)
WHEN = {"insert": f"NEW.\"key\" = '{KEY}'",
        "update": f"NEW.\"key\" = '{KEY}' OR OLD.\"key\" = '{KEY}'",
        "delete": f"OLD.\"key\" = '{KEY}'"}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for ev, when in WHEN.items():
        name = f"trg_market_state_config_stamp_{ev}"
        if postgres:  # the function of migration 0003
            op.execute(f"CREATE TRIGGER {name} AFTER {ev.upper()} ON market_state "
                       f"FOR EACH ROW WHEN ({when}) "
                       f"EXECUTE FUNCTION leadgate_bump_stamp('{AREA}')")
        else:
            op.execute(f"CREATE TRIGGER {name} AFTER {ev.upper()} ON market_state "
                       f"WHEN {when} BEGIN UPDATE config_stamps SET version = version + 1 "
                       f"WHERE area = '{AREA}'; END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for ev in WHEN:
        name = f"trg_market_state_config_stamp_{ev}"
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON market_state" if postgres else ""))
