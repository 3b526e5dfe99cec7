"""What a request hands the capture batch, and the record of a lead inside one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadgate.domain.decision import Decision
from leadgate.domain.errors import InvalidInput
from leadgate.domain.qualify import Qualification, qualify
from leadgate.services import offers
from leadgate.services.snapshot import CampaignInfo, Snapshot, SourceInfo

MAX_FIELDS = 200


class _Defer:
    def __repr__(self) -> str:
        return "DEFER"


#: Answer for a submission that must wait for the next batch.
DEFER: Any = _Defer()


@dataclass(frozen=True)
class IngestResult:
    status_code: int  # 201 stored, 422 refused (a replay repeats the first code)
    body: dict[str, Any]
    lead_id: int | None
    replayed: bool = False


@dataclass
class Submission:
    """One lead as received, with what the request already worked out."""

    source_id: int
    payload: dict[str, Any]
    received_at: datetime
    idempotency_key: str | None = None
    via: str = "api"
    key_hash: str | None = None  # the API key's hash: re-checked if sources change
    digest: str = ""
    q: Qualification | None = None
    q_stamps: tuple[int, ...] = ()


def body_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def check_payload(payload: Any) -> dict[str, Any]:
    """A lead is a flat JSON object of scalar values."""
    if not isinstance(payload, dict):
        raise InvalidInput("a lead must be a JSON object of fields", code="invalid_body")
    if len(payload) > MAX_FIELDS:
        raise InvalidInput(f"a lead may have at most {MAX_FIELDS} fields", code="invalid_body")
    for k, v in payload.items():
        if isinstance(v, dict | list):
            raise InvalidInput(
                f"field {k!r} must be a single value (text, number, boolean or null), "
                "not an object or a list",
                code="invalid_body",
            )
    return payload


def q_stamps(snap: Snapshot) -> tuple[int, ...]:
    return tuple(snap.stamps.get(a, 0) for a in ("instance", "campaigns", "models", "sources"))


def prepare(snap: Snapshot, sub: Submission) -> None:
    """Check and qualify a submission against a snapshot (CPU only, no database)."""
    check_payload(sub.payload)
    if sub.idempotency_key is not None:
        sub.digest = body_hash(sub.payload)
    source = snap.sources.get(sub.source_id)
    if source is None:
        return  # a source this snapshot does not know yet: qualified in the batch
    campaign = snap.campaigns[source.campaign_id]
    sub.q = qualify(sub.payload, campaign.spec, now=sub.received_at,
                    default_region=source.default_region, model=campaign.model)
    sub.q_stamps = q_stamps(snap)


# --- the batch -------------------------------------------------------------------------


@dataclass
class BatchLead:
    """A submission being worked on inside the batch."""

    index: int
    sub: Submission
    source: SourceInfo
    campaign: CampaignInfo
    q: Qualification
    status: str = "new"
    reasons: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    duplicate_of: int | None = None
    merged_into: int | None = None
    remember_keys: bool = False
    decision: Decision | None = None
    decision_json: dict[str, Any] | None = None
    flow_key: str | None = None
    flow_version: int | None = None
    agent_key: str | None = None
    agent_id: int | None = None
    queue: str | None = None
    assigned_at: datetime | None = None
    hold_until: datetime | None = None
    offer: offers.Plan | None = None
    id: int | None = None
    result: Any = None
    #: PostgreSQL: the lead row's columns that no decision changes, as JSON text,
    #: made before the flow's lock is taken (``write.prepare_rows``)
    fixed: str | None = None

    def event(self, type_: str, actor: str | None, **data: Any) -> None:
        self.events.append((type_, actor, data))


