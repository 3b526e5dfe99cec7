"""Junk detection: fake names and disposable email domains."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadgate.domain.campaigns import parse_campaign
from leadgate.domain.qualify import qualify
from leadgate.domain.qualify.junk import is_disposable_domain, junk_name_reason, junk_names

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
CAMPAIGN = parse_campaign({"key": "t", "fields": {
    "first_name": {"type": "string", "required": True}, "last_name": "string",
    "email": "email"}})


@pytest.mark.parametrize("name", [
    "Test", "TEST", "asdf", "Qwerty", "sdfghj", "zxcvb", "Poiuyt", "lkjh", "xzqwrt", "123",
    "John2", "aaa", "Lorem", "fake", "Dummy", "n/a", "...",
])
def test_fake_single_names_are_junk(name: str) -> None:
    assert junk_name_reason(name) is not None


@pytest.mark.parametrize("name", [
    "John", "Doherty", "Priya", "Mohammed", "Nguyen", "Aaron", "Krystyna", "Siobhan", "Björk",
    "李", "Tyson", "Wertz", "Kowalczyk", "Schwarzkopf", "O'Neil", "Mary-Jane", "J", "Ng", "Bar",
    "Mickey", "Na", "Lloyd", "Åsa", "Zoë", "Khan", "Van der Berg",
])
def test_real_names_are_not_junk(name: str) -> None:
    assert junk_name_reason(name) is None


@pytest.mark.parametrize(("first", "last"), [
    ("test", "test"), ("John", "john"), ("John", "Doe"), ("mickey", "MOUSE"), ("A", "B"),
    ("asdf", "Shah"), ("Priya", "qwerty"),
])
def test_fake_full_names_are_junk(first: str, last: str) -> None:
    assert junk_names({"first_name": first, "last_name": last})


@pytest.mark.parametrize(("first", "last"), [("Priya", "Shah"), ("J", "Li"), ("Ana", "Ng")])
def test_real_full_names_are_not_junk(first: str, last: str) -> None:
    assert junk_names({"first_name": first, "last_name": last}) == {}


@pytest.mark.parametrize(("domain", "disposable"), [
    ("mailinator.com", True), ("inbox.mailinator.com", True), ("yopmail.com", True),
    ("guerrillamail.com", True), ("gmail.com", False), ("example.co.in", False),
])
def test_disposable_domains_come_from_the_maintained_list(domain: str, disposable: bool) -> None:
    assert is_disposable_domain(domain) is disposable


def test_junk_name_rejects_by_default() -> None:
    q = qualify({"first_name": "test", "last_name": "test"}, CAMPAIGN, now=NOW)
    assert q.verdict == "rejected"
    assert {r.code for r in q.reasons} == {"junk_name"}


def test_disposable_email_rejects_by_default() -> None:
    q = qualify({"first_name": "Ana", "email": "ana@Mailinator.com"}, CAMPAIGN, now=NOW)
    assert q.verdict == "rejected"
    assert [(r.code, r.field) for r in q.reasons] == [("disposable_email", "email")]


def test_junk_checks_follow_campaign_actions() -> None:
    c = parse_campaign({**CAMPAIGN.to_dict(),
                        "checks": {"junk_name": "flag", "disposable_email": "quarantine"}})
    flagged = qualify({"first_name": "asdf", "last_name": "Shah"}, c, now=NOW)
    assert flagged.verdict == "accepted"
    assert [f.code for f in flagged.flags] == ["junk_name"]
    held = qualify({"first_name": "Ana", "email": "a@yopmail.com"}, c, now=NOW)
    assert held.verdict == "quarantined"
    assert [r.code for r in held.reasons] == ["disposable_email"]
