from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from routing_factories import cand, flow

from leadgate.domain.agents import Agent, AgentLoad, Candidate, cap_window_starts
from leadgate.domain.routing import decide
from leadgate.domain.routing.eligibility import REASONS, check


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


NY_DAILY = {"timezone": "America/New_York", "working_hours": {"daily": "09:00-17:00"}}
BERLIN = {"timezone": "Europe/Berlin", "working_hours": {"mon-fri": "09:00-17:00"}}
NIGHT = {"timezone": "Asia/Kolkata", "working_hours": {"sun": "22:00-06:00",
                                                        "mon-fri": "22:00-06:00"}}
INDIA = {"timezone": "Asia/Kolkata", "working_hours": {"mon-fri": "09:00-18:00"},
         "holidays": "IN"}


@pytest.mark.parametrize(("kw", "now", "working"), [
    # New York springs forward on 2026-03-08: 09:00 local is 14:00Z before, 13:00Z after
    (NY_DAILY, utc(2026, 3, 7, 13, 30), False),   # 08:30 EST
    (NY_DAILY, utc(2026, 3, 7, 14, 30), True),    # 09:30 EST
    (NY_DAILY, utc(2026, 3, 8, 13, 30), True),    # 09:30 EDT
    (NY_DAILY, utc(2026, 3, 8, 21, 30), False),   # 17:30 EDT
    (NY_DAILY, utc(2026, 3, 8, 20, 59), True),    # 16:59 EDT
    # Berlin on 2026-03-29 (a Sunday; the Monday after): 09:00 CEST = 07:00Z
    (BERLIN, utc(2026, 3, 27, 7, 30), False),     # Fri 08:30 CET
    (BERLIN, utc(2026, 3, 27, 8, 30), True),      # Fri 09:30 CET
    (BERLIN, utc(2026, 3, 29, 8, 30), False),     # Sunday
    (BERLIN, utc(2026, 3, 30, 7, 30), True),      # Mon 09:30 CEST
    (BERLIN, utc(2026, 3, 30, 15, 30), False),    # Mon 17:30 CEST
    # overnight shifts in Kolkata (UTC+5:30)
    (NIGHT, utc(2026, 1, 18, 17, 0), True),       # Sun 22:30
    (NIGHT, utc(2026, 1, 18, 21, 30), True),      # Mon 03:00, the Sunday shift
    (NIGHT, utc(2026, 1, 19, 1, 30), False),      # Mon 07:00
    (NIGHT, utc(2026, 1, 23, 23, 0), True),       # Sat 04:30, the Friday shift
    (NIGHT, utc(2026, 1, 24, 17, 0), False),      # Sat 22:30, no Saturday shift
])
def test_working_hours_follow_agent_time_zone_dst_and_overnight(
        kw: dict[str, Any], now: datetime, working: bool) -> None:
    reasons = check(cand("a", **kw), now)
    assert ("outside_working_hours" not in reasons) is working


def test_public_holiday_makes_agent_ineligible_on_local_date() -> None:
    a = cand("priya", **INDIA)
    assert check(a, utc(2026, 1, 26, 5, 0)) == ("holiday",)          # Republic Day 10:30 IST
    assert "holiday" in check(a, utc(2026, 1, 25, 19, 0))              # 00:30 IST on the 26th
    assert "holiday" not in check(a, utc(2026, 1, 25, 18, 0))          # 23:30 IST on the 25th
    assert check(a, utc(2026, 1, 27, 5, 0)) == ()


def test_time_off_is_half_open_and_date_only_end_is_inclusive() -> None:
    a = Agent.from_mapping({"key": "a", "timezone": "Asia/Kolkata",
                            "time_off": [["2026-02-02", "2026-02-06"]]})
    c = Candidate(a)
    assert check(c, utc(2026, 2, 1, 18, 30)) == ("time_off",)
    assert check(c, utc(2026, 2, 6, 18, 29)) == ("time_off",)
    assert check(c, utc(2026, 2, 6, 18, 30)) == ()


@pytest.mark.parametrize(("capacity", "load", "reason"), [
    ({"open": 3}, AgentLoad(open_leads=3), "at_capacity"),
    ({"hourly": 2}, AgentLoad(assigned={"hour": 2}), "cap_hourly"),
    ({"daily": 5}, AgentLoad(assigned={"day": 6}), "cap_daily"),
    ({"weekly": 5}, AgentLoad(assigned={"week": 5}), "cap_weekly"),
    ({"monthly": 9}, AgentLoad(assigned={"month": 9}), "cap_monthly"),
    ({"total": 1}, AgentLoad(assigned={"total": 1}), "cap_total"),
])
def test_caps_make_agent_ineligible(capacity: dict[str, int], load: AgentLoad,
                                    reason: str) -> None:
    assert check(cand("a", capacity=capacity, load=load), utc(2026, 1, 14, 10)) == (reason,)
    under = AgentLoad(open_leads=0, assigned={})
    assert check(cand("a", capacity=capacity, load=under), utc(2026, 1, 14, 10)) == ()


def test_every_reason_code_is_documented_and_all_failures_are_listed() -> None:
    c = cand("arjun", name="Arjun", status="offline", capacity={"open": 1},
             load=AgentLoad(open_leads=1), **BERLIN)
    reasons = check(c, utc(2026, 3, 29, 8, 30))
    assert reasons == ("offline", "outside_working_hours", "at_capacity")
    assert set(reasons) <= set(REASONS)
    f = flow({"name": "r", "to": {"agent": "arjun"}})
    d = decide({}, f, [c], {}, utc(2026, 3, 29, 8, 30))
    text = d.trace.rules[0].members[0].text
    assert text.startswith("Arjun was offline and was outside working hours (Sun 10:30 "
                           "Europe/Berlin; hours mon 09:00-17:00")
    assert text.endswith("and was at capacity (1 open of 1)")


@pytest.mark.parametrize(("kw", "now", "until"), [
    # Saturday in Berlin -> Monday 09:00 CEST, across the DST change
    (BERLIN, utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 7, 0)),
    # Saturday evening in New York -> Sunday 09:00 EDT (DST started at 02:00)
    (NY_DAILY, utc(2026, 3, 7, 23, 0), utc(2026, 3, 8, 13, 0)),
    # Republic Day -> next morning 09:00 IST
    (INDIA, utc(2026, 1, 26, 5, 0), utc(2026, 1, 27, 3, 30)),
    # overnight shift opening later today
    (NIGHT, utc(2026, 1, 19, 4, 0), utc(2026, 1, 19, 16, 30)),
])
def test_hold_until_is_when_the_first_pool_member_opens(
        kw: dict[str, Any], now: datetime, until: datetime) -> None:
    f = flow({"name": "Desk", "to": {"team": "t"}, "when_nobody": "hold"}, key="ins")
    cands = [cand("a", teams=["t"], **kw), cand("b", teams=["t"], status="away")]
    d = decide({}, f, cands, {}, now)
    assert (d.outcome, d.queue, d.rule) == ("queued", "hold:ins:Desk", "Desk")
    assert d.hold_until == until
    assert d.trace.summary.startswith(f"Held in hold:ins:Desk until {until.isoformat()}:")


def test_hold_until_after_time_off_waits_for_working_hours() -> None:
    a = Agent.from_mapping({"key": "a", "teams": ["t"], **INDIA,
                            "time_off": [["2026-02-02", "2026-02-06"]]})
    f = flow({"name": "Desk", "to": {"team": "t"}, "when_nobody": "hold"})
    d = decide({}, f, [Candidate(a)], {}, utc(2026, 2, 3, 6, 0))
    assert d.hold_until == utc(2026, 2, 9, 3, 30)  # Monday 09:00 IST


def test_hold_until_is_unknown_when_everyone_is_away_or_at_capacity() -> None:
    f = flow({"name": "Desk", "to": {"team": "t"}, "when_nobody": "hold"})
    cands = [cand("a", teams=["t"], status="away"),
             cand("b", teams=["t"], capacity={"open": 0})]
    d = decide({}, f, cands, {}, utc(2026, 1, 14, 10))
    assert d.outcome == "queued" and d.hold_until is None
    assert "until someone in the pool is eligible" in d.trace.summary


@pytest.mark.parametrize(("tz", "now", "expected"), [
    ("Asia/Kolkata", utc(2026, 1, 14, 10, 0), {
        "hour": utc(2026, 1, 14, 9, 30), "day": utc(2026, 1, 13, 18, 30),
        "week": utc(2026, 1, 11, 18, 30), "month": utc(2025, 12, 31, 18, 30)}),
    ("America/New_York", utc(2026, 3, 10, 12, 0), {
        "hour": utc(2026, 3, 10, 12, 0), "day": utc(2026, 3, 10, 4, 0),
        "week": utc(2026, 3, 9, 4, 0), "month": utc(2026, 3, 1, 5, 0)}),
    ("UTC", utc(2026, 2, 1, 0, 0), {
        "hour": utc(2026, 2, 1), "day": utc(2026, 2, 1), "week": utc(2026, 1, 26),
        "month": utc(2026, 2, 1)}),
])
def test_cap_windows_start_in_the_agent_time_zone(tz: str, now: datetime,
                                                  expected: dict[str, datetime]) -> None:
    assert cap_window_starts(Agent(key="a", timezone=tz), now) == expected


@pytest.mark.parametrize(("hours", "now", "working"), [
    ("09:00-17:00", utc(2026, 1, 14, 16, 59, 59), True),
    ("09:00-17:00", utc(2026, 1, 14, 17, 0, 0), False),
    ("09:00-17:00", utc(2026, 1, 14, 8, 59, 59), False),
    ("09:00-17:00", utc(2026, 1, 14, 9, 0, 0), True),
    ("22:00-06:00", utc(2026, 1, 14, 5, 59, 59), True),    # the Tuesday shift, overnight
    ("22:00-06:00", utc(2026, 1, 14, 6, 0, 0), False),
    ("00:00-24:00", utc(2026, 1, 14, 23, 59, 59), True),
])
def test_working_hours_bounds_hold_to_the_second(hours: str, now: datetime,
                                                 working: bool) -> None:
    reasons = check(cand("a", working_hours={"daily": hours}), now)
    assert ("outside_working_hours" not in reasons) is working


def test_capacity_limits_follow_an_agent_replaced_with_new_capacity() -> None:
    from dataclasses import replace

    c = cand("a", capacity={"open": 5, "daily": 2}, load=AgentLoad(open_leads=1,
                                                                  assigned={"day": 2}))
    assert check(c, utc(2026, 1, 14, 10)) == ("cap_daily",)
    assert check(Candidate(replace(c.agent, capacity={"daily": 3}), c.load),
                 utc(2026, 1, 14, 10)) == ()
    assert check(Candidate(replace(c.agent, capacity={"open": 1}), c.load),
                 utc(2026, 1, 14, 10)) == ("at_capacity",)
