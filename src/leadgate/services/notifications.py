"""Notifications to reps (and their teams) by email and signed webhook.

Queueing (in the transaction that makes the offer or the assignment):

* capture's ``write()`` calls :func:`add_batch`: nothing at all unless some agent
  or team has preferences (``Snapshot.notify_any``), else the notification rows
  join the batch's deliveries (one INSERT) and their jobs the batch's jobs;
* the ORM paths (offer rounds of a bounce, escalations, requeues, routing and
  manual assignments) call :func:`queue_for`.

Each notification is a ``deliveries`` row with ``destination_key``
``notify:email``, ``notify:webhook`` or ``notify:team`` and a ``notice`` (event,
agent, round), plus a ``delivery.send`` job: the delivery worker sends it like
any delivery (one attempt row per try, retries with back-off, dead letters a
person can retry), so a failing mail server never blocks routing.

Sending (:func:`prepare`, called by the worker): the message is built at sending
time from the lead and the offer as they are then. An offer no longer open (or a
lead no longer the rep's) is not announced: the delivery ends ``skipped``. The
email's accept link carries a signed token (:mod:`leadgate.services.offer_links`);
tokens are redacted from the stored attempts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from leadgate.config import Settings
from leadgate.delivery import http as http_kind
from leadgate.delivery import responses
from leadgate.delivery.base import Common, Exchange, Outcome, SendContext, Spec
from leadgate.delivery.email import Email
from leadgate.delivery.render import render
from leadgate.delivery.signing import new_secret
from leadgate.domain.notifications import HIDDEN, channels, parse_prefs, public, wants
from leadgate.services import deliveries, offer_links, snapshot
from leadgate.store import models as m
from leadgate.store.bulk import insert_rows
from leadgate.store.uow import UnitOfWork

PREFIX = "notify:"
EMAIL, WEBHOOK, TEAM = "notify:email", "notify:webhook", "notify:team"
#: event -> the type a webhook receives (and the live notice's name)
DELIVERIES, JOBS = deliveries.DELIVERIES, deliveries.JOBS
TYPES = {"offered": "lead.offered", "claimable": "lead.claimable", "assigned": "lead.assigned"}

# --- settings, per database (set by bootstrap; the worker has no App at hand) ----------
_settings: dict[str, Settings] = {}


def configure(db_url: str, settings: Settings) -> None:
    """Remember the SMTP server, public URL and secret key used for ``db_url``."""
    _settings[db_url] = settings


def settings_for(uow: UnitOfWork) -> Settings:
    url = uow.session.get_bind().engine.url
    got = _settings.get(url.render_as_string(hide_password=False))
    return got if got is not None else Settings()


def public_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


# --- queueing ---------------------------------------------------------------------------
#: (lead id, agent id, event, offer round; 0 for an assignment)
Item = tuple[int, int, str, int]


def _row(lead_id: int, destination: str, notice: dict[str, Any], now: datetime,
         flow_key: str | None) -> dict[str, Any]:
    return {"lead_id": lead_id, "destination_key": destination,
            "idempotency_key": uuid.uuid4().hex, "status": "pending", "attempts": 0,
            "attempts_offset": 0, "next_attempt_at": now, "sending_until": None, "hold": None,
            "group_key": None, "position": 0, "flow_key": flow_key, "rule": None,
            "reason": None, "external_id": None, "price": None, "notice": notice,
            "created_at": now, "updated_at": now, "finished_at": None}


def rows_for(snap: snapshot.Snapshot, items: Iterable[Item], now: datetime, *,
             flow_key: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The deliveries rows and jobs that announce ``items`` (pure: no statement)."""
    rows: list[dict[str, Any]] = []
    teams: dict[tuple[int, str, int, str], list[str]] = {}
    for lead_id, agent_id, event, round_ in items:
        info = snap.agents_by_id.get(agent_id)
        if info is None:
            continue
        for ch in channels(info.notify, event):
            rows.append(_row(lead_id, PREFIX + ch, {"event": event, "agent_id": agent_id,
                                                    "agent": info.key, "round": round_},
                             now, flow_key))
        for team in info.agent.teams:
            if wants(snap.team_notify.get(team), event):
                teams.setdefault((lead_id, event, round_, team), []).append(info.key)
    for (lead_id, event, round_, team), agents in teams.items():
        rows.append(_row(lead_id, TEAM, {"event": event, "team": team, "agents": agents,
                                         "round": round_}, now, flow_key))
    return rows, [deliveries.job_row(r["idempotency_key"], now) for r in rows]


def add_batch(outbox: Any, snap: snapshot.Snapshot, leads: Sequence[Any],
              now: datetime) -> None:
    """Capture: add the batch's notifications to its outbox (``deliveries.Batch``).
    Costs nothing while no agent or team has preferences."""
    if not snap.notify_any:
        return
    items: list[Item] = []
    for lead in leads:
        if lead.id is None:
            continue
        if lead.status == "offered" and lead.offer is not None:
            event = "offered" if lead.offer.kind == "push" else "claimable"
            items += [(lead.id, a.id, event, 1) for k in lead.offer.agents
                      if (a := snap.agents.get(k)) is not None]
        elif lead.status == "assigned" and lead.agent_id is not None:
            items.append((lead.id, lead.agent_id, "assigned", 0))
    rows, jobs = rows_for(snap, items, now)
    outbox.rows.extend(rows)
    outbox.jobs.extend(jobs)


def queue_for(uow: UnitOfWork, lead_id: int, event: str, agent_ids: Sequence[int],
              now: datetime, *, round_: int = 0, flow_key: str | None = None) -> int:
    """The ORM paths: queue the notifications of one event in the caller's transaction.
    Returns how many were queued."""
    snap = snapshot.current(uow.session)
    if not snap.notify_any:
        return 0
    rows, jobs = rows_for(snap, [(lead_id, a, event, round_) for a in agent_ids], now,
                          flow_key=flow_key)
    if rows:
        uow.session.flush()
        insert_rows(uow.session, DELIVERIES, rows)
        uow.session.execute(insert(JOBS), jobs)
    return len(rows)


# --- preferences (API) ------------------------------------------------------------------
def with_secret(new: dict[str, Any] | None, old: Mapping[str, Any] | None
                ) -> dict[str, Any] | None:
    """A webhook given without its secret (or as ``***``) keeps the stored one, or gets
    a fresh one."""
    hook = (new or {}).get("webhook")
    if not hook or hook.get("secret") not in (None, HIDDEN):
        return new
    before = (old or {}).get("webhook") or {}
    assert new is not None
    return {**new, "webhook": {**hook, "secret": before.get("secret") or new_secret()}}


def _agent_for(uow: UnitOfWork, principal: Any, key: str) -> m.Agent:
    from leadgate.domain.errors import Forbidden
    from leadgate.services.agents import get_agent

    principal.require_user()
    agent = get_agent(uow, key)
    if not principal.is_manager and principal.agent_id != agent.id:
        raise Forbidden("a rep can only see and change their own notification settings")
    return agent


def prefs_view(uow: UnitOfWork, agent: m.Agent) -> dict[str, Any]:
    prefs = agent.notify or None
    shown = public(prefs, show_secret=True) or public(parse_prefs({}))
    assert shown is not None
    return {"agent": agent.key, **shown, "email_address": email_address(uow, agent, prefs),
            "configured": prefs is not None}


def get_prefs(uow: UnitOfWork, principal: Any, key: str) -> dict[str, Any]:
    """An agent's notification settings: the rep's own (with the webhook secret they
    verify signatures with), or anyone's for managers."""
    return prefs_view(uow, _agent_for(uow, principal, key))


def set_prefs(uow: UnitOfWork, principal: Any, key: str, data: Any,
              now: datetime) -> dict[str, Any]:
    """Replace an agent's notification settings (``null`` turns them off)."""
    agent = _agent_for(uow, principal, key)
    after = with_secret(parse_prefs(data, "notify"), agent.notify)
    before = agent.notify or None
    if after != before:
        agent.notify = after
        uow.session.add(m.AuditEntry(
            actor=principal.actor, action="notifications", entity="agent", entity_key=key,
            before={"notify": public(before)}, after={"notify": public(after)}, at=now))
    uow.commit()
    return prefs_view(uow, agent)


def email_address(uow: UnitOfWork, agent: m.Agent, prefs: Mapping[str, Any] | None
                  ) -> str | None:
    """Where a rep's emails go: the address in the preferences, else the agent's
    email, else the login of the user linked to the agent."""
    if prefs and prefs.get("email_to"):
        return str(prefs["email_to"])
    if agent.email:
        return agent.email
    login = uow.session.scalar(select(m.User.email).where(
        m.User.agent_id == agent.id, m.User.active.is_(True)).order_by(m.User.id).limit(1))
    return str(login) if login else None


# --- sending (the delivery worker) ------------------------------------------------------
SUBJECT = {
    "offered": "Lead #{{ n.lead.id }} ({{ n.lead.campaign }}) is offered to you until "
               "{{ n.deadline_text }}",
    "claimable": "Lead #{{ n.lead.id }} ({{ n.lead.campaign }}) is up for grabs: "
                 "the first to claim it gets it",
    "assigned": "Lead #{{ n.lead.id }} ({{ n.lead.campaign }}) is assigned to you",
}
BODY = """Hello {{ n.agent.name }},

{% if n.event == 'offered' -%}
A lead is offered to you. Accept it before {{ n.deadline_text }}, or it goes to
the next rep.
{%- elif n.event == 'claimable' -%}
A lead is offered to you and others until {{ n.deadline_text }}: the first to
claim it gets it.
{%- else -%}
A lead is now yours.
{%- endif %}

  Lead:      #{{ n.lead.id }}
  Campaign:  {{ n.lead.campaign }}
{%- if n.lead.source %}
  Source:    {{ n.lead.source }}{% endif %}
{%- if n.score_text %}
  Score:     {{ n.score_text }}{% endif %}
  Received:  {{ n.lead.created_at }}
{% if n.accept_url %}
Accept it here (the page asks you to confirm):
{{ n.accept_url }}
{% endif %}{% if n.lead_url %}
Open it in the console:
{{ n.lead_url }}
{% endif %}
-- leadgate
"""


class RepEmail(Email):
    """A notification email: fixed templates over the notification (not registered as a
    destination kind); the accept link's token is kept out of stored attempts."""

    name = "email"

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        return [*super().secrets(config), *config.get("redact", ())]

    def prepare(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        n = lead["notice"]
        return {"from": config["from"], "to": list(config["to"]),
                "subject": render(SUBJECT[n["event"]], {}, n=n).strip(),
                "body": render(BODY, {}, n=n),
                "message_id": f"<{lead['idempotency_key']}@leadgate>"}


class RepWebhook(http_kind.Http):
    """A notification webhook: the JSON event, signed with Standard Webhooks."""

    name = "http"

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        return [*super().secrets(config), *config.get("redact", ())]

    def prepare(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        return {"method": "POST", "url": config["url"],
                "headers": {"Content-Type": "application/json",
                            "Idempotency-Key": str(lead["idempotency_key"])},
                "body": json.dumps(lead["payload"], separators=(",", ":"), default=str)}

    def send(self, config: Mapping[str, Any], lead: Mapping[str, Any],
             ctx: SendContext) -> tuple[Outcome, Exchange]:
        status, body, seen = http_kind.exchange(config, self.prepare(config, lead), lead, ctx)
        return responses.classify(status, body, None), seen


REP_EMAIL, REP_WEBHOOK = RepEmail(), RepWebhook()
#: timeout, concurrency (per channel, all reps together) and the retry schedule
COMMON = Common(timeout=10.0, concurrency=50)


def _lead_summary(lead: m.Lead) -> dict[str, Any]:
    """What the message tells of the lead: no more than a rep sees of a lead offered
    to them (the API's offer answer): no name, phone or email."""
    return {"id": lead.id, "campaign": lead.campaign.key,
            "source": lead.source.key if lead.source else None, "score": lead.score,
            "grade": lead.grade, "created_at": lead.created_at.isoformat()}


def prepare(uow: UnitOfWork, d: m.Delivery, now: datetime) -> tuple[Spec, dict[str, Any]] | str:
    """What the worker sends for notification ``d``: (spec, view); or why nothing is
    sent any more (a text: the delivery ends ``skipped``)."""
    s = uow.session
    notice = dict(d.notice or {})
    event = str(notice.get("event"))
    lead = s.get(m.Lead, d.lead_id)
    if lead is None:
        return "the lead is gone"
    settings = settings_for(uow)
    team = notice.get("team")
    offer = None
    agent: m.Agent | None = None
    if team is None:
        agent = s.get(m.Agent, int(notice["agent_id"]))
        if agent is None or not agent.active:
            return "the agent is gone or inactive"
    if event in ("offered", "claimable"):
        q = select(m.Offer).where(m.Offer.lead_id == lead.id,
                                  m.Offer.round == int(notice.get("round") or 1),
                                  m.Offer.status == "offered")
        if agent is not None:
            q = q.where(m.Offer.agent_id == agent.id)
        offer = s.scalars(q.order_by(m.Offer.id).limit(1)).first()
        if offer is None or offer.deadline <= now:
            return "the offer is no longer open"
    elif agent is not None and (lead.status != "assigned" or lead.assignee_id != agent.id):
        return f"lead {lead.id} is no longer assigned to {agent.key}"
    n: dict[str, Any] = {"event": event, "type": TYPES.get(event, event),
                         "lead": _lead_summary(lead), "at": now.isoformat(),
                         "agent": {"key": agent.key, "name": agent.name} if agent else None,
                         "team": team, "agents": notice.get("agents")}
    if lead.score is not None or lead.grade:
        n["score_text"] = (f"{lead.score:g}" if lead.score is not None else "-") + \
            (f" (grade {lead.grade})" if lead.grade else "")
    base = public_url(settings)
    secrets: list[str] = []
    if offer is not None:
        n["offer"] = {"kind": offer.kind, "round": offer.round,
                      "deadline": offer.deadline.isoformat()}
        if agent is not None:  # a team hears of one lead offered to several reps
            n["offer"]["id"] = offer.id
        n["deadline_text"] = _local(offer.deadline, agent)
        if agent is not None:  # never in a team channel: the link acts for one rep
            token = offer_links.make(settings.secret_key, offer.id, agent.id, offer.deadline)
            n["accept_url"] = f"{base}{offer_links.PATH}?t={token}"
            secrets.append(token)
    else:
        n["lead_url"] = f"{base}/console/leads/{lead.id}"
    view: dict[str, Any] = {"lead_id": lead.id, "idempotency_key": d.idempotency_key,
                            "delivery_id": d.id, "notice": n}
    if d.destination_key == EMAIL:
        assert agent is not None
        prefs = agent.notify or {}
        if not prefs.get("email") or event not in (prefs.get("events") or ()):
            return f"{agent.key} turned email notifications off"
        to = email_address(uow, agent, prefs)
        if not to:
            return f"{agent.key} has no email address"
        if not settings.notify_smtp_host:
            return "no SMTP server for notifications (LEADGATE_NOTIFY_SMTP_HOST)"
        config = {"host": settings.notify_smtp_host, "port": settings.notify_smtp_port,
                  "starttls": settings.notify_smtp_starttls, "ssl": settings.notify_smtp_ssl,
                  "username": settings.notify_smtp_username,
                  "password": settings.notify_smtp_password,
                  "from": settings.notify_email_from, "to": [to], "redact": secrets}
        return _spec(d, "email", config, REP_EMAIL), view
    if team is not None:
        prefs = snapshot.current(s).team_notify.get(str(team)) or {}
    else:
        assert agent is not None
        prefs = agent.notify or {}
    hook = prefs.get("webhook") if wants(prefs, event) else None
    if not hook:
        return "webhook notifications are off"
    view["payload"] = {"type": n["type"], "timestamp": now.isoformat(),
                       "data": {k: v for k, v in n.items()
                                if k not in ("type", "deadline_text", "score_text")
                                and v is not None}}
    config = {"url": hook["url"], "sign": [hook["secret"]], "auth": None,
              "redact": secrets}
    return _spec(d, "http", config, REP_WEBHOOK), view


def _local(at: datetime, agent: m.Agent | None) -> str:
    """A deadline as the rep reads it: in their time zone (UTC for a team)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(str((agent.spec or {}).get("timezone") or "UTC") if agent else "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _spec(d: m.Delivery, kind: str, config: dict[str, Any], impl: Any) -> Spec:
    return Spec(d.destination_key, kind, config, COMMON, {}, kind_impl=impl)
