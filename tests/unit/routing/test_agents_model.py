from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadgate.domain.agents import Agent, territory_covers
from leadgate.domain.errors import InvalidConfig

ENTRY: dict[str, Any] = {
    "key": "priya", "name": "Priya Sharma", "email": "priya@example.com", "user": "p",
    "teams": ["mumbai"], "languages": ["HI", "en"], "skills": ["health"],
    "territories": ["in-mh", "US:941", "BR"], "tier": "Senior",
    "attributes": {"licensed": True}, "timezone": "Asia/Kolkata",
    "working_hours": {"mon-fri": "09:00-18:00", "sun": "22:00-06:00"}, "holidays": "IN",
    "time_off": [["2026-02-02", "2026-02-06"], {"start": "2026-03-01T10:00:00+00:00",
                                                "end": "2026-03-01T12:00:00+00:00"}],
    "capacity": {"open": 20, "daily": 50},
}


def test_agent_from_mapping_normalises_and_ignores_foreign_keys() -> None:
    a = Agent.from_mapping(ENTRY)
    assert a.languages == ("hi", "en")
    assert a.territories == ("IN-MH", "US:941", "BR")
    assert a.tier == "senior"
    assert a.time_off[0] == (datetime(2026, 2, 1, 18, 30, tzinfo=UTC),
                             datetime(2026, 2, 6, 18, 30, tzinfo=UTC))
    assert a.capacity == {"open": 20, "daily": 50}


def test_agent_to_mapping_round_trips() -> None:
    a = Agent.from_mapping(ENTRY)
    assert Agent.from_mapping(a.to_mapping()) == a
    assert Agent(key="x").to_mapping() == {"key": "x"}


@pytest.mark.parametrize(("patch", "path"), [
    ({"key": ""}, "agent.key"),
    ({"status": "busy"}, "agent.status"),
    ({"timezone": "Mars/Base"}, "agent.timezone"),
    ({"working_hours": {"mon-fry": "09:00-18:00"}}, "agent.working_hours.mon-fry"),
    ({"working_hours": {"mon": "9-18"}}, "agent.working_hours.mon"),
    ({"working_hours": {"mon": "09:00-09:00"}}, "agent.working_hours.mon"),
    ({"holidays": "XX"}, "agent.holidays"),
    ({"territories": ["Brazil"]}, "agent.territories[0]"),
    ({"capacity": {"open": -1}}, "agent.capacity.open"),
    ({"capacity": {"weekly_max": 1}}, "agent.capacity.weekly_max"),
    ({"time_off": [["2026-02-06", "2026-02-01"]]}, "agent.time_off[0]"),
    ({"teams": ["a", "b", 3]}, "agent.teams[2]"),
])
def test_bad_agent_config_is_refused_with_path(patch: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidConfig) as err:
        Agent.from_mapping({**ENTRY, **patch})
    assert err.value.path == path


@pytest.mark.parametrize(("territory", "lead", "covers"), [
    ("BR", {"country": "BR"}, True),
    ("BR", {"country": "PT"}, False),
    ("IN-MH", {"country": "IN", "region": "IN-MH"}, True),
    ("IN-MH", {"country": "IN", "region": "IN-KA"}, False),
    ("US:941", {"country": "US", "postal_code": "94107"}, True),
    ("US:941", {"country": "US", "postal_code": "10001"}, False),
    ("US:941", {"country": "CA", "postal_code": "94107"}, False),
    ("GB:SW1", {"country": "GB", "postal_code": "SW1A 1AA"}, True),
    ("*", {}, True),
])
def test_territory_format(territory: str, lead: dict[str, Any], covers: bool) -> None:
    assert territory_covers(territory, lead) is covers
