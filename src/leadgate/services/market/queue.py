"""The ``lead.sell`` job row, written in the capture (or routing) transaction of a lead
whose decision is ``sell``. Kept apart from ``sell.py`` so capture imports little."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadgate.domain.decision import Decision

JOB = "lead.sell"


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
