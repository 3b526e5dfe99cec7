"""An unsold lead and its flow's fallback.

A lead the marketplace could not sell (no buyer, no bid at or above the reserve,
every post rejected) goes where its flow's ``fallback`` says: a pool of reps
(``fallback: {team: sales, method: round_robin, queue: unsold}``) is tried first,
under the flow's routing lock and with the reps' live loads, exactly as routing's
own fallback (``domain.routing.decide_fallback``); the queue is used when that pool
cannot place it. A fallback that only names a queue is handled by the sell job itself.
A fallback that sells again is never tried: the lead is not put on sale twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leadgate.services import routing, snapshot, timeline
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork


def route_unsold(uow: UnitOfWork, lead: m.Lead, payload: Mapping[str, Any], method: str,
                 trace: Mapping[str, Any], now: datetime) -> bool:
    """Route ``lead`` with its flow's fallback pool if the flow has one (True), after
    recording the ``unsold`` event; False: the fallback is only a queue (or gone)."""
    key = payload.get("flow")
    published = snapshot.current(uow.session).flows.get(key) if key else None
    if published is None:
        return False
    flow, version = published
    fb = flow.fallback
    if fb is None or fb.target is None:
        return False
    timeline.record(uow, lead, "unsold", now, actor="market", method=method,
                    fallback=fb.to_dict(), trace=dict(trace))
    routing.route_with(uow, lead, flow, version, now, actor="market",
                       fallback_because=f"the {method.replace('_', ' ')} did not sell the "
                                        "lead")
    return True
