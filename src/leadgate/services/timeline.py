"""Lead timeline events: every step of the pipeline writes one.

One exception, on the hot path: a lead captured and qualified in one go stores its
``qualified`` step inside its ``received`` row (:func:`capture_rows`), one row fewer
per lead; :func:`entries` reads the timeline back as separate steps."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert

from leadgate.store.models import Lead, LeadEvent
from leadgate.store.uow import UnitOfWork

_INSERT = insert(cast(Table, LeadEvent.__table__))


def record(uow: UnitOfWork, lead: Lead, type_: str, now: datetime, *,
           actor: str | None = None, **data: Any) -> LeadEvent:
    event = LeadEvent(lead_id=lead.id, type=type_, actor=actor, data=data, at=now)
    uow.session.add(event)
    return event


def add(uow: UnitOfWork, lead_id: int, type_: str, now: datetime, *,
        actor: str | None = None, **data: Any) -> None:
    """:func:`record` as one Core INSERT, no ORM object (the lead's ``events``
    relationship, if loaded, does not see it)."""
    uow.session.execute(_INSERT, {"lead_id": lead_id, "type": type_, "actor": actor,
                                  "data": data, "at": now})


#: the ``received`` row's member holding the ``qualified`` step stored with it
FOLDED = "qualified"


def capture_rows(lead_id: int, events: Sequence[tuple[str, str | None, dict[str, Any]]],
                 received_at: datetime, now: datetime) -> Iterator[dict[str, Any]]:
    """The timeline rows of a lead's capture steps (type, actor, data), received at
    ``received_at``, the rest at ``now``. A ``qualified`` step right after
    ``received`` goes in the ``received`` row (member ``qualified``: its actor, time
    and data)."""
    rest: Iterable[tuple[str, str | None, dict[str, Any]]] = events
    if len(events) >= 2 and events[0][0] == "received" and events[1][0] == FOLDED:
        (_, actor, data), (_, q_actor, q_data) = events[0], events[1]
        yield {"lead_id": lead_id, "type": "received", "actor": actor, "at": received_at,
               "data": {**data, FOLDED: {"actor": q_actor, "at": now.isoformat(), **q_data}}}
        rest = events[2:]
    for type_, actor, data in rest:
        yield {"lead_id": lead_id, "type": type_, "actor": actor, "data": data,
               "at": received_at if type_ == "received" else now}


def entries(events: Iterable[LeadEvent]) -> list[dict[str, Any]]:
    """A lead's timeline as the API shows it: one entry per step (type, at, actor,
    data), the ``qualified`` step stored in a ``received`` row in its own entry."""
    out = []
    for e in events:
        data = e.data if isinstance(e.data, dict) else {}
        folded = data.get(FOLDED) if e.type == "received" else None
        if isinstance(folded, dict):
            out.append({"type": e.type, "at": e.at.isoformat(), "actor": e.actor,
                        "data": {k: v for k, v in data.items() if k != FOLDED}})
            step = dict(folded)
            actor, at = step.pop("actor", None), step.pop("at", None)
            out.append({"type": FOLDED, "at": at, "actor": actor, "data": step})
            continue
        out.append({"type": e.type, "at": e.at.isoformat(), "actor": e.actor, "data": e.data})
    return out
