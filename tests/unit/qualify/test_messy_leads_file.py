"""qualify() over the messy lead file matches what the generator meant for every row.

Duplicates and suppressed leads need the database (the ingest service applies
them); for those rows qualify() alone must accept the lead and compute the
keys the service looks up.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadgate.domain.campaigns import Campaign, parse_campaign
from leadgate.domain.qualify import Qualification, qualify

DATA = Path(__file__).resolve().parents[2] / "data"
NOW = datetime(2024, 3, 15, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return parse_campaign(yaml.safe_load((DATA / "messy_campaign.yaml").read_text()))


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "messy_expected.json").read_text())
    return data


@pytest.fixture(scope="module")
def results(campaign: Campaign) -> list[Qualification]:
    with (DATA / "messy_leads.csv").open(newline="", encoding="utf-8") as fh:
        return [qualify(row, campaign, now=NOW) for row in csv.DictReader(fh)]


def test_file_is_big_and_varied(expected: dict[str, Any]) -> None:
    intents = Counter(r["intent"] for r in expected["rows"])
    assert expected["rows_total"] >= 500
    for intent in ("exact_duplicate", "duplicate_phone_in_window", "duplicate_email_in_window",
                   "duplicate_out_of_window", "suppressed_phone", "junk_name",
                   "disposable_email"):
        assert intents[intent] >= 2, intent


def test_every_row_gets_the_intended_verdict_and_reason(
        results: list[Qualification], expected: dict[str, Any]) -> None:
    wrong = []
    for q, want in zip(results, expected["rows"], strict=True):
        codes = sorted({r.code for r in q.reasons})
        wanted = [want["qualify_reason"]] if want["qualify_reason"] else []
        if q.verdict != want["qualify_verdict"] or codes != wanted:
            wrong.append((want["row"], want["intent"], q.verdict, codes, q.raw))
    assert wrong == []


def test_counts_match_the_expected_file(results: list[Qualification],
                                        expected: dict[str, Any]) -> None:
    verdicts = Counter(q.verdict for q in results)
    reasons = Counter(q.reasons[0].code for q in results if q.verdict == "rejected")
    want = expected["qualify_only"]
    assert verdicts["accepted"] == want["accepted"]
    assert verdicts["quarantined"] == want["quarantined"]
    assert dict(reasons) == want["rejected"]


def test_accepted_rows_are_fully_normalised(results: list[Qualification]) -> None:
    for q in results:
        if q.verdict != "accepted":
            continue
        assert q.values["phone"].startswith("+")
        assert q.values.get("email", "") == (q.values.get("email") or "").lower()
        assert q.values.get("country") is None or len(q.values["country"]) == 2
        assert q.enrichment.get("timezone"), q.raw
        assert any(k.startswith("phone=") for k in q.dedupe_keys)


def test_dedupe_and_suppression_keys_find_the_intended_rows(
        results: list[Qualification], expected: dict[str, Any]) -> None:
    with (DATA / "messy_suppression.csv").open(newline="", encoding="utf-8") as fh:
        dnc = {f"{r['kind']}:{r['value']}" for r in csv.DictReader(fh)}
    seen: dict[str, datetime] = {}
    verdicts = []
    for q in results:  # the service's rules, as documented in make_messy_leads.py
        if q.verdict != "accepted":
            verdicts.append((q.verdict, q.reasons[0].code if q.reasons else None))
            continue
        if dnc & set(q.suppression_keys):
            verdicts.append(("rejected", "suppressed"))
            continue
        at = datetime.fromisoformat(q.values["created_at"])
        if any(k in seen and (at - seen[k]).days <= 30 for k in q.dedupe_keys):
            verdicts.append(("rejected", "duplicate"))
            continue
        for k in q.dedupe_keys:
            seen[k] = at
        verdicts.append(("accepted", None))
    assert verdicts == [(r["verdict"], r["reason"]) for r in expected["rows"]]
