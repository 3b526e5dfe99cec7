"""A configuration stamp for the marketplace: ``buyers`` and ``destinations``.

Every change to either table bumps the ``market`` row of ``config_stamps`` (the
triggers of migration 0003, same shape), so the ``lead.sell`` job keeps buyers, their
parsed specs and their ping and post destinations per process and per version
(``services.snapshot.market``) instead of reading them on every auction.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

AREA = "market"
TABLES = ("buyers", "destinations")


def upgrade() -> None:
    stamps = sa.table("config_stamps", sa.column("area"), sa.column("version"))
    op.bulk_insert(stamps, [{"area": AREA, "version": 1}])
    bind = op.get_bind()
    for table in TABLES:
        if bind.dialect.name == "postgresql":
            op.execute(f"CREATE TRIGGER trg_{table}_stamp AFTER INSERT OR UPDATE OR DELETE "
                       f"ON {table} FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION leadgate_bump_stamp('{AREA}')")
        else:
            for ev in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER trg_{table}_stamp_{ev.lower()} AFTER {ev} "
                           f"ON {table} BEGIN UPDATE config_stamps SET version = version "
                           f"+ 1 WHERE area = '{AREA}'; END")


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        if bind.dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_stamp ON {table}")
        else:
            for ev in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_stamp_{ev}")
    op.execute(f"DELETE FROM config_stamps WHERE area = '{AREA}'")
