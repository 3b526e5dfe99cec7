"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 23:29:25.745407
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import leadgate.store.models as m

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "spec",
            m.JSONType,
            nullable=False,
        ),
        sa.Column(
            "teams",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("status_changed_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("key", name=op.f("uq_agents_key")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_key", sa.String(length=200), nullable=False),
        sa.Column(
            "before",
            m.JSONType,
            nullable=True,
        ),
        sa.Column(
            "after",
            m.JSONType,
            nullable=True,
        ),
        sa.Column("at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "campaigns",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "spec",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("flow_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("key", name=op.f("uq_campaigns_key")),
    )
    op.create_table(
        "flows",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column(
            "draft",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
        sa.UniqueConstraint("key", name=op.f("uq_flows_key")),
    )
    op.create_table(
        "jobs",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", m.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", m.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_status_run_after", ["status", "run_after"], unique=False)

    op.create_table(
        "routing_state",
        sa.Column("flow_key", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("decisions", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flow_key", name=op.f("pk_routing_state")),
    )
    op.create_table(
        "suppressions",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint("key", name=op.f("uq_suppressions_key")),
    )
    op.create_table(
        "teams",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("key", name=op.f("uq_teams_key")),
    )
    op.create_table(
        "flow_versions",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("flow_id", m.IdType, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "spec",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=320), nullable=True),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_versions_flow_id_flows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_versions")),
        sa.UniqueConstraint("flow_id", "version", name=op.f("uq_flow_versions_flow_id")),
    )
    op.create_table(
        "scoring_models",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("campaign_id", m.IdType, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column(
            "metrics",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_scoring_models_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_models")),
        sa.UniqueConstraint("campaign_id", "version", name=op.f("uq_scoring_models_campaign_id")),
    )
    op.create_table(
        "sources",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("campaign_id", m.IdType, nullable=False),
        sa.Column("api_key_hash", sa.String(length=128), nullable=True),
        sa.Column("api_key_prefix", sa.String(length=32), nullable=True),
        sa.Column("form_key", sa.String(length=64), nullable=True),
        sa.Column("form_redirect", sa.String(length=500), nullable=True),
        sa.Column("default_region", sa.String(length=8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_sources_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("api_key_hash", name=op.f("uq_sources_api_key_hash")),
        sa.UniqueConstraint("form_key", name=op.f("uq_sources_form_key")),
        sa.UniqueConstraint("key", name=op.f("uq_sources_key")),
    )
    op.create_table(
        "users",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("agent_id", m.IdType, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_users_agent_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("user_id", m.IdType, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", m.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("source_id", m.IdType, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column(
            "response",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_idempotency_keys_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("source_id", "key", name=op.f("uq_idempotency_keys_source_id")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "leads",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("campaign_id", m.IdType, nullable=False),
        sa.Column("source_id", m.IdType, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "values",
            m.JSONType,
            nullable=False,
        ),
        sa.Column(
            "raw",
            m.JSONType,
            nullable=False,
        ),
        sa.Column(
            "reasons",
            m.JSONType,
            nullable=False,
        ),
        sa.Column(
            "checks",
            m.JSONType,
            nullable=False,
        ),
        sa.Column(
            "enrichment",
            m.JSONType,
            nullable=False,
        ),
        sa.Column(
            "consent",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("grade", sa.String(length=8), nullable=True),
        sa.Column("assignee_id", m.IdType, nullable=True),
        sa.Column("queue", sa.String(length=200), nullable=True),
        sa.Column("flow_key", sa.String(length=64), nullable=True),
        sa.Column("flow_version", sa.Integer(), nullable=True),
        sa.Column(
            "decision",
            m.JSONType,
            nullable=True,
        ),
        sa.Column("duplicate_of_id", m.IdType, nullable=True),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", m.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["agents.id"], name=op.f("fk_leads_assignee_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_leads_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"], ["leads.id"], name=op.f("fk_leads_duplicate_of_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_leads_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_assignee_status", ["assignee_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_leads_status_created", ["status", "created_at"], unique=False)

    op.create_table(
        "assignments",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("lead_id", m.IdType, nullable=False),
        sa.Column("agent_id", m.IdType, nullable=False),
        sa.Column("flow_key", sa.String(length=64), nullable=True),
        sa.Column("flow_version", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("method", sa.String(length=32), nullable=True),
        sa.Column(
            "trace",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assigned_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", m.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_assignments_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_assignments_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index("ix_assignments_agent_at", ["agent_id", "assigned_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignments_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "dedupe_keys",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("campaign_id", m.IdType, nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("lead_id", m.IdType, nullable=False),
        sa.Column("created_at", m.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_dedupe_keys_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_dedupe_keys_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedupe_keys")),
    )
    with op.batch_alter_table("dedupe_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dedupe_keys_lookup", ["campaign_id", "key", "created_at"], unique=False
        )

    op.create_table(
        "lead_events",
        sa.Column("id", m.IdType, nullable=False),
        sa.Column("lead_id", m.IdType, nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column(
            "data",
            m.JSONType,
            nullable=False,
        ),
        sa.Column("at", m.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_events_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_events")),
    )
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_events_lead_id"), ["lead_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_events_lead_id"))

    op.drop_table("lead_events")
    with op.batch_alter_table("dedupe_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_dedupe_keys_lookup")

    op.drop_table("dedupe_keys")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignments_lead_id"))
        batch_op.drop_index("ix_assignments_agent_at")

    op.drop_table("assignments")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_status_created")
        batch_op.drop_index(batch_op.f("ix_leads_created_at"))
        batch_op.drop_index("ix_leads_assignee_status")

    op.drop_table("leads")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("sources")
    op.drop_table("scoring_models")
    op.drop_table("flow_versions")
    op.drop_table("teams")
    op.drop_table("suppressions")
    op.drop_table("routing_state")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_run_after")

    op.drop_table("jobs")
    op.drop_table("flows")
    op.drop_table("campaigns")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
    op.drop_table("agents")
