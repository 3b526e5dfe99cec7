"""Agents (reps), their live load, and the time rules that make them available.

Territory format (``Agent.territories``), upper-cased on input:

* ``"BR"`` - a country (ISO 3166-1 alpha-2): covers leads whose ``country`` is BR;
* ``"IN-MH"`` - a region (ISO 3166-2): covers leads whose ``region`` is IN-MH;
* ``"US:941"`` - a postal prefix within a country: covers leads whose ``country`` is US
  and whose ``postal_code`` (spaces removed) starts with 941;
* ``"*"`` - everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadgate.domain.errors import InvalidConfig
from leadgate.domain.schedule import (
    WeekSchedule,
    calendar,
    parse_working_hours,
    window_starts,
    zone,
)

__all__ = [
    "CAPACITY_KEYS",
    "CAP_WINDOWS",
    "STATUSES",
    "Agent",
    "AgentLoad",
    "Candidate",
    "cap_window_starts",
    "territory_covers",
]

STATUSES = ("available", "away", "offline")
#: capacity key -> AgentLoad.assigned window key (``open`` is compared with open_leads).
CAP_WINDOWS: dict[str, str] = {
    "hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month", "total": "total",
}
CAPACITY_KEYS = ("open", *CAP_WINDOWS)
_TERRITORY = re.compile(r"^(\*|[A-Z]{2}|[A-Z]{2}-[A-Z0-9]{1,3}|[A-Z]{2}:[A-Z0-9-]+)$")
_UTC = UTC
_UTC_ZONE = ZoneInfo("UTC")


_zone = zone
_calendar = calendar


def _norm_territory(t: str) -> str:
    return t.strip().upper().replace(" ", "")


def territory_covers(territory: str, lead: Mapping[str, Any]) -> bool:
    """True when one territory string covers the lead's country / region / postal code."""
    if territory == "*":
        return True
    country = str(lead.get("country") or "").upper()
    if ":" in territory:
        c, _, prefix = territory.partition(":")
        postal = str(lead.get("postal_code") or "").upper().replace(" ", "")
        return c == country and bool(postal) and postal.startswith(prefix)
    if "-" in territory:
        return str(lead.get("region") or "").upper() == territory
    return territory == country


@dataclass(frozen=True)
class Agent:
    """A rep who can receive leads, with everything that decides when and which ones."""

    key: str
    name: str = ""
    status: str = "available"
    teams: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    tier: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    timezone: str = "UTC"
    working_hours: Mapping[str, str] | None = None
    holidays: str | None = None
    time_off: tuple[tuple[datetime, datetime], ...] = ()
    capacity: Mapping[str, int] = field(default_factory=dict)
    _schedule: WeekSchedule | None = field(init=False, repr=False, compare=False, default=None)
    _limits: tuple[tuple[str, str | None, int], ...] = field(
        init=False, repr=False, compare=False, default=())
    _zoneinfo: ZoneInfo = field(init=False, repr=False, compare=False, default=_UTC_ZONE)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise InvalidConfig(f"unknown status {self.status!r}; use {', '.join(STATUSES)}",
                                path="status")
        try:
            object.__setattr__(self, "_zoneinfo", _zone(self.timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidConfig(f"unknown time zone {self.timezone!r}", path="timezone") from None
        if self.working_hours is not None:
            object.__setattr__(self, "_schedule", parse_working_hours(self.working_hours))
        cap = self.capacity
        if cap:
            limits: list[tuple[str, str | None, int]] = (
                [("at_capacity", None, cap["open"])] if cap.get("open") is not None else [])
            limits += [(f"cap_{k}", w, cap[k]) for k, w in CAP_WINDOWS.items()
                       if cap.get(k) is not None]
            object.__setattr__(self, "_limits", tuple(limits))

    @property
    def label(self) -> str:
        """The name to show people (falls back to the key)."""
        return self.name or self.key

    @property
    def zone(self) -> ZoneInfo:
        """The agent's time zone."""
        return self._zoneinfo

    @property
    def schedule(self) -> WeekSchedule | None:
        """Parsed working hours; None means always working."""
        return self._schedule

    @property
    def limits(self) -> tuple[tuple[str, str | None, int], ...]:
        """Capacity as ``(reason code, AgentLoad.assigned window, limit)`` in the order of
        ``CAPACITY_KEYS``; the window of ``open`` is None (it counts ``open_leads``)."""
        return self._limits

    # -- time rules ---------------------------------------------------------------------
    def is_working(self, now: datetime) -> bool:
        """Inside working hours at ``now`` (in the agent's time zone)."""
        return self._schedule is None or self._schedule.is_open(now.astimezone(self.zone))

    def on_holiday(self, now: datetime) -> str | None:
        """The public holiday's name if the agent's local date is one, else None."""
        if not self.holidays:
            return None
        day = now.astimezone(self.zone).date()
        name = _calendar(self.holidays).get(day)
        return str(name) if name else None

    def time_off_at(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The personal time-off period containing ``now``, if any."""
        for start, end in self.time_off:
            if start <= now < end:
                return (start, end)
        return None

    def next_available(self, now: datetime, *, horizon_days: int = 60) -> datetime | None:
        """Earliest instant >= now outside holidays and time off and inside working hours.

        Ignores status and capacity. None when nothing opens within ``horizon_days``.
        """
        t = now
        limit = now + timedelta(days=horizon_days)
        while t <= limit:
            off = self.time_off_at(t)
            if off is not None:
                t = off[1]
                continue
            if self.on_holiday(t):
                local = t.astimezone(self.zone)
                nxt = datetime(local.year, local.month, local.day, tzinfo=self.zone)
                t = (nxt + timedelta(days=1)).astimezone(_UTC)
                continue
            if self._schedule is not None:
                opened = self._schedule.next_open(t, self.zone)
                if opened is None:
                    return None
                if opened != t:
                    t = opened
                    continue
            return t
        return None

    # -- config -------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, path: str = "agent") -> Agent:
        """Build an agent from a config entry, refusing bad values with ``path``.

        Unknown keys (``email``, ``user``...) are ignored: they belong to other layers.
        """
        if not isinstance(data, Mapping):
            raise InvalidConfig("expected a mapping", path=path)
        key = data.get("key")
        if not isinstance(key, str) or not key.strip():
            raise InvalidConfig("key must be a non-empty string", path=f"{path}.key")
        kw: dict[str, Any] = {"key": key}
        for name in ("name", "status", "timezone"):
            if data.get(name) is not None:
                kw[name] = _text(data[name], f"{path}.{name}")
        if "status" in kw and kw["status"] not in STATUSES:
            raise InvalidConfig(f"unknown status {kw['status']!r}; use {', '.join(STATUSES)}",
                                path=f"{path}.status")
        for name in ("teams", "skills"):
            kw[name] = _texts(data.get(name), f"{path}.{name}")
        kw["languages"] = tuple(x.lower() for x in _texts(data.get("languages"),
                                                           f"{path}.languages"))
        terr = tuple(_norm_territory(t) for t in _texts(data.get("territories"),
                                                         f"{path}.territories"))
        for i, t in enumerate(terr):
            if not _TERRITORY.match(t):
                raise InvalidConfig(
                    f"bad territory {t!r}; use a country (BR), a region (IN-MH), "
                    "a postal prefix (US:941) or *", path=f"{path}.territories[{i}]")
        kw["territories"] = terr
        if data.get("tier") is not None:
            kw["tier"] = _text(data["tier"], f"{path}.tier").lower()
        attrs = data.get("attributes") or {}
        if not isinstance(attrs, Mapping):
            raise InvalidConfig("attributes must be a mapping", path=f"{path}.attributes")
        kw["attributes"] = dict(attrs)
        tz = kw.get("timezone", "UTC")
        try:
            zone = _zone(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidConfig(f"unknown time zone {tz!r}", path=f"{path}.timezone") from None
        wh = data.get("working_hours")
        if wh is not None:
            parse_working_hours(wh, path=f"{path}.working_hours")
            kw["working_hours"] = {str(k): str(v) for k, v in wh.items()}
        if data.get("holidays") is not None:
            code = _text(data["holidays"], f"{path}.holidays").upper()
            try:
                _calendar(code)
            except (NotImplementedError, KeyError, ValueError) as exc:
                raise InvalidConfig(f"unknown holiday calendar {code!r}: {exc}",
                                    path=f"{path}.holidays") from None
            kw["holidays"] = code
        kw["time_off"] = _time_off(data.get("time_off"), zone, f"{path}.time_off")
        kw["capacity"] = _capacity(data.get("capacity"), f"{path}.capacity")
        return cls(**kw)

    def to_mapping(self) -> dict[str, Any]:
        """The agent as config data (defaults omitted); round-trips :meth:`from_mapping`."""
        out: dict[str, Any] = {"key": self.key}
        if self.name:
            out["name"] = self.name
        if self.status != "available":
            out["status"] = self.status
        for name in ("teams", "languages", "skills", "territories"):
            if getattr(self, name):
                out[name] = list(getattr(self, name))
        if self.tier is not None:
            out["tier"] = self.tier
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        if self.timezone != "UTC":
            out["timezone"] = self.timezone
        if self.working_hours is not None:
            out["working_hours"] = dict(self.working_hours)
        if self.holidays:
            out["holidays"] = self.holidays
        if self.time_off:
            out["time_off"] = [[s.isoformat(), e.isoformat()] for s, e in self.time_off]
        if self.capacity:
            out["capacity"] = dict(self.capacity)
        return out


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidConfig(f"expected text, got {type(value).__name__}", path=path)
    return value.strip()


def _texts(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise InvalidConfig("expected a list of texts", path=path)
    return tuple(_text(v, f"{path}[{i}]") for i, v in enumerate(value))


def _instant(value: Any, zone: ZoneInfo, path: str, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day, tzinfo=zone)
        return (dt + timedelta(days=1) if end else dt).astimezone(_UTC)
    elif isinstance(value, str):
        try:
            if len(value.strip()) == 10:
                return _instant(date.fromisoformat(value.strip()), zone, path, end=end)
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidConfig(f"bad date/time {value!r}", path=path) from None
    else:
        raise InvalidConfig("expected an ISO date or date-time", path=path)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return dt.astimezone(_UTC)


def _time_off(value: Any, zone: ZoneInfo, path: str) -> tuple[tuple[datetime, datetime], ...]:
    """``[[start, end], {start:, end:}]``; a date-only end is inclusive (whole local day)."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise InvalidConfig("expected a list of [start, end] periods", path=path)
    out: list[tuple[datetime, datetime]] = []
    for i, item in enumerate(value):
        sub = f"{path}[{i}]"
        if isinstance(item, Mapping):
            item = [item.get("start"), item.get("end")]
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise InvalidConfig("expected [start, end]", path=sub)
        start = _instant(item[0], zone, f"{sub}.start", end=False)
        stop = _instant(item[1], zone, f"{sub}.end", end=True)
        if stop <= start:
            raise InvalidConfig("time off ends before it starts", path=sub)
        out.append((start, stop))
    return tuple(out)


def _capacity(value: Any, path: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidConfig("expected a mapping like {open: 20, daily: 50}", path=path)
    out: dict[str, int] = {}
    for k, v in value.items():
        if k not in CAPACITY_KEYS:
            raise InvalidConfig(f"unknown capacity {k!r}; use {', '.join(CAPACITY_KEYS)}",
                                path=f"{path}.{k}")
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise InvalidConfig(f"expected a whole number >= 0, got {v!r}", path=f"{path}.{k}")
        out[k] = v
    return out


@dataclass(frozen=True)
class AgentLoad:
    """Live state of an agent, loaded by the service for each decision."""

    open_leads: int = 0
    assigned: Mapping[str, int] = field(default_factory=dict)
    last_assigned_at: datetime | None = None
    won: int = 0
    closed: int = 0


@dataclass(frozen=True)
class Candidate:
    """An agent with its live load."""

    agent: Agent
    load: AgentLoad = AgentLoad()


def cap_window_starts(agent: Agent, now: datetime) -> dict[str, datetime]:
    """UTC-aware starts of the current hour, day, week (Monday) and month, in the agent's zone.

    The service counts each agent's assignments in these windows to fill
    ``AgentLoad.assigned`` (``total`` has no start).
    """
    return window_starts(agent.zone, now)
