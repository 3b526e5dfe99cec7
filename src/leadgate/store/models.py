"""SQLAlchemy 2 models: the tables of leadgate.

The schema is built only through the Alembic migrations in
``leadgate/migrations``; these models describe it for the ORM.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
IdType = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        from datetime import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        from datetime import UTC

        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    flow_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Source(Base):
    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    api_key_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    api_key_prefix: Mapped[str | None] = mapped_column(String(32))
    form_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    form_redirect: Mapped[str | None] = mapped_column(String(500))
    default_region: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    campaign: Mapped[Campaign] = relationship(lazy="joined")


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Notification preferences of the team (a chat webhook); see services/notifications.py
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="available")
    #: Routing attributes (languages, skills, territories, tier, hours, caps...).
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    teams: Mapped[list[str]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    #: Notification preferences (email, webhook, events), normalised; None: none.
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    #: the buyer a user with the buyer role acts for (migration 0008)
    buyer_key: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    agent: Mapped[Agent | None] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user: Mapped[User] = relationship(lazy="joined")


class Flow(Base):
    __tablename__ = "flows"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    draft: Mapped[dict[str, Any]] = mapped_column(JSONType)
    published_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FlowVersion(Base):
    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("flow_id", "version"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id"))
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoutingState(Base):
    """Persistent method state per flow (rotation pointers, weighted counts).

    The row is locked (``FOR UPDATE``) for the length of a routing decision,
    which makes rotations exact across any number of processes.
    """

    __tablename__ = "routing_state"
    flow_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType)
    decisions: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_status_created", "status", "created_at"),
        Index("ix_leads_assignee_status", "assignee_id", "status"),
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    status: Mapped[str] = mapped_column(String(16))
    values: Mapped[dict[str, Any]] = mapped_column(JSONType)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    enrichment: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    consent: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    score: Mapped[float | None] = mapped_column()
    grade: Mapped[str | None] = mapped_column(String(8))
    #: What raised or lowered the score: rules with points, or model features.
    score_explanation: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, default=list)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    queue: Mapped[str | None] = mapped_column(String(200))
    flow_key: Mapped[str | None] = mapped_column(String(64))
    flow_version: Mapped[int | None] = mapped_column(Integer)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    via: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    campaign: Mapped[Campaign] = relationship(lazy="joined")
    source: Mapped[Source | None] = relationship(lazy="joined")
    assignee: Mapped[Agent | None] = relationship(lazy="joined")


class LeadEvent(Base):
    __tablename__ = "lead_events"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_agent_at", "agent_id", "assigned_at"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    flow_key: Mapped[str | None] = mapped_column(String(64))
    flow_version: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str | None] = mapped_column(String(200))
    method: Mapped[str | None] = mapped_column(String(32))
    #: the decision record that made this assignment, once the lead has been decided
    #: again; NULL while it is the lead's own ``decision`` (stored once, migration 0011)
    trace: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="active")
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent: Mapped[Agent] = relationship(lazy="joined")


class Job(Base):
    """Transactional outbox: written with the lead, run after commit by workers."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_run_after", "status", "run_after"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("source_id", "key"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    key: Mapped[str] = mapped_column(String(200))
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    actor: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_key: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ScoringModelRow(Base):
    __tablename__ = "scoring_models"
    __table_args__ = (UniqueConstraint("campaign_id", "version"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    version: Mapped[int] = mapped_column(Integer)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DedupeKey(Base):
    """One row per dedupe key of an accepted lead, looked up within the window."""

    __tablename__ = "dedupe_keys"
    __table_args__ = (Index("ix_dedupe_keys_key", "key", "campaign_id", "created_at"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    key: Mapped[str] = mapped_column(String(400))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Suppression(Base):
    """Do-not-contact entries: ``phone:+1...``, ``email:a@b.com``, ``domain:b.com``."""

    __tablename__ = "suppressions"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgentLoadRow(Base):
    """An agent's live load, kept in the transaction that changes it.

    Routing reads these rows by primary key for the members of the pool being
    decided, so the cost of a decision never depends on the length of history.
    Cap windows are (start, count) pairs: a count only applies while its start
    is the current window's start in the agent's time zone. ``outcomes`` holds
    won/closed counts per UTC day of assignment for the performance window.
    """

    __tablename__ = "agent_loads"
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True,
                                          autoincrement=False)
    open_leads: Mapped[int] = mapped_column(Integer, default=0)
    assigned_total: Mapped[int] = mapped_column(BigInteger, default=0)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hour_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hour_n: Mapped[int] = mapped_column(Integer, default=0)
    day_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    day_n: Mapped[int] = mapped_column(Integer, default=0)
    week_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    week_n: Mapped[int] = mapped_column(Integer, default=0)
    month_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    month_n: Mapped[int] = mapped_column(Integer, default=0)
    outcomes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ConfigStamp(Base):
    """A version per configuration area, bumped by database triggers on every
    change; processes cache parsed configuration until a stamp moves."""

    __tablename__ = "config_stamps"
    area: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class ConsoleSession(Base):
    """A logged-in console session; the signed cookie holds only a random id whose
    SHA-256 is ``token_hash``. Deleting the row ends the session everywhere."""

    __tablename__ = "console_sessions"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user: Mapped[User] = relationship(lazy="joined")


class Destination(Base):
    """Where leads are delivered: a kind (http, email, sftp...) and its spec as given."""

    __tablename__ = "destinations"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    #: The entry of the setup file, secrets included (never shown or exported as such).
    #: Plain JSON, not JSONB, on PostgreSQL: field mappings and CSV columns keep their order.
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One lead to one destination: queued in the lead's transaction, sent at least
    once by the worker, identified to the receiver by ``idempotency_key``."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_deliveries_destination_status", "destination_key", "status"),
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    destination_key: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: standby, pending, held, waiting, sending, accepted, rejected, duplicate,
    #: dead, discarded, skipped
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: attempts made before the last manual retry (the retry budget starts again)
    attempts_offset: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sending_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the flow's hold for this destination (office hours / until / when), as data
    hold: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    #: first_accepting plans: the group and this destination's place in it
    group_key: Mapped[str | None] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    flow_key: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(200))
    price: Mapped[float | None] = mapped_column()
    #: a notification to a rep or team (``destination_key`` ``notify:*``): event,
    #: agent, round; None for lead deliveries
    notice: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """Every try of a delivery: request and response (truncated, secrets redacted)."""

    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    retryable: Mapped[bool] = mapped_column(default=False)
    request: Mapped[dict[str, Any]] = mapped_column(JSONType)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float] = mapped_column()
    worker: Mapped[str | None] = mapped_column(String(100))


class Offer(Base):
    """A lead offered to one agent until ``deadline`` (push with an SLA, or one of a
    shotgun's offers). One row per agent per round; the ``offer.expire`` job of a
    round bounces the lead when the round ends unanswered (services/offers.py)."""

    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_lead_round", "lead_id", "round"),
        Index("ix_offers_agent_status", "agent_id", "status"),
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    #: push (one agent, bounces down the pool) or shotgun (everyone, first claim wins)
    kind: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer, default=1)
    #: 0 while offered down the rule's pool, 1 down the escalation pool
    phase: Mapped[int] = mapped_column(Integer, default=0)
    #: offered, accepted, declined, expired, lost (another claimed it), cancelled
    status: Mapped[str] = mapped_column(String(16))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flow_key: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(String(200))
    #: the target being offered down (pool keys, method, accept_within) as given
    target: Mapped[dict[str, Any]] = mapped_column(JSONType)
    escalate: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    fallback_queue: Mapped[str] = mapped_column(String(200))
    agent: Mapped[Agent] = relationship(lazy="joined")
