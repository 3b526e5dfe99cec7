"""Delivery as data: which destinations a lead goes to, when, and the retry schedule.

Pure: no I/O, no clock, no randomness it is not handed.

- :class:`DeliverPlan` is the ``deliver:`` key of a flow rule or fallback: a list of
  destinations with ``mode: all | first_accepting`` and per-destination ``when:``
  conditions (the condition language of :mod:`leadgate.domain.conditions`).
- :class:`Hold` is "not before": the destination's office hours (time zone, weekly
  hours, public holidays), a date/time, or a condition on the lead.
- :func:`retry_delay` is the published back-off schedule with jitter.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from leadgate.domain.agents import Agent
from leadgate.domain.conditions import Always, Condition, parse_condition
from leadgate.domain.errors import InvalidConfig, InvalidFlow

if TYPE_CHECKING:
    from leadgate.domain.decision import Decision
    from leadgate.domain.routing.flow import Flow

__all__ = [
    "DEFAULT_SCHEDULE",
    "MODES",
    "DeliverPlan",
    "DeliverTarget",
    "Hold",
    "Release",
    "parse_deliver",
    "parse_hold",
    "parse_schedule",
    "plan_of",
    "retry_delay",
    "select_targets",
]

MODES = ("all", "first_accepting")

#: Seconds to wait after attempt 1, 2, 3 ... (the last value repeats), before jitter.
DEFAULT_SCHEDULE: tuple[float, ...] = (10, 30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800)
#: Jitter: each delay is multiplied by a factor drawn in [1 - JITTER, 1 + JITTER].
JITTER = 0.2


def retry_delay(attempt: int, schedule: Sequence[float] = DEFAULT_SCHEDULE,
                rand: float = 0.5) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1-based).

    ``rand`` in [0, 1) is supplied by the caller (``random.random()`` in the service,
    a constant in tests); 0.5 means no jitter.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    base = schedule[min(attempt, len(schedule)) - 1]
    factor = 1 + JITTER * (2 * min(max(rand, 0.0), 1.0) - 1)
    return timedelta(seconds=base * factor)


def parse_schedule(data: Any, path: str) -> tuple[float, ...]:
    """A retry schedule: a non-empty list of durations (``10s``, ``5m``, or seconds)."""
    from leadgate.domain.routing.durations import parse_duration

    if not isinstance(data, list | tuple) or not data:
        raise InvalidConfig("schedule must be a non-empty list of durations", path=path)
    return tuple(parse_duration(v, path=f"{path}[{i}]").total_seconds()
                 for i, v in enumerate(data))


@dataclass(frozen=True)
class Release:
    """Whether a held delivery may go now; if not, when to look again (None: on change)."""

    ready: bool
    wake_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class Hold:
    """Conditions that must all hold before a delivery is sent."""

    office_hours: Agent | None = None  # reuses agents' hours + holidays arithmetic
    until: datetime | None = None
    condition: Condition | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __bool__(self) -> bool:
        return bool(self.office_hours or self.until or self.condition)

    def release(self, facts: Mapping[str, Any], now: datetime) -> Release:
        """May a delivery held by this go at ``now`` for a lead with ``facts``?"""
        if self.until is not None and now < self.until:
            return Release(False, self.until, f"held until {self.until.isoformat()}")
        if self.condition is not None and not self.condition.evaluate(facts):
            return Release(False, None, "held until the lead meets the condition")
        if self.office_hours is not None:
            opens = self.office_hours.next_available(now)
            if opens is None:
                return Release(False, None, "the destination's office hours never open")
            if opens > now:
                return Release(False, opens, f"held until office hours open at "
                                             f"{opens.isoformat()}")
        return Release(True)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)


def parse_hold(data: Any, path: str, *, fields: Collection[str] | None = None) -> Hold:
    """``{office_hours: {timezone, hours, holidays}, until: ISO date-time, when: cond}``."""
    if data is None:
        return Hold()
    if not isinstance(data, Mapping):
        raise InvalidConfig("hold must be a mapping", path=path)
    for k in data:
        if k not in ("office_hours", "until", "when"):
            raise InvalidConfig(f"unknown key {k!r}; hold has office_hours, until, when",
                                path=f"{path}.{k}")
    office = None
    if data.get("office_hours") is not None:
        oh = data["office_hours"]
        opath = f"{path}.office_hours"
        if not isinstance(oh, Mapping):
            raise InvalidConfig("office_hours must be a mapping", path=opath)
        for k in oh:
            if k not in ("timezone", "hours", "holidays"):
                raise InvalidConfig(f"unknown key {k!r}; office_hours has timezone, hours, "
                                    "holidays", path=f"{opath}.{k}")
        spec: dict[str, Any] = {"key": "office-hours"}
        if oh.get("timezone") is not None:
            spec["timezone"] = oh["timezone"]
        if oh.get("hours") is not None:
            spec["working_hours"] = oh["hours"]
        if oh.get("holidays") is not None:
            spec["holidays"] = oh["holidays"]
        try:
            office = Agent.from_mapping(spec, path=opath)
        except InvalidConfig as exc:
            raise InvalidConfig(exc.reason.replace("working_hours", "hours"),
                                path=exc.path.replace("working_hours", "hours")) from None
    until = None
    if data.get("until") is not None:
        until = _datetime(data["until"], f"{path}.until")
    cond = None
    if data.get("when") is not None:
        cond = parse_condition(data["when"], path=f"{path}.when", fields=fields)
    return Hold(office, until, cond, dict(data))


def _datetime(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidConfig(f"bad date-time {value!r}; use ISO 8601, e.g. "
                                "2026-12-24T09:00:00+05:30", path=path) from None
    if dt.tzinfo is None:
        raise InvalidConfig(f"date-time {value!r} needs a time zone offset", path=path)
    return dt.astimezone(UTC)


@dataclass(frozen=True)
class DeliverTarget:
    """One destination of a plan, sent when ``when`` holds, not before ``hold`` allows."""

    destination: str
    when: Condition = field(default_factory=Always)
    hold: Hold = field(default_factory=Hold)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"destination": self.destination}
        if not isinstance(self.when, Always):
            out["when"] = self.when.to_dict()
        if self.hold:
            out["hold"] = self.hold.to_dict()
        return out


@dataclass(frozen=True)
class DeliverPlan:
    """The ``deliver:`` of a rule or fallback."""

    targets: tuple[DeliverTarget, ...]
    mode: str = "all"

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "to": [t.to_dict() for t in self.targets]}


def parse_deliver(data: Any, path: str, *, fields: Collection[str] | None = None,
                  destinations: Collection[str] | None = None) -> DeliverPlan:
    """``deliver: [dest, {destination: d, when: .., hold: ..}]`` or
    ``deliver: {mode: first_accepting, to: [...]}``."""
    mode = "all"
    items: Any = data
    if isinstance(data, Mapping):
        for k in data:
            if k not in ("mode", "to"):
                raise InvalidFlow(f"unknown key {k!r}; deliver has mode and to",
                                  path=f"{path}.{k}")
        mode = data.get("mode", "all")
        if mode not in MODES:
            raise InvalidFlow(f"mode must be one of {', '.join(MODES)}, got {mode!r}",
                              path=f"{path}.mode")
        items = data.get("to")
        path = f"{path}.to"
    if not isinstance(items, list | tuple) or not items:
        raise InvalidFlow("deliver needs a non-empty list of destinations", path=path)
    targets: list[DeliverTarget] = []
    for i, item in enumerate(items):
        ipath = f"{path}[{i}]"
        if isinstance(item, str):
            item = {"destination": item}
        if not isinstance(item, Mapping):
            raise InvalidFlow("a destination is a key or {destination: .., when: ..}",
                              path=ipath)
        for k in item:
            if k not in ("destination", "when", "hold"):
                raise InvalidFlow(f"unknown key {k!r}; use destination, when, hold",
                                  path=f"{ipath}.{k}")
        key = item.get("destination")
        if not isinstance(key, str) or not key.strip():
            raise InvalidFlow("destination must be a destination key", path=f"{ipath}.destination")
        if destinations is not None and key not in destinations:
            raise InvalidFlow(f"unknown destination {key!r}", path=f"{ipath}.destination")
        when = parse_condition(item.get("when"), path=f"{ipath}.when", fields=fields)
        hold = parse_hold(item.get("hold"), f"{ipath}.hold", fields=fields)
        targets.append(DeliverTarget(key, when, hold))
    keys = [t.destination for t in targets]
    if len(set(keys)) != len(keys):
        raise InvalidFlow("a destination is listed twice", path=path)
    return DeliverPlan(tuple(targets), mode)


def select_targets(plan: DeliverPlan, facts: Mapping[str, Any]) -> list[DeliverTarget]:
    """The targets whose ``when`` holds for the lead, in order."""
    return [t for t in plan.targets if t.when.evaluate(facts)]


def plan_of(flow: Flow, decision: Decision) -> DeliverPlan | None:
    """The ``deliver:`` of the rule that decided (or of the fallback when none did)."""
    if decision.rule_index is not None:
        if 0 <= decision.rule_index < len(flow.rules):
            return flow.rules[decision.rule_index].deliver
        return None
    return flow.fallback.deliver if flow.fallback is not None else None
