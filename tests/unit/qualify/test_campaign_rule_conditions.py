"""Scoring rules are parsed with the condition language at campaign save time, if installed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.domain.campaigns import parse_campaign
from leadgate.domain.errors import InvalidCampaign
from leadgate.domain.qualify import qualify

CONFIG: dict[str, Any] = {"key": "t", "fields": {"product": {"type": "enum",
                                                             "values": ["a", "b"]}},
                          "scoring": {"rules": [{"when": {"field": "product", "eq": "a"},
                                                 "points": 5}]}}


def test_bad_rule_condition_is_refused_with_its_path() -> None:
    bad = {**CONFIG, "scoring": {"rules": [{"when": {"field": "product", "eqq": "a"},
                                            "points": 5}]}}
    with pytest.raises(InvalidCampaign) as err:
        parse_campaign(bad, path="campaigns[3]")
    assert err.value.path == "campaigns[3].scoring.rules[0].when.eqq"


def test_rule_condition_parsed_at_save_time_scores_the_lead() -> None:
    campaign = parse_campaign(CONFIG)
    q = qualify({"product": "a"}, campaign, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert q.score == 5.0
    q = qualify({"product": "b"}, campaign, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert q.score == 0.0


PHONE = parse_campaign({"key": "p", "fields": {"phone": "phone", "country": "country"}})


@settings(max_examples=150, deadline=None)
@given(nsn=st.integers(min_value=6_000_000_000, max_value=9_999_999_999),
       style=st.sampled_from(["+91 {a} {b}", "0{a}{b}", "{a}-{b}", "0091{a}{b}", "91{a}{b}"]))
def test_indian_phone_formats_agree_and_e164_is_a_fixed_point(nsn: int, style: str) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    text = str(nsn)
    written = style.format(a=text[:5], b=text[5:])
    first = qualify({"phone": written, "country": "IN"}, PHONE, now=now)
    canonical = qualify({"phone": f"+91{text}"}, PHONE, now=now)
    assert first.verdict == canonical.verdict
    if canonical.verdict == "accepted":
        assert first.values["phone"] == canonical.values["phone"] == f"+91{text}"
        again = qualify({"phone": canonical.values["phone"]}, PHONE, now=now)
        assert again.values == canonical.values
