"""The rows written in the capture (or routing) transaction of a lead whose decision
is ``sell``: its ``lead.sell`` job and its ``market_leads`` row (sales, money).
Kept apart from ``sell.py`` so capture imports little."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadgate.domain.decision import Decision
from leadgate.store.market import MarketLead

JOB = "lead.sell"
MARKET_LEADS = MarketLead.__table__


def market_row(lead_id: int, source_key: str | None, now: datetime) -> dict[str, Any]:
    """A lead's ``market_leads`` row as it goes on sale."""
    return {"lead_id": lead_id, "source_key": source_key, "sales": 0, "exclusive": False,
            "revenue": 0, "cost": 0, "quoted": None, "credited": 0, "charged_back": 0,
            "trace": None, "updated_at": now}


def job_row(lead_id: int, decision: Decision, flow: Any, now: datetime) -> dict[str, Any]:
    """The outbox row that sells ``lead_id`` as ``decision`` says (``flow`` gives the
    fallback queue for an unsold lead)."""
    fb = getattr(flow, "fallback", None)
    return {"kind": JOB, "status": "pending", "attempts": 0, "max_attempts": 3,
            "run_after": now, "created_at": now,
            "payload": {"lead_id": lead_id, "target": dict(decision.target),
                        "flow": getattr(flow, "key", None), "rule": decision.rule,
                        "fallback": (fb.queue if fb is not None and fb.queue else
                                     "unassigned")}}
