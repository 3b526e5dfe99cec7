"""Agents' live load and configuration stamps (the constant-cost hot path).

* ``agent_loads``: one row per agent, kept by the transactions that assign or
  close leads, read by primary key when routing (filled here from history);
* ``dedupe_keys`` is indexed key first, so its lookup is a probe per key;
* ``config_stamps``: a version per configuration area, bumped by triggers on
  every change of sources, campaigns, flows, agents or scoring models, so each
  process can cache parsed configuration and know in one read that it is
  current. The ``instance`` row holds a random number so a database rebuilt
  under the same URL is never mistaken for the old one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 01:00:00
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import leadgate.store.models as m

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: configuration area -> tables whose changes bump it
AREAS = {
    "sources": ("sources",),
    "campaigns": ("campaigns",),
    "flows": ("flows", "flow_versions"),
    "agents": ("agents", "teams"),
    "models": ("scoring_models",),
}


def upgrade() -> None:
    op.create_table(
        "agent_loads",
        sa.Column("agent_id", m.IdType, sa.ForeignKey("agents.id",
                  name="fk_agent_loads_agent_id_agents"), primary_key=True,
                  autoincrement=False),
        sa.Column("open_leads", sa.Integer, nullable=False, server_default="0"),
        sa.Column("assigned_total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_assigned_at", m.UTCDateTime, nullable=True),
        *[c for w in ("hour", "day", "week", "month") for c in (
            sa.Column(f"{w}_start", m.UTCDateTime, nullable=True),
            sa.Column(f"{w}_n", sa.Integer, nullable=False, server_default="0"))],
        sa.Column("outcomes", m.JSONType, nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name="pk_agent_loads"),
    )
    op.create_table(
        "config_stamps",
        sa.Column("area", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("area", name="pk_config_stamps"),
    )
    # dedupe lookups probe by key: with the key first, no planner estimate can
    # turn the lookup into a scan of every key of the campaign in the window
    op.drop_index("ix_dedupe_keys_lookup", table_name="dedupe_keys")
    op.create_index("ix_dedupe_keys_key", "dedupe_keys", ["key", "campaign_id", "created_at"])
    stamps = sa.table("config_stamps", sa.column("area"), sa.column("version"))
    op.bulk_insert(stamps, [{"area": a, "version": 1} for a in AREAS]
                   + [{"area": "instance", "version": secrets.randbits(62)}])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION leadgate_bump_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              UPDATE config_stamps SET version = version + 1 WHERE area = TG_ARGV[0];
              RETURN NULL;
            END $$""")
        for area, tables in AREAS.items():
            for table in tables:
                op.execute(f"CREATE TRIGGER trg_{table}_stamp AFTER INSERT OR UPDATE OR DELETE "
                           f"ON {table} FOR EACH STATEMENT "
                           f"EXECUTE FUNCTION leadgate_bump_stamp('{area}')")
    else:
        for area, tables in AREAS.items():
            for table in tables:
                for ev in ("INSERT", "UPDATE", "DELETE"):
                    op.execute(f"CREATE TRIGGER trg_{table}_stamp_{ev.lower()} AFTER {ev} "
                               f"ON {table} BEGIN UPDATE config_stamps SET version = version "
                               f"+ 1 WHERE area = '{area}'; END")
    _backfill(bind)


def _backfill(bind: sa.engine.Connection) -> None:
    from leadgate.services.loads import rebuild
    from leadgate.services.routing import domain_agent

    session = sa.orm.Session(bind=bind)
    # only the columns this revision knows: later revisions add columns to agents
    cols = sa.orm.load_only(m.Agent.id, m.Agent.key, m.Agent.name, m.Agent.status,
                            m.Agent.spec, m.Agent.teams)
    agents = {row.id: domain_agent(row)
              for row in session.scalars(sa.select(m.Agent).options(cols))}
    rebuild(session, agents, datetime.now(UTC))
    session.flush()


def downgrade() -> None:
    bind = op.get_bind()
    for tables in AREAS.values():
        for table in tables:
            if bind.dialect.name == "postgresql":
                op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_stamp ON {table}")
            else:
                for ev in ("insert", "update", "delete"):
                    op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_stamp_{ev}")
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS leadgate_bump_stamp()")
    op.drop_table("config_stamps")
    op.drop_table("agent_loads")
    op.drop_index("ix_dedupe_keys_key", table_name="dedupe_keys")
    op.create_index("ix_dedupe_keys_lookup", "dedupe_keys", ["campaign_id", "key", "created_at"])
