"""Parsed configuration, cached by version: campaigns and flows are parsed once
per change, not once per lead."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import select

from leadgate.domain.campaigns import Campaign, parse_campaign
from leadgate.domain.errors import NotFound
from leadgate.domain.routing import Flow, parse_flow
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

_lock = threading.Lock()
# Keys carry the database URL: one process may serve several databases (tests do).
_campaigns: dict[tuple[str, int, datetime], Campaign] = {}
_flows: dict[tuple[str, str, int], Flow] = {}


def _db(obj: Any) -> str:
    from sqlalchemy.orm import object_session

    session = object_session(obj) if not isinstance(obj, UnitOfWork) else obj.session
    return str(session.get_bind().engine.url) if session is not None else ""


def campaign_of(row: m.Campaign) -> Campaign:
    key = (_db(row), row.id, row.updated_at)
    found = _campaigns.get(key)
    if found is None:
        found = parse_campaign(row.spec, path=f"campaign {row.key}")
        with _lock:
            _campaigns[key] = found
    return found


def published_flow(uow: UnitOfWork, flow_key: str) -> tuple[Flow, int] | None:
    """The published version of a flow, parsed; None if it has none."""
    row = uow.session.scalar(select(m.Flow).where(m.Flow.key == flow_key))
    if row is None or row.published_version is None:
        return None
    ck = (_db(uow), flow_key, row.published_version)
    found = _flows.get(ck)
    if found is None:
        spec = uow.session.scalar(
            select(m.FlowVersion.spec).where(
                m.FlowVersion.flow_id == row.id, m.FlowVersion.version == row.published_version
            )
        )
        if spec is None:
            raise NotFound(f"flow {flow_key} version {row.published_version} is missing")
        found = parse_flow(spec, key=flow_key)
        with _lock:
            _flows[ck] = found
    return found, row.published_version


def flow_from_spec(spec: dict[str, Any], key: str | None = None) -> Flow:
    return parse_flow(spec, key=key)


def flow_of(session: Any, flow_key: str, version: int, spec: dict[str, Any]) -> Flow:
    """A published flow version, parsed once per process."""
    ck = (str(session.get_bind().engine.url), flow_key, version)
    found = _flows.get(ck)
    if found is None:
        found = parse_flow(spec, key=flow_key)
        with _lock:
            _flows[ck] = found
    return found
