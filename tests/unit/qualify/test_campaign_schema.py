"""Campaign configs: parsing, refusal with a precise path, and round-tripping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from leadgate.domain.campaigns import DEFAULT_CHECKS, Campaign, parse_campaign
from leadgate.domain.errors import InvalidCampaign

BASE: dict[str, Any] = {
    "key": "health_in",
    "fields": {
        "first_name": {"type": "string", "required": True},
        "last_name": "string",
        "email": {"type": "email"},
        "phone": {"type": "phone", "required": True},
        "product": {"type": "enum", "values": ["health", "life"]},
        "company_size": {"type": "integer", "min": 0},
    },
}


def with_(**changes: Any) -> dict[str, Any]:
    data = {**BASE, **changes}
    return data


def test_minimal_campaign_gets_defaults() -> None:
    c = parse_campaign(BASE)
    assert c.name == "health_in"
    assert c.fields["first_name"].required is True
    assert c.fields["last_name"].type == "string"
    assert c.fields["product"].values == ("health", "life")
    assert c.fields["company_size"].min == 0
    assert c.dedupe.keys == (("email",), ("phone",))
    assert c.dedupe.window == timedelta(days=30)
    assert c.dedupe.on_duplicate == "reject"
    assert c.checks == DEFAULT_CHECKS
    assert c.unknown_fields == "reject"
    assert c.scoring is None


@pytest.mark.parametrize(("window", "expected"), [
    ("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("15m", timedelta(minutes=15)),
    ("2w", timedelta(weeks=2)), (3600, timedelta(hours=1)),
])
def test_dedupe_window_reads_durations(window: Any, expected: timedelta) -> None:
    c = parse_campaign(with_(dedupe={"window": window}))
    assert c.dedupe.window == expected


def test_dedupe_keys_accept_single_fields_and_combinations() -> None:
    c = parse_campaign(with_(dedupe={"keys": ["phone", ["email", "last_name"]],
                                     "on_duplicate": "merge"}))
    assert c.dedupe.keys == (("phone",), ("email", "last_name"))
    assert c.dedupe.on_duplicate == "merge"


@pytest.mark.parametrize(("changes", "path"), [
    ({"key": "Bad Key"}, "campaigns[0].key"),
    ({"fields": {"phone": {"type": "telephone"}}}, "campaigns[0].fields.phone.type"),
    ({"fields": {"p": {"type": "enum"}}}, "campaigns[0].fields.p.values"),
    ({"fields": {"p": {"type": "string", "values": ["a"]}}}, "campaigns[0].fields.p.values"),
    ({"fields": {"n": {"type": "integer", "min": 5, "max": 1}}}, "campaigns[0].fields.n.min"),
    ({"fields": {"n": {"type": "string", "pattern": "("}}}, "campaigns[0].fields.n.pattern"),
    ({"fields": {"n": {"type": "string", "colour": "red"}}}, "campaigns[0].fields.n.colour"),
    ({"fields": {"n": {"type": "string", "required": "yes"}}}, "campaigns[0].fields.n.required"),
    ({"fields": {"p": {"type": "phone", "line_types": ["cell"]}}},
     "campaigns[0].fields.p.line_types"),
    ({"fields": {}}, "campaigns[0].fields"),
    ({"dedupe": {"keys": ["fax"]}}, "campaigns[0].dedupe.keys[0]"),
    ({"dedupe": {"window": "thirty days"}}, "campaigns[0].dedupe.window"),
    ({"dedupe": {"on_duplicate": "drop"}}, "campaigns[0].dedupe.on_duplicate"),
    ({"checks": {"junk_name": "ignore"}}, "campaigns[0].checks.junk_name"),
    ({"checks": {"spam": "reject"}}, "campaigns[0].checks.spam"),
    ({"default_region": "XX"}, "campaigns[0].default_region"),
    ({"unknown_fields": "ignore"}, "campaigns[0].unknown_fields"),
    ({"scoring": {"rules": [{"when": {"field": "x", "eq": 1}, "points": 1.5}]}},
     "campaigns[0].scoring.rules[0].points"),
    ({"scoring": {"rules": [{"when": "x", "points": 1}]}}, "campaigns[0].scoring.rules[0].when"),
    ({"scoring": {"grades": {"A": "high"}}}, "campaigns[0].scoring.grades.A"),
    ({"colour": "red"}, "campaigns[0].colour"),
])
def test_bad_campaign_is_refused_with_its_path(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidCampaign) as err:
        parse_campaign(with_(**changes), path="campaigns[0]")
    assert err.value.path == path
    assert err.value.code == "invalid_campaign"


def test_field_shorthand_string_is_a_type() -> None:
    assert parse_campaign(BASE).fields["last_name"].to_dict() == {"type": "string"}


@pytest.mark.parametrize("changes", [
    {},
    {"name": "Health India", "default_region": "IN", "unknown_fields": "keep", "flow": "main"},
    {"dedupe": {"keys": [["email", "last_name"]], "window": "12h", "on_duplicate": "merge"}},
    {"checks": {"junk_name": "flag", "disposable_email": "quarantine"}},
    {"scoring": {"rules": [{"when": {"field": "product", "eq": "life"}, "points": 30,
                            "name": "life"}], "grades": {"A": 50, "B": 0}, "model": "m1"}},
    {"fields": {"n": {"type": "number", "min": 0.5, "max": 10, "label": "N"},
                "s": {"type": "string", "pattern": "^[a-z]+$", "max_length": 20},
                "p": {"type": "phone", "line_types": ["mobile"]}}},
])
def test_to_dict_round_trips(changes: dict[str, Any]) -> None:
    c = parse_campaign(with_(**changes))
    assert isinstance(c, Campaign)
    again = parse_campaign(c.to_dict())
    assert again == c
    assert again.to_dict() == c.to_dict()


def test_to_dict_omits_defaults() -> None:
    d = parse_campaign(BASE).to_dict()
    assert set(d) == {"key", "fields"}
