"""Who in a pool can take a lead right now, and when the first of them will be able to.

Each failing check is a stable reason code (exported by ``vocabulary()``); a candidate
is eligible when it has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from leadgate.domain.agents import CAP_WINDOWS, Candidate

__all__ = ["REASONS", "TIME_REASONS", "check", "explain", "hold_until"]

#: reason code -> description
REASONS: dict[str, str] = {
    "away": "the agent's status is away",
    "offline": "the agent's status is offline",
    "time_off": "the agent is on personal time off",
    "holiday": "it is a public holiday in the agent's holiday calendar",
    "outside_working_hours": "outside the agent's working hours (in the agent's time zone)",
    "at_capacity": "open leads reached capacity.open",
    "cap_hourly": "assignments this hour reached capacity.hourly",
    "cap_daily": "assignments today reached capacity.daily",
    "cap_weekly": "assignments this week reached capacity.weekly",
    "cap_monthly": "assignments this month reached capacity.monthly",
    "cap_total": "assignments in total reached capacity.total",
}
#: reasons that pass with time alone (the hold-until-open computation uses them)
TIME_REASONS = frozenset({"time_off", "holiday", "outside_working_hours"})


def check(c: Candidate, now: datetime,
          local: dict[str, datetime] | None = None) -> tuple[str, ...]:
    """The reason codes that make ``c`` ineligible at ``now`` (empty = eligible).

    ``local``, when given, caches ``now`` in each agent time zone across the members of
    one decision (many agents share a zone).
    """
    # the agent's precomputed private fields are read directly: this runs for every
    # member a method looks at
    a = c.agent
    out: list[str] = [] if a.status == "available" else [a.status]
    if a.time_off and a.time_off_at(now) is not None:
        out.append("time_off")
    if a.holidays and a.on_holiday(now):
        out.append("holiday")
    sched = a._schedule
    if sched is not None:
        if local is None:
            at = now.astimezone(a._zoneinfo)
        else:
            at = local.get(a.timezone)  # type: ignore[assignment]
            if at is None:
                at = local[a.timezone] = now.astimezone(a._zoneinfo)
        if not sched.is_open(at):
            out.append("outside_working_hours")
    if a._limits:
        load = c.load
        for code, window, limit in a._limits:
            if (load.open_leads if window is None else load.assigned.get(window, 0)) >= limit:
                out.append(code)
    return tuple(out) if out else ()


def explain(c: Candidate, reasons: Iterable[str], now: datetime) -> str:
    """A sentence for people: 'Arjun was away; outside working hours (...)'."""
    a, load = c.agent, c.load
    parts: list[str] = []
    for r in reasons:
        if r in ("away", "offline"):
            parts.append(f"was {r}")
        elif r == "time_off":
            off = a.time_off_at(now)
            parts.append(f"was on time off until {off[1].isoformat()}" if off else "was off")
        elif r == "holiday":
            parts.append(f"was on a public holiday ({a.on_holiday(now)})")
        elif r == "outside_working_hours":
            local = now.astimezone(a.zone).strftime("%a %H:%M")
            sched = a.schedule.describe() if a.schedule else ""
            parts.append(f"was outside working hours ({local} {a.timezone}; hours {sched})")
        elif r == "at_capacity":
            parts.append(f"was at capacity ({load.open_leads} open of {a.capacity['open']})")
        elif r.startswith("cap_"):
            key = r[4:]
            used = load.assigned.get(CAP_WINDOWS[key], 0)
            parts.append(f"reached the {key} cap ({used} of {a.capacity[key]})")
    if not parts:
        return f"{a.label} was eligible"
    return f"{a.label} " + " and ".join(parts)


def hold_until(members: Iterable[tuple[Candidate, tuple[str, ...]]],
               now: datetime) -> datetime | None:
    """Earliest time a member blocked only by time rules becomes available.

    Members blocked by status or capacity are unknown and ignored; None when no
    member is known to open.
    """
    best: datetime | None = None
    for c, reasons in members:
        if not reasons or not set(reasons) <= TIME_REASONS:
            continue
        t = c.agent.next_available(now)
        if t is not None and (best is None or t < best):
            best = t
    return best
