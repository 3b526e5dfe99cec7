"""Read side of destinations, shared by the API and the console: each destination
with its secrets shown as ``***``, its limits and how many deliveries it has per
status. Queueing, sending, retrying and previews are in ``services/deliveries.py``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from leadgate.services import deliveries
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork


def destination_dict(row: m.Destination) -> dict[str, Any]:
    """One destination as the API shows it (secrets hidden)."""
    return {"key": row.key, "name": row.name, "kind": row.kind, "active": row.active,
            "spec": deliveries.public_spec(row.spec), "updated_at": row.updated_at.isoformat()}


def list_destinations(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = uow.session.scalars(select(m.Destination).order_by(m.Destination.key))
    return [destination_dict(r) for r in rows]


def overview(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every destination with its timeout, concurrency, attempt budget and its
    deliveries counted per status (one grouped query for all destinations)."""
    per: dict[str, dict[str, int]] = {}
    for key, status, n in uow.session.execute(
            select(m.Delivery.destination_key, m.Delivery.status, func.count())
            .group_by(m.Delivery.destination_key, m.Delivery.status)):
        per.setdefault(key, {})[status] = n
    out = []
    for row in uow.session.scalars(select(m.Destination).order_by(m.Destination.key)):
        item = destination_dict(row)
        spec = deliveries.spec_of(row)
        item.update(timeout=spec.common.timeout, concurrency=spec.common.concurrency,
                    max_attempts=spec.common.max_attempts,
                    counts=per.get(row.key, {}), total=sum(per.get(row.key, {}).values()))
        out.append(item)
    return out
