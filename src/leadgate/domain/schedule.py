"""Weekly working hours: parse ``{"mon-fri": "09:00-18:00"}`` and ask "open at t?".

Times are wall-clock times in the agent's time zone, so a 09:00 shift starts at 09:00
local time on both sides of a daylight-saving change (zoneinfo does the arithmetic).
A range whose end is not after its start runs overnight into the next day
(``"22:00-06:00"``); ``"24:00"`` is allowed as an end. Several ranges per day are
separated by commas: ``"09:00-12:00,13:00-18:00"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from leadgate.domain.errors import InvalidConfig

__all__ = ["DAYS", "WeekSchedule", "parse_working_hours"]

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALIASES = {
    "daily": DAYS, "*": DAYS, "all": DAYS, "weekdays": DAYS[:5], "weekends": DAYS[5:],
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_DAY_MINUTES = 24 * 60


def _days(spec: str, path: str) -> list[int]:
    out: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        if part in _ALIASES:
            out.extend(DAYS.index(d) for d in _ALIASES[part])
            continue
        lo, _, hi = part.partition("-")
        if lo not in DAYS or (hi and hi not in DAYS):
            raise InvalidConfig(
                f"unknown day {part!r}; use mon..sun, ranges like mon-fri, or daily",
                path=path)
        a = DAYS.index(lo)
        b = DAYS.index(hi) if hi else a
        out.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return out


def _minutes(text: str, path: str, *, end: bool) -> int:
    m = _TIME.match(text.strip())
    if not m:
        raise InvalidConfig(f"bad time {text!r}; use HH:MM", path=path)
    h, mi = int(m.group(1)), int(m.group(2))
    if mi > 59 or h > 24 or (h == 24 and (mi or not end)):
        raise InvalidConfig(f"bad time {text!r}", path=path)
    return h * 60 + mi


def _ranges(spec: str, path: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for part in spec.split(","):
        lo, sep, hi = part.partition("-")
        if not sep:
            raise InvalidConfig(f"bad hours {part.strip()!r}; use HH:MM-HH:MM", path=path)
        start = _minutes(lo, path, end=False)
        stop = _minutes(hi, path, end=True)
        if stop == start:
            raise InvalidConfig(f"empty hours {part.strip()!r}", path=path)
        if stop < start:
            stop += _DAY_MINUTES  # overnight: ends on the next day
        out.append((start, stop))
    return out


@dataclass(frozen=True)
class WeekSchedule:
    """Open intervals per weekday (0 = Monday), in minutes since local midnight.

    An interval may end after 1440: it then continues into the next day.
    """

    days: tuple[tuple[tuple[int, int], ...], ...]
    #: per weekday, the open intervals within that day alone: its own ones, plus the
    #: part of the previous day's overnight ones that spills into it
    _within: tuple[tuple[tuple[int, int], ...], ...] = field(
        init=False, repr=False, compare=False, default=())
    _text: list[str] = field(init=False, repr=False, compare=False, default_factory=list)

    def __post_init__(self) -> None:
        within = tuple(
            tuple(self.days[wd]) + tuple((0, e - _DAY_MINUTES) for _, e in self.days[(wd - 1) % 7]
                                         if e > _DAY_MINUTES)
            for wd in range(len(self.days)))
        object.__setattr__(self, "_within", within)

    def is_open(self, local: datetime) -> bool:
        """True when the wall-clock time ``local`` (already in the right zone) is open."""
        # whole minutes suffice: bounds are whole minutes, so s <= m < e holds for the
        # exact time exactly when it holds for its minute
        m = local.hour * 60 + local.minute
        for s, e in self._within[local.weekday()]:  # noqa: SIM110  (hot path: no genexpr)
            if s <= m < e:
                return True
        return False

    def next_open(self, now: datetime, tz: tzinfo) -> datetime | None:
        """The earliest UTC-aware instant >= ``now`` at which the schedule is open."""
        local = now.astimezone(tz)
        if self.is_open(local):
            return now
        base = datetime(local.year, local.month, local.day, tzinfo=tz)
        best: datetime | None = None
        for offset in range(-1, 9):
            day = base + timedelta(days=offset)
            for s, e in self.days[day.weekday()]:
                start = (day + timedelta(minutes=s)).astimezone(now.tzinfo)
                stop = (day + timedelta(minutes=e)).astimezone(now.tzinfo)
                if start <= now < stop:
                    return now
                if start > now and (best is None or start < best):
                    best = start
            if best is not None and offset >= 1:
                break
        return best

    def describe(self) -> str:
        """Compact text such as ``mon-fri 09:00-18:00`` (computed once)."""
        if not self._text:
            self._text.append(self._describe())
        return self._text[0]

    def _describe(self) -> str:
        def hm(m: int) -> str:
            m = m - _DAY_MINUTES if m > _DAY_MINUTES else m
            return f"{m // 60:02d}:{m % 60:02d}"
        parts = [f"{DAYS[i]} " + ",".join(f"{hm(s)}-{hm(e)}" for s, e in iv)
                 for i, iv in enumerate(self.days) if iv]
        return "; ".join(parts) or "never"


def parse_working_hours(data: Mapping[str, str], *, path: str = "working_hours") -> WeekSchedule:
    """Parse ``{"mon-fri": "09:00-18:00", "sat": "10:00-14:00"}`` into a schedule."""
    if not isinstance(data, Mapping):
        raise InvalidConfig("working_hours must be a mapping of days to hours", path=path)
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for spec, hours in data.items():
        sub = f"{path}.{spec}"
        if not isinstance(spec, str) or not isinstance(hours, str):
            raise InvalidConfig("expected text like mon-fri: 09:00-18:00", path=sub)
        ranges = _ranges(hours, sub)
        for d in _days(spec, sub):
            days[d].extend(ranges)
    return WeekSchedule(tuple(tuple(sorted(d)) for d in days))


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """A time zone by IANA name (cached)."""
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def calendar(code: str) -> holidays_lib.HolidayBase:
    """Public holidays of ``"US"`` or ``"IN-MH"`` (country, optional subdivision), cached."""
    country, _, subdiv = code.partition("-")
    return holidays_lib.country_holidays(country, subdiv=subdiv or None)


def window_starts(tz: ZoneInfo, now: datetime) -> dict[str, datetime]:
    """UTC starts of the current hour, day, week (Monday) and month in ``tz``: the
    windows caps are counted in (agents' and buyers')."""
    hour, day, week, month = _window_starts(tz, now)
    return {"hour": hour, "day": day, "week": week, "month": month}


@lru_cache(maxsize=256)
def _window_starts(tz: ZoneInfo, now: datetime) -> tuple[datetime, ...]:
    """:func:`window_starts`, cached: a capture batch asks it for the same zone and
    ``now`` once per candidate rep and once per assignment."""
    local = now.astimezone(tz)
    day = datetime(local.year, local.month, local.day, tzinfo=tz)
    return (local.replace(minute=0, second=0, microsecond=0).astimezone(UTC),
            day.astimezone(UTC), (day - timedelta(days=local.weekday())).astimezone(UTC),
            day.replace(day=1).astimezone(UTC))
