"""The published back-off schedule and its jitter bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgate.domain.delivery import DEFAULT_SCHEDULE, JITTER, parse_schedule, retry_delay
from leadgate.domain.errors import InvalidConfig


def test_the_default_schedule_is_the_published_one() -> None:
    assert DEFAULT_SCHEDULE == (10, 30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800)
    assert JITTER == 0.2


@pytest.mark.parametrize(("attempt", "seconds"), [
    (1, 10), (2, 30), (3, 120), (4, 300), (10, 28800), (11, 28800), (50, 28800)])
def test_without_jitter_each_attempt_waits_its_step_and_the_last_repeats(
        attempt: int, seconds: float) -> None:
    assert retry_delay(attempt, DEFAULT_SCHEDULE, 0.5) == timedelta(seconds=seconds)


@given(attempt=st.integers(1, 40), rand=st.floats(0, 1, exclude_max=True),
       schedule=st.lists(st.floats(0.5, 86400), min_size=1, max_size=12))
def test_jitter_stays_within_plus_or_minus_20_percent(attempt: int, rand: float,
                                                      schedule: list[float]) -> None:
    base = schedule[min(attempt, len(schedule)) - 1]
    wait = retry_delay(attempt, schedule, rand).total_seconds()
    assert base * 0.8 - 1e-6 <= wait <= base * 1.2 + 1e-6


def test_jitter_ends_are_exact_and_grow_with_rand() -> None:
    assert retry_delay(1, (100,), 0.0) == timedelta(seconds=80)
    assert retry_delay(1, (100,), 0.999999).total_seconds() == pytest.approx(120, abs=1e-3)
    waits = [retry_delay(2, (10, 100), r / 10) for r in range(10)]
    assert waits == sorted(waits)


def test_out_of_range_rand_is_clamped_and_attempt_zero_is_refused() -> None:
    assert retry_delay(1, (100,), -3) == timedelta(seconds=80)
    assert retry_delay(1, (100,), 7) == timedelta(seconds=120)
    with pytest.raises(ValueError):
        retry_delay(0)


def test_schedules_are_written_as_durations() -> None:
    assert parse_schedule(["10s", "1m", "2h", 5], "p") == (10, 60, 7200, 5)
    for bad in ([], "10s", None, ["soon"]):
        with pytest.raises(InvalidConfig):
            parse_schedule(bad, "retry.schedule")
