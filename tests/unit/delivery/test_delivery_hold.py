"""Holds: office hours (time zone, weekly hours, public holidays), a date, and a
condition on the lead; when a held delivery may go and when to look again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadgate.domain.delivery import parse_hold
from leadgate.domain.errors import InvalidConfig

KOLKATA = {"office_hours": {"timezone": "Asia/Kolkata", "hours": {"mon-fri": "09:00-18:00"},
                            "holidays": "IN"}}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(("now", "ready", "wake"), [
    # Monday 23 Nov 2026, 10:00 UTC = 15:30 IST: open
    (utc(2026, 11, 23, 10, 0), True, None),
    # Monday 13:00 UTC = 18:30 IST: closed; Tuesday 24 Nov is Guru Nanak's birthday
    # (a public holiday in India), so it opens Wednesday 09:00 IST = 03:30 UTC
    (utc(2026, 11, 23, 13, 0), False, utc(2026, 11, 25, 3, 30)),
    # Monday 02:00 UTC = 07:30 IST: opens the same day
    (utc(2026, 11, 23, 2, 0), False, utc(2026, 11, 23, 3, 30)),
    # Friday 20:00 UTC: the weekend is skipped, Monday 09:00 IST
    (utc(2026, 11, 27, 20, 0), False, utc(2026, 11, 30, 3, 30)),
    # Christmas (Friday 25 Dec) is an Indian public holiday: Monday 28 Dec
    (utc(2026, 12, 24, 13, 0), False, utc(2026, 12, 28, 3, 30)),
    # exactly at opening time: go
    (utc(2026, 11, 25, 3, 30), True, None),
])
def test_office_hours_hold_until_the_next_opening(now: datetime, ready: bool,
                                                  wake: datetime | None) -> None:
    rel = parse_hold(KOLKATA, "hold").release({}, now)
    assert rel.ready is ready
    assert rel.wake_at == wake
    if not ready:
        assert "office hours open" in rel.reason


def test_until_holds_to_the_instant_given_with_its_offset() -> None:
    hold = parse_hold({"until": "2026-12-24T09:00:00+05:30"}, "hold")
    rel = hold.release({}, utc(2026, 12, 24, 3, 29))
    assert (rel.ready, rel.wake_at) == (False, utc(2026, 12, 24, 3, 30))
    assert hold.release({}, utc(2026, 12, 24, 3, 30)).ready


def test_a_condition_holds_until_the_lead_changes() -> None:
    hold = parse_hold({"when": {"field": "consent", "eq": True}}, "hold")
    rel = hold.release({"consent": False}, utc(2026, 11, 23, 10))
    assert (rel.ready, rel.wake_at) == (False, None)  # re-checked when the lead changes
    assert hold.release({"consent": True}, utc(2026, 11, 23, 10)).ready


def test_every_part_must_allow_and_the_date_is_checked_first() -> None:
    hold = parse_hold({**KOLKATA, "until": "2026-11-30T00:00:00+00:00",
                       "when": {"field": "consent", "eq": True}}, "hold")
    early = hold.release({"consent": True}, utc(2026, 11, 23, 10))
    assert early.wake_at == utc(2026, 11, 30)
    # after the date, outside hours: wait for the opening
    assert hold.release({"consent": True}, utc(2026, 11, 30, 1)).wake_at == \
        utc(2026, 11, 30, 3, 30)
    assert not hold.release({"consent": False}, utc(2026, 11, 30, 5)).ready
    assert hold.release({"consent": True}, utc(2026, 11, 30, 5)).ready


def test_no_hold_is_falsy_and_always_ready() -> None:
    hold = parse_hold(None, "hold")
    assert not hold
    assert hold.release({}, utc(2026, 1, 1)).ready


@pytest.mark.parametrize(("data", "path"), [
    ({"office_hours": {"timezone": "Mars/Olympus"}}, "hold.office_hours.timezone"),
    ({"office_hours": {"hours": {"mon-fri": "9 to 5"}}}, "hold.office_hours.hours"),
    ({"office_hours": {"days": "mon"}}, "hold.office_hours.days"),
    ({"until": "next tuesday"}, "hold.until"),
    ({"until": "2026-12-24T09:00:00"}, "hold.until"),  # no offset
    ({"later": True}, "hold.later"),
    ("always", "hold"),
])
def test_bad_holds_are_refused_with_their_path(data: object, path: str) -> None:
    with pytest.raises(InvalidConfig) as exc:
        parse_hold(data, "hold")
    assert exc.value.path.startswith(path), exc.value.path
