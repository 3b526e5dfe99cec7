"""Config as code: apply and export the whole setup as one YAML document.

``apply`` validates everything first and refuses the file as a whole, with
every error naming its key path and line; only a clean file is written, in
one transaction. Applying the same file twice changes nothing. Entities that
are not in the file are left alone (apply is an upsert).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import func, select

from leadgate.delivery import parse_spec
from leadgate.delivery.base import REDACTED
from leadgate.domain.agents import Agent as DomainAgent
from leadgate.domain.campaigns import parse_campaign
from leadgate.domain.errors import InvalidConfig
from leadgate.domain.notifications import parse_prefs, public
from leadgate.domain.routing import Flow, parse_flow
from leadgate.services import security
from leadgate.services.market import setup as market_setup
from leadgate.store import models as m
from leadgate.store.market import Buyer
from leadgate.store.uow import UnitOfWork

SECTIONS = ("campaigns", "sources", "teams", "agents", "destinations", "buyers", "flows")
#: sections that are one mapping, not a list of keyed entries
MAPPINGS = ("market",)
SELL_METHODS = ("ping_tree", "ping_post", "sell_weighted")
AGENT_ROW_KEYS = ("key", "name", "email", "teams", "status", "notify")


@dataclass
class ApplyReport:
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (entity, key, action)
    source_keys: dict[str, str] = field(default_factory=dict)  # new API keys, shown once

    @property
    def changed(self) -> int:
        return sum(1 for _, _, action in self.changes if action != "unchanged")


def load_yaml(text: str, filename: str = "config") -> tuple[dict[str, Any], dict[str, int]]:
    """Parse YAML and map every key path (``flows[0].rules[1].to``) to its line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidConfig(f"{filename} is not valid YAML{where}: "
                            f"{getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidConfig(f"{filename} must be a mapping with sections {', '.join(SECTIONS)}")
    lines: dict[str, int] = {}

    def walk(n: Any, path: str) -> None:
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                p = f"{path}.{k.value}" if path else str(k.value)
                lines[p] = k.start_mark.line + 1
                walk(v, p)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, f"{path}[{i}]")

    if node is not None:
        walk(node, "")
    return data, lines


def _line_for(path: str, lines: Mapping[str, int]) -> int | None:
    p = path
    while p:
        if p in lines:
            return lines[p]
        cut = max(p.rfind("."), p.rfind("["))
        p = p[:cut] if cut > 0 else ""
    return None


def validate(data: Mapping[str, Any], lines: Mapping[str, int] | None = None,
             *, known_agents: set[str] | None = None,
             known_teams: set[str] | None = None,
             known_destinations: set[str] | None = None,
             known_buyers: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Check a whole config document; raise one InvalidConfig listing every error."""
    lines = lines or {}
    errors: list[tuple[str, str]] = []
    out: dict[str, list[dict[str, Any]]] = {}
    for key in data:
        if key not in SECTIONS and key not in MAPPINGS:
            errors.append((str(key), f"unknown section {key!r}; expected "
                                     f"{', '.join(SECTIONS + MAPPINGS)}"))
    for section in SECTIONS:
        items = data.get(section) or []
        if not isinstance(items, list):
            errors.append((section, "must be a list"))
            items = []
        seen: set[str] = set()
        for i, item in enumerate(items):
            path = f"{section}[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                errors.append((path, "each entry must be a mapping with a text 'key'"))
                continue
            if item["key"] in seen:
                errors.append((f"{path}.key", f"duplicate key {item['key']!r}"))
            seen.add(item["key"])
        out[section] = [it for it in items if isinstance(it, dict)]
    teams = {t["key"] for t in out["teams"]} | (known_teams or set())
    agents = {a["key"] for a in out["agents"]} | (known_agents or set())
    flows = {f["key"] for f in out["flows"]}
    campaigns = {c["key"] for c in out["campaigns"]}

    def guard(path: str, fn: Any) -> Any:
        try:
            return fn()
        except InvalidConfig as exc:
            for p, msg in exc.errors:
                full = p if p.startswith(path) else (f"{path}.{p}" if p else path)
                errors.append((full, msg))
        return None

    for i, c in enumerate(out["campaigns"]):
        path = f"campaigns[{i}]"
        guard(path, lambda c=c, path=path: parse_campaign(c, path=path))
        if c.get("flow") and c["flow"] not in flows:
            errors.append((f"{path}.flow", f"unknown flow {c['flow']!r}"))
    for i, s in enumerate(out["sources"]):
        if s.get("campaign") not in campaigns:
            errors.append((f"sources[{i}].campaign",
                           f"unknown campaign {s.get('campaign')!r}"))
    for section in ("teams", "agents"):  # notification preferences (both optional)
        for i, x in enumerate(out[section]):
            guard(f"{section}[{i}].notify", lambda x=x, p=f"{section}[{i}].notify", t=(
                section == "teams"): parse_prefs(x.get("notify"), p, team=t))
    for i, a in enumerate(out["agents"]):
        path = f"agents[{i}]"
        guard(path, lambda a=a, path=path: DomainAgent.from_mapping(a, path=path))
        for t in a.get("teams") or []:
            if t not in teams:
                errors.append((f"{path}.teams", f"unknown team {t!r}"))
    for i, d in enumerate(out["destinations"]):
        path = f"destinations[{i}]"
        guard(path, lambda d=d, path=path: parse_spec(d, path))
    destinations = {d["key"] for d in out["destinations"]} | (known_destinations or set())
    errors.extend(market_setup.validate(out["buyers"], data.get("market"), destinations))
    buyers = {b["key"] for b in out["buyers"]} | (known_buyers or set())
    for i, f in enumerate(out["flows"]):
        path = f"flows[{i}]"
        flow = guard(path, lambda f=f: parse_flow(f, key=f["key"], agents=agents, teams=teams))
        if flow is not None:
            errors.extend((f"{path}.{p}", msg) for p, msg in unknown_destinations(flow,
                                                                                  destinations))
            errors.extend((f"{path}.{p}", msg) for p, msg in unknown_buyers(flow, buyers))
    if errors:
        described = []
        for p, msg in errors:
            line = _line_for(p, lines)
            described.append((p, f"line {line}: {msg}" if line else msg))
        raise InvalidConfig(
            f"{len(described)} error(s): " + "; ".join(f"{p}: {msg}" for p, msg in described),
            errors=described,
        )
    return out


def apply(uow: UnitOfWork, data: Mapping[str, Any], now: datetime, *,
          lines: Mapping[str, int] | None = None, actor: str = "cli") -> ApplyReport:
    """Validate then upsert everything in ``data``; commits once."""
    s = uow.session
    known_agents = set(s.scalars(select(m.Agent.key)))
    known_teams = set(s.scalars(select(m.Team.key)))
    known_destinations = set(s.scalars(select(m.Destination.key)))
    doc = validate(data, lines, known_agents=known_agents, known_teams=known_teams,
                   known_destinations=known_destinations,
                   known_buyers=set(s.scalars(select(Buyer.key))))
    report = ApplyReport()
    audit = _Audit(uow, actor, now, report)

    for t in doc["teams"]:
        row = s.scalar(select(m.Team).where(m.Team.key == t["key"]))
        after = {"name": t.get("name") or t["key"]}
        if row is None:
            s.add(m.Team(key=t["key"], name=after["name"], created_at=now))
            audit("team", t["key"], None, after)
        elif row.name != after["name"]:
            before = {"name": row.name}
            row.name = after["name"]
            audit("team", t["key"], before, after)
        else:
            audit.same("team", t["key"])
        _notify(s, audit, "team", t, row)

    for a in doc["agents"]:
        after = agent_row_values(a)
        row = s.scalar(select(m.Agent).where(m.Agent.key == a["key"]))
        if row is None:
            row = m.Agent(key=a["key"], status=a.get("status", "available"), active=True,
                          status_changed_at=now, created_at=now, **after)
            s.add(row)
            audit("agent", a["key"], None, after)
            _notify(s, audit, "agent", a, row)
            continue
        _notify(s, audit, "agent", a, row)
        before = {"name": row.name, "email": row.email, "teams": row.teams, "spec": row.spec}
        if before != after:
            row.name, row.email, row.teams, row.spec = (
                after["name"], after["email"], after["teams"], after["spec"])
            audit("agent", a["key"], before, after)
        else:
            audit.same("agent", a["key"])

    for d in doc["destinations"]:
        row = s.scalar(select(m.Destination).where(m.Destination.key == d["key"]))
        spec = keep_secrets(dict(d), row.spec if row is not None else None)
        name = d.get("name") or d["key"]
        if row is None:
            s.add(m.Destination(key=d["key"], name=name, kind=d["kind"], spec=spec,
                                active=d.get("active", True) is not False, created_at=now,
                                updated_at=now))
            audit("destination", d["key"], None, public_spec(spec))
        elif row.spec != spec or row.name != name:
            before = public_spec(row.spec)
            row.spec, row.name, row.kind, row.updated_at = spec, name, d["kind"], now
            row.active = d.get("active", True) is not False
            audit("destination", d["key"], before, public_spec(spec))
        else:
            audit.same("destination", d["key"])

    market_setup.apply(uow, doc["buyers"], data.get("market"), now, audit, audit.same)

    for f in doc["flows"]:
        spec = parse_flow(f, key=f["key"]).to_dict()
        save_flow(uow, f["key"], spec, now, actor=actor, publish=True, report=report)

    campaign_ids: dict[str, int] = {}
    for c in doc["campaigns"]:
        spec = parse_campaign(c).to_dict()
        name = c.get("name") or c["key"]
        row = s.scalar(select(m.Campaign).where(m.Campaign.key == c["key"]))
        if row is None:
            row = m.Campaign(key=c["key"], name=name, spec=spec, flow_key=c.get("flow"),
                             created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            audit("campaign", c["key"], None, spec)
        elif (row.spec, row.name, row.flow_key) != (spec, name, c.get("flow")):
            before = dict(row.spec)
            row.spec, row.name, row.flow_key, row.updated_at = spec, name, c.get("flow"), now
            audit("campaign", c["key"], before, spec)
        else:
            audit.same("campaign", c["key"])
        campaign_ids[c["key"]] = row.id

    for src in doc["sources"]:
        form = src.get("form") or {}
        after = {"name": src.get("name") or src["key"],
                 "campaign_id": campaign_ids[src["campaign"]],
                 "default_region": src.get("default_region"),
                 "form_key": form.get("key") if form else None,
                 "form_redirect": form.get("redirect") if form else None}
        row = s.scalar(select(m.Source).where(m.Source.key == src["key"]))
        if row is None:
            secret = src.get("api_key") or security.new_secret(security.SOURCE_KEY_PREFIX)
            s.add(m.Source(key=src["key"], api_key_hash=security.hash_secret(secret),
                           api_key_prefix=security.display_prefix(secret), active=True,
                           created_at=now, **after))
            if not src.get("api_key"):
                report.source_keys[src["key"]] = secret
            audit("source", src["key"], None, after)
            continue
        before = {k: getattr(row, k) for k in after}
        if before != after:
            for k, v in after.items():
                setattr(row, k, v)
            audit("source", src["key"], before, after)
        else:
            audit.same("source", src["key"])
    uow.commit()
    return report


def _notify(s: Any, audit: _Audit, entity: str, entry: Mapping[str, Any], row: Any) -> None:
    """An entry's ``notify:`` (only when given: preferences a rep set through the API
    stay until the file says otherwise); a webhook secret left out or ``***`` is kept."""
    from leadgate.services.notifications import with_secret

    if "notify" not in entry:
        return
    if row is None:
        model = m.Team if entity == "team" else m.Agent
        row = s.scalar(select(model).where(model.key == entry["key"]))
    old = row.notify or None
    new = with_secret(parse_prefs(entry["notify"], team=entity == "team"), old)
    if new != old:
        row.notify = new
        audit(f"{entity}.notify", entry["key"], {"notify": public(old)}, {"notify": public(new)})


def unknown_destinations(flow: Flow, known: set[str]) -> list[tuple[str, str]]:
    """(path, message) for every ``deliver:`` naming a destination that does not exist."""
    out = []
    plans = [(f"rules[{r.index}].deliver", r.deliver) for r in flow.rules]
    if flow.fallback is not None:
        plans.append(("fallback.deliver", flow.fallback.deliver))
    for path, plan in plans:
        for i, t in enumerate(plan.targets if plan else ()):
            if t.destination not in known:
                out.append((f"{path}.to[{i}].destination",
                            f"unknown destination {t.destination!r}"))
    return out


def unknown_buyers(flow: Flow, known: set[str]) -> list[tuple[str, str]]:
    """(path, message) for every ping tree / ping post target naming an unknown buyer."""
    targets = [(f"rules[{r.index}].to", r.target) for r in flow.rules]
    if flow.fallback is not None and flow.fallback.target is not None:
        targets.append(("fallback.to", flow.fallback.target))
    return [(f"{path}.buyers[{i}]", f"unknown buyer {k!r}")
            for path, t in targets for i, k in enumerate(t.options.get("buyers") or ())
            if t.method in SELL_METHODS and k not in known]


def keep_secrets(new: Any, old: Any) -> Any:
    """An exported spec has ``***`` for secrets: applying it keeps the stored values."""
    if new == REDACTED:
        return old
    if isinstance(new, dict):
        o = old if isinstance(old, dict) else {}
        return {k: keep_secrets(v, o.get(k)) for k, v in new.items()}
    if isinstance(new, list):
        o = old if isinstance(old, list) else []
        return [keep_secrets(v, o[i] if i < len(o) else None) for i, v in enumerate(new)]
    return new


def public_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    from leadgate.services.deliveries import public_spec as _public

    return _public(spec)


def agent_row_values(a: Mapping[str, Any]) -> dict[str, Any]:
    """An agent's config entry as the row's columns: name, email, teams, and the
    rest (validated and normalised) as ``spec``."""
    spec = {k: v for k, v in a.items() if k not in AGENT_ROW_KEYS}
    spec = DomainAgent.from_mapping({"key": a["key"], **spec}).to_mapping()
    for k in ("key", "name", "status", "teams"):
        spec.pop(k, None)
    return {"name": a.get("name") or a["key"], "email": a.get("email"),
            "teams": list(a.get("teams") or []), "spec": spec}


class _Audit:
    def __init__(self, uow: UnitOfWork, actor: str, now: datetime, report: ApplyReport) -> None:
        self.uow, self.actor, self.now, self.report = uow, actor, now, report

    def __call__(self, entity: str, key: str, before: Any, after: Any) -> None:
        action = "created" if before is None else "updated"
        self.uow.session.add(m.AuditEntry(actor=self.actor, action=action, entity=entity,
                                          entity_key=key, before=before, after=after,
                                          at=self.now))
        self.report.changes.append((entity, key, action))

    def same(self, entity: str, key: str) -> None:
        self.report.changes.append((entity, key, "unchanged"))


def save_flow(uow: UnitOfWork, key: str, spec: dict[str, Any], now: datetime, *,
              actor: str, publish: bool, report: ApplyReport | None = None) -> int | None:
    """Store a flow draft; with ``publish`` make it a new immutable version unless
    it equals the published one. Returns the published version."""
    s = uow.session
    row = s.scalar(select(m.Flow).where(m.Flow.key == key))
    audit = _Audit(uow, actor, now, report or ApplyReport())
    if row is None:
        row = m.Flow(key=key, draft=spec, published_version=None, created_at=now,
                     updated_at=now)
        s.add(row)
        s.flush()
        audit("flow", key, None, spec)
    elif row.draft != spec:
        before = row.draft
        row.draft, row.updated_at = spec, now
        audit("flow", key, before, spec)
    if not publish:
        return row.published_version
    current = None
    if row.published_version is not None:
        current = s.scalar(select(m.FlowVersion.spec).where(
            m.FlowVersion.flow_id == row.id, m.FlowVersion.version == row.published_version))
    if current == spec:
        if report is not None and not any(c[:2] == ("flow", key) for c in report.changes):
            audit.same("flow", key)
        return row.published_version
    version = (s.scalar(select(func.max(m.FlowVersion.version))
                        .where(m.FlowVersion.flow_id == row.id)) or 0) + 1
    s.add(m.FlowVersion(flow_id=row.id, version=version, spec=spec, created_by=actor,
                        created_at=now))
    row.published_version = version
    uow.session.add(m.AuditEntry(actor=actor, action="published", entity="flow", entity_key=key,
                                 before=None, after={"version": version}, at=now))
    return version


def export(uow: UnitOfWork) -> dict[str, Any]:
    """The whole setup in the same format ``apply`` reads (API keys never included)."""
    s = uow.session
    out: dict[str, Any] = {}
    out["campaigns"] = [
        {"key": c.key, "name": c.name, **{k: v for k, v in c.spec.items() if k not in
                                          ("key", "name")},
         **({"flow": c.flow_key} if c.flow_key else {})}
        for c in s.scalars(select(m.Campaign).order_by(m.Campaign.key))
    ]
    out["sources"] = []
    for src in s.scalars(select(m.Source).order_by(m.Source.key)):
        item: dict[str, Any] = {"key": src.key, "name": src.name, "campaign": src.campaign.key}
        if src.default_region:
            item["default_region"] = src.default_region
        if src.form_key:
            item["form"] = {"key": src.form_key, "redirect": src.form_redirect}
        out["sources"].append(item)
    out["teams"] = [{"key": t.key, "name": t.name,
                     **({"notify": public(t.notify)} if t.notify else {})}
                    for t in s.scalars(select(m.Team).order_by(m.Team.key))]
    out["agents"] = []
    for a in s.scalars(select(m.Agent).order_by(m.Agent.key)):
        item = {"key": a.key, "name": a.name}
        if a.email:
            item["email"] = a.email
        if a.teams:
            item["teams"] = list(a.teams)
        item.update(a.spec or {})
        if a.notify:
            item["notify"] = public(a.notify)
        out["agents"].append(item)
    out["destinations"] = [public_spec(d.spec) for d in
                           s.scalars(select(m.Destination).order_by(m.Destination.key))]
    buyers, market = market_setup.export(uow)
    if buyers:
        out["buyers"] = buyers
    if market is not None:
        out["market"] = market
    out["flows"] = []
    for f in s.scalars(select(m.Flow).order_by(m.Flow.key)):
        spec = dict(f.draft)
        spec.pop("key", None)
        out["flows"].append({"key": f.key, **spec})
    return out


def dump_yaml(doc: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(doc), sort_keys=False, allow_unicode=True)
