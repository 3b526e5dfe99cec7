"""The configuration the hot path needs, cached per process and per database.

Sources, campaigns (parsed), published flows (parsed), active agents (as
routing's :class:`Agent`) and scoring models are read once per version. Every
change to those tables bumps a row of ``config_stamps`` through database
triggers (migration 0003), whatever code made it, so :func:`current` needs one
small statement to know that its copy is still right, and none more while
nothing changes.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.domain.agents import Agent, Candidate
from leadgate.domain.campaigns import Campaign
from leadgate.domain.routing import Flow
from leadgate.domain.routing.pools import Roster
from leadgate.store import models as m

AREAS = ("sources", "campaigns", "flows", "agents", "models")


@dataclass(frozen=True)
class SourceInfo:
    id: int
    key: str
    campaign_id: int
    default_region: str | None
    active: bool
    api_key_hash: str | None
    form_key: str | None
    form_redirect: str | None


@dataclass(frozen=True)
class CampaignInfo:
    id: int
    key: str
    flow_key: str | None
    spec: Campaign
    model: Any = None


@dataclass(frozen=True)
class AgentInfo:
    id: int
    key: str
    name: str
    agent: Agent
    #: notification preferences (domain/notifications.py), None when the rep has none
    notify: dict[str, Any] | None = None


@dataclass
class Snapshot:
    """One consistent view of the configuration, as of ``stamps``."""

    stamps: dict[str, int] = field(default_factory=dict)
    sources: dict[int, SourceInfo] = field(default_factory=dict)
    sources_by_hash: dict[str, SourceInfo] = field(default_factory=dict)
    campaigns: dict[int, CampaignInfo] = field(default_factory=dict)
    flows: dict[str, tuple[Flow, int]] = field(default_factory=dict)
    agents: dict[str, AgentInfo] = field(default_factory=dict)
    agents_by_id: dict[int, AgentInfo] = field(default_factory=dict)
    #: every active agent with an empty load: resolves pool members before loads are read
    roster: Roster = field(default_factory=lambda: Roster(()))
    #: teams' notification preferences (a chat webhook), by team key
    team_notify: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: some agent or team has notification preferences (else capture skips them)
    notify_any: bool = False

    def source_for_key(self, digest: str) -> SourceInfo | None:
        found = self.sources_by_hash.get(digest)
        return found if found is not None and found.active else None

    def flow_of(self, campaign: CampaignInfo) -> tuple[Flow, int] | None:
        return self.flows.get(campaign.flow_key) if campaign.flow_key else None


_lock = threading.Lock()
_cache: dict[str, Snapshot] = {}


_url_text: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _engine_key(engine: Any) -> str:
    # rendering a URL as text costs microseconds, and this runs on every capture request
    try:
        key = _url_text.get(engine)
        if key is None:
            key = _url_text[engine] = str(engine.url)
    except TypeError:  # not weakly referenceable
        return str(engine.url)
    return key


def _db_key(session: Session) -> str:
    return _engine_key(session.get_bind().engine)


def cached(session: Session) -> Snapshot | None:
    """The last snapshot this process loaded for this database (no statement)."""
    return _cache.get(_db_key(session))


def cached_for(engine: Any) -> Snapshot | None:
    """The last snapshot loaded for the database behind ``engine`` (no statement)."""
    return _cache.get(_engine_key(engine))


def read_stamps(session: Session) -> dict[str, int]:
    return {a: int(v) for a, v in session.execute(
        select(m.ConfigStamp.area, m.ConfigStamp.version))}


def current(session: Session, stamps: dict[str, int] | None = None) -> Snapshot:
    """An up-to-date snapshot: one statement when nothing changed (none if the
    caller read ``stamps`` already), plus one per changed area."""
    if stamps is None:
        stamps = read_stamps(session)
    key = _db_key(session)
    old = _cache.get(key)
    if old is not None and old.stamps == stamps:
        return old
    snap = _load(session, stamps, old)
    with _lock:
        _cache[key] = snap
    return snap


def _changed(area: str, stamps: dict[str, int], old: Snapshot | None) -> bool:
    return old is None or old.stamps.get(area) != stamps.get(area)


def _load(session: Session, stamps: dict[str, int], old: Snapshot | None) -> Snapshot:
    from leadgate.services import catalog, scoring
    from leadgate.services.routing import domain_agent

    snap = Snapshot(stamps=dict(stamps))
    if _changed("sources", stamps, old) or old is None:
        for r in session.execute(select(m.Source.__table__)):
            info = SourceInfo(r.id, r.key, r.campaign_id, r.default_region, bool(r.active),
                              r.api_key_hash, r.form_key, r.form_redirect)
            snap.sources[info.id] = info
            if info.api_key_hash:
                snap.sources_by_hash[info.api_key_hash] = info
    else:
        snap.sources, snap.sources_by_hash = old.sources, old.sources_by_hash
    if _changed("campaigns", stamps, old) or _changed("models", stamps, old) or old is None:
        active = {r.campaign_id: (r.id, r.version) for r in session.execute(
            select(m.ScoringModelRow.campaign_id, m.ScoringModelRow.id,
                   m.ScoringModelRow.version).where(m.ScoringModelRow.active.is_(True)))}
        for row in session.scalars(select(m.Campaign)):
            spec = catalog.campaign_of(row)
            snap.campaigns[row.id] = CampaignInfo(
                row.id, row.key, row.flow_key, spec,
                scoring.model_for(session, row.id, spec, active.get(row.id)))
    else:
        snap.campaigns = old.campaigns
    if _changed("flows", stamps, old) or old is None:
        f, v = m.Flow, m.FlowVersion
        for key, version, spec in session.execute(
                select(f.key, v.version, v.spec).join(v, v.flow_id == f.id)
                .where(v.version == f.published_version)):
            snap.flows[key] = (catalog.flow_of(session, key, version, spec), version)
    else:
        snap.flows = old.flows
    if _changed("agents", stamps, old) or old is None:
        for row in session.scalars(select(m.Agent).where(m.Agent.active.is_(True))
                                   .order_by(m.Agent.key)):
            info = AgentInfo(row.id, row.key, row.name, domain_agent(row), row.notify or None)
            snap.agents[row.key] = info
            snap.agents_by_id[row.id] = info
        snap.roster = Roster([Candidate(a.agent) for a in snap.agents.values()])
        snap.team_notify = {k: n for k, n in session.execute(select(m.Team.key, m.Team.notify))
                            if n}
        snap.notify_any = bool(snap.team_notify) or any(a.notify for a in snap.agents.values())
    else:
        snap.agents, snap.agents_by_id, snap.roster = old.agents, old.agents_by_id, old.roster
        snap.team_notify, snap.notify_any = old.team_notify, old.notify_any
    return snap


def clear() -> None:
    """Forget every cached snapshot (tests that rebuild databases under one URL)."""
    with _lock:
        _cache.clear()
        _market.clear()


# --- the marketplace: buyers and destinations ------------------------------------------
@dataclass(frozen=True)
class MarketConfig:
    """Every buyer (parsed), every active destination (parsed spec) and the ``market:``
    settings (parsed), as of the ``market`` stamp (bumped by any change to buyers or
    destinations, migration 0009, or to the settings' row, migration 0010)."""

    version: tuple[int, int]
    buyers: dict[str, Any]
    destinations: dict[str, Any]
    settings: Any = None  # services.market.settings.MarketSettings


_market: dict[str, MarketConfig] = {}


def market(session: Session, stamps: tuple[int, int] | None = None) -> MarketConfig:
    """The marketplace configuration: one small statement while nothing changed, none
    when the caller read the ``market`` and ``instance`` stamps already (``stamps``, as
    the sell job does with its lead)."""
    from leadgate.services import deliveries
    from leadgate.services.market.ledger import buyer_of
    from leadgate.services.market.settings import CONFIG_KEY, parse_settings
    from leadgate.store import market as mk

    if stamps is None:
        read = dict(session.execute(
            select(m.ConfigStamp.area, m.ConfigStamp.version)
            .where(m.ConfigStamp.area.in_(("market", "instance")))).all())
        stamps = (int(read.get("market", 0)), int(read.get("instance", 0)))
    version = stamps
    key = _db_key(session)
    got = _market.get(key)
    if got is not None and got.version == version and version[0]:
        return got
    buyers = {r.key: buyer_of(r.spec) for r in session.scalars(select(mk.Buyer))}
    dests = {r.key: deliveries.spec_of(r) for r in session.scalars(select(m.Destination))
             if r.active}
    data = session.scalar(select(mk.MarketState.data).where(mk.MarketState.key == CONFIG_KEY))
    got = MarketConfig(version, buyers, dests, parse_settings(data))
    with _lock:
        _market[key] = got
    return got
