"""qualify(): required/type/enum checks and normalisation of emails, phones, countries..."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadgate.domain.campaigns import Campaign, parse_campaign
from leadgate.domain.qualify import qualify

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def campaign(fields: dict[str, Any], **extra: Any) -> Campaign:
    return parse_campaign({"key": "t", "fields": fields, **extra})


def one(ftype: str, value: Any, country: str | None = None, **spec: Any) -> tuple[str, Any]:
    """Qualify a single-field lead; return (verdict, value or first reason code)."""
    fields: dict[str, Any] = {"f": {"type": ftype, **spec}}
    raw: dict[str, Any] = {"f": value}
    if country is not None:
        fields["country"] = {"type": "country"}
        raw["country"] = country
    q = qualify(raw, campaign(fields), now=NOW)
    if q.verdict == "accepted":
        return q.verdict, q.values["f"]
    return q.verdict, q.reasons[0].code


@pytest.mark.parametrize(("value", "expected"), [
    ("Priya.Shah@Example.COM", "priya.shah@example.com"),
    ("  bob@mail.co.uk ", "bob@mail.co.uk"),
])
def test_email_is_validated_and_lower_cased(value: str, expected: str) -> None:
    assert one("email", value) == ("accepted", expected)


@pytest.mark.parametrize("value", ["not-an-email", "a@b", "a@@b.com", "a b@c.com", 42])
def test_bad_email_is_invalid_email(value: Any) -> None:
    assert one("email", value) == ("rejected", "invalid_email")


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("+91 98123 45678", None, "+919812345678"),
    ("098123 45678", "India", "+919812345678"),
    ("9812345678", "IN", "+919812345678"),
    ("919812345678", None, "+919812345678"),
    ("0091 98123 45678", "IN", "+919812345678"),
    ("(415) 555-2671", "USA", "+14155552671"),
    ("415.555.2671", "US", "+14155552671"),
    ("07911 123456", "UK", "+447911123456"),
    ("+44 (0)20 7946 0000", None, "+442079460000"),
    ("(11) 98765-4321", "Brasil", "+5511987654321"),
    ("0151 12345678", "Deutschland", "+4915112345678"),
    ("06 12345678", "Nederland", "+31612345678"),
])
def test_phone_is_e164_using_the_leads_country(value: str, country: str | None,
                                               expected: str) -> None:
    assert one("phone", value, country) == ("accepted", expected)


@pytest.mark.parametrize("value", ["12345", "+91 12345", "phone me", "+1 555 000 0000", True])
def test_bad_phone_is_invalid_phone(value: Any) -> None:
    assert one("phone", value, "IN") == ("rejected", "invalid_phone")


def test_national_phone_uses_campaign_default_region() -> None:
    c = campaign({"phone": {"type": "phone"}}, default_region="IN")
    assert qualify({"phone": "98123 45678"}, c, now=NOW).values["phone"] == "+919812345678"


def test_national_phone_uses_call_default_region() -> None:
    c = campaign({"phone": {"type": "phone"}})
    q = qualify({"phone": "(415) 555-2671"}, c, now=NOW, default_region="US")
    assert q.values["phone"] == "+14155552671"


def test_phone_line_type_restriction() -> None:
    assert one("phone", "+44 20 7946 0000", line_types=["mobile"]) == (
        "rejected", "phone_line_type")
    assert one("phone", "+44 7911 123456", line_types=["mobile"]) == (
        "accepted", "+447911123456")


@pytest.mark.parametrize(("value", "expected"), [
    ("Deutschland", "DE"), ("Brasil", "BR"), ("España", "ES"), ("espana", "ES"), ("Inde", "IN"),
    ("India", "IN"), ("UK", "GB"), ("United Kingdom", "GB"), ("USA", "US"), ("us", "US"),
    ("DEU", "DE"), ("Pays-Bas", "NL"), ("Nederland", "NL"), ("Estados Unidos", "US"),
    ("Allemagne", "DE"), ("Royaume-Uni", "GB"), ("Índia", "IN"), ("  france ", "FR"),
])
def test_country_names_in_many_languages_become_alpha2(value: str, expected: str) -> None:
    assert one("country", value) == ("accepted", expected)


@pytest.mark.parametrize("value", ["Atlantis", "ZZ", "", 12])
def test_unknown_country_is_invalid_country(value: Any) -> None:
    verdict, code = one("country", value, required=True)
    assert verdict == "rejected"
    assert code in ("invalid_country", "required")


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("94105", "US", "94105"), ("941051420", "US", "94105-1420"), ("sw1a1aa", "GB", "SW1A 1AA"),
    ("SW1A 1AA", "UK", "SW1A 1AA"), ("k1a0b1", "CA", "K1A 0B1"), ("400 001", "IN", "400001"),
    ("01310100", "BR", "01310-100"), ("01310-100", "Brasil", "01310-100"),
    ("10115", "DE", "10115"), ("1012ab", "NL", "1012 AB"), (" 75001 ", "FR", "75001"),
    ("ab-12 3", "JP", "AB-12 3"),
])
def test_postal_code_is_formatted_per_country(value: str, country: str, expected: str) -> None:
    assert one("postal_code", value, country) == ("accepted", expected)


@pytest.mark.parametrize(("value", "country"), [
    ("1234", "US"), ("ABC", "GB"), ("D1A 0B1", "CA"), ("012345", "IN"), ("1234567", "BR"),
    ("1234", "DE"), ("1234 SA", "NL"),
])
def test_bad_postal_code_is_invalid_postal_code(value: str, country: str) -> None:
    assert one("postal_code", value, country) == ("rejected", "invalid_postal_code")


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("Maharashtra", "IN", "IN-MH"), ("CA", "US", "US-CA"), ("us-ny", None, "US-NY"),
    ("São Paulo", "BR", "BR-SP"), ("Bayern", "DE", "DE-BY"),
])
def test_region_becomes_iso_3166_2(value: str, country: str | None, expected: str) -> None:
    assert one("region", value, country) == ("accepted", expected)


@pytest.mark.parametrize(("ftype", "value", "spec", "expected"), [
    ("enum", " LIFE ", {"values": ["health", "life"]}, ("accepted", "life")),
    ("enum", "car", {"values": ["health", "life"]}, ("rejected", "invalid_value")),
    ("integer", "1,200", {}, ("accepted", 1200)),
    ("integer", 7.0, {}, ("accepted", 7)),
    ("integer", "7.5", {}, ("rejected", "invalid_type")),
    ("integer", "-1", {"min": 0}, ("rejected", "invalid_value")),
    ("integer", True, {}, ("rejected", "invalid_type")),
    ("number", "3.25", {"max": 10}, ("accepted", 3.25)),
    ("number", "11", {"max": 10}, ("rejected", "invalid_value")),
    ("number", "nan", {}, ("rejected", "invalid_type")),
    ("boolean", "Yes", {}, ("accepted", True)),
    ("boolean", "0", {}, ("accepted", False)),
    ("boolean", "maybe", {}, ("rejected", "invalid_type")),
    ("date", "2024-02-29", {}, ("accepted", "2024-02-29")),
    ("date", "31/02/2024", {}, ("rejected", "invalid_type")),
    ("datetime", "2024-05-01T10:00:00Z", {}, ("accepted", "2024-05-01T10:00:00+00:00")),
    ("datetime", "2024-05-01 10:00", {}, ("accepted", "2024-05-01T10:00:00+00:00")),
    ("url", "https://x.example/a", {}, ("accepted", "https://x.example/a")),
    ("url", "javascript:alert(1)", {}, ("rejected", "invalid_type")),
    ("string", ["a"], {}, ("rejected", "invalid_type")),
    ("string", "abcdef", {"max_length": 3}, ("rejected", "invalid_value")),
    ("string", "AB12", {"pattern": "[A-Z]{2}[0-9]{2}"}, ("accepted", "AB12")),
    ("string", "ab12", {"pattern": "[A-Z]{2}[0-9]{2}"}, ("rejected", "invalid_value")),
    ("text", "  two\nlines  ", {}, ("accepted", "two\nlines")),
])
def test_type_checks(ftype: str, value: Any, spec: dict[str, Any],
                     expected: tuple[str, Any]) -> None:
    assert one(ftype, value, **spec) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("  priya  ", "Priya"), ("SHAH", "Shah"), ("mary-jane", "Mary-Jane"), ("o'neil", "O'Neil"),
    ("McDonald", "McDonald"), ("van der  Berg", "van der Berg"),
])
def test_names_are_trimmed_and_cased(value: str, expected: str) -> None:
    c = campaign({"last_name": {"type": "string"}})
    assert qualify({"last_name": value}, c, now=NOW).values["last_name"] == expected


@pytest.mark.parametrize("value", [None, "", "   ", []])
def test_missing_required_field_is_required(value: Any) -> None:
    c = campaign({"phone": {"type": "phone", "required": True}})
    q = qualify({"phone": value}, c, now=NOW)
    assert q.verdict == "rejected"
    assert [(r.code, r.field) for r in q.reasons] == [("required", "phone")]


def test_unknown_field_policy() -> None:
    raw = {"email": "a@b.com", "utm_source": "fb"}
    for policy, verdict, kept in [("reject", "rejected", False), ("keep", "accepted", True),
                                  ("drop", "accepted", False)]:
        q = qualify(raw, campaign({"email": "email"}, unknown_fields=policy), now=NOW)
        assert q.verdict == verdict
        assert ("utm_source" in q.values) is kept
        assert q.raw == raw


def test_unknown_field_reason_names_the_field() -> None:
    q = qualify({"email": "a@b.com", "utm": "x"}, campaign({"email": "email"}), now=NOW)
    assert [(r.code, r.field) for r in q.reasons] == [("unknown_field", "utm")]


def test_input_keys_match_fields_loosely() -> None:
    c = campaign({"first_name": "string"})
    q = qualify({"First Name": "ana"}, c, now=NOW)
    assert q.verdict == "accepted"
    assert q.values == {"first_name": "Ana"}


def test_consent_evidence_is_kept_and_never_unknown() -> None:
    raw = {"email": "a@b.com", "consent_url": " https://cert.example/abc ",
           "consent_at": "2024-05-01T09:00:00Z", "consent_ip": "203.0.113.9"}
    q = qualify(raw, campaign({"email": "email"}), now=NOW)
    assert q.verdict == "accepted"
    assert q.consent == {"consent_url": "https://cert.example/abc",
                         "consent_at": "2024-05-01T09:00:00Z", "consent_ip": "203.0.113.9"}
    assert "consent_url" not in q.values


def test_raw_is_kept_untouched() -> None:
    raw = {"email": "A@B.COM"}
    q = qualify(raw, campaign({"email": "email"}), now=NOW)
    assert q.raw == {"email": "A@B.COM"}
    assert q.values == {"email": "a@b.com"}


def test_every_check_is_recorded() -> None:
    c = campaign({"email": {"type": "email", "required": True}, "n": "integer"})
    q = qualify({"email": "a@b.com", "n": "x"}, c, now=NOW)
    recorded = {(ch["code"], ch["field"], ch["passed"]) for ch in q.checks}
    assert ("required", "email", True) in recorded
    assert ("invalid_email", "email", True) in recorded
    assert ("invalid_type", "n", False) in recorded
    assert all(set(ch) == {"code", "field", "passed", "action", "message"} for ch in q.checks)


@pytest.mark.parametrize(("action", "verdict", "in_flags"), [
    ("reject", "rejected", False), ("quarantine", "quarantined", False),
    ("flag", "accepted", True),
])
def test_check_action_sets_the_verdict(action: str, verdict: str, in_flags: bool) -> None:
    c = campaign({"n": "integer"}, checks={"invalid_type": action})
    q = qualify({"n": "x"}, c, now=NOW)
    assert q.verdict == verdict
    assert bool(q.flags) is in_flags
    assert bool(q.reasons) is not in_flags


def test_reject_wins_over_quarantine() -> None:
    c = campaign({"n": "integer", "e": "email"}, checks={"invalid_type": "quarantine"})
    assert qualify({"n": "x", "e": "bad"}, c, now=NOW).verdict == "rejected"


def test_dedupe_and_suppression_keys_use_normalised_values() -> None:
    c = campaign({"email": "email", "last_name": "string", "phone": "phone"},
                 dedupe={"keys": ["phone", ["email", "last_name"]]})
    q = qualify({"email": "A@B.com", "last_name": "SHAH", "phone": "+91 98123 45678"}, c,
                now=NOW)
    assert q.dedupe_keys == ["phone=+919812345678", "email=a@b.com|last_name=shah"]
    assert q.suppression_keys == ["email:a@b.com", "domain:b.com", "phone:+919812345678"]
    partial = qualify({"phone": "+91 98123 45678"}, c, now=NOW)
    assert partial.dedupe_keys == ["phone=+919812345678"]


def test_qualification_is_json_able() -> None:
    import json

    c = campaign({"email": "email", "phone": "phone", "n": "integer"})
    q = qualify({"email": "a@b.com", "phone": "+14155552671", "n": "bad"}, c, now=NOW)
    json.dumps(q.to_dict())
