"""The messy file (tests/data) through `leadgate import`: exact counts of
accepted, rejected per reason, quarantined and merged; normalised values."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import yaml
from sqlalchemy import select
from tests.conftest import make_app
from typer.testing import CliRunner

from leadgate.cli import cli
from leadgate.store import models as m

DATA = Path(__file__).resolve().parent.parent / "data"
runner = CliRunner()


def test_messy_file_import_gives_the_exact_expected_counts(db_url: str, tmp_path: Path) -> None:
    expected = json.loads((DATA / "messy_expected.json").read_text())
    campaign = yaml.safe_load((DATA / "messy_campaign.yaml").read_text())
    setup = {"campaigns": [campaign],
             "sources": [{"key": "files", "name": "Files", "campaign": campaign["key"]}]}
    cfg = tmp_path / "setup.yaml"
    cfg.write_text(yaml.safe_dump(setup))
    for args in (["config", "apply", str(cfg)],
                 ["suppress", "import", str(DATA / "messy_suppression.csv")],
                 ["import", "leads", str(DATA / "messy_leads.csv"), "--source", "files",
                  "--report", str(tmp_path / "rejects.csv")]):
        result = runner.invoke(cli, [*args, "--db", db_url], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    assert f"imported {expected['rows_total']} row(s)" in result.output

    app = make_app(db_url)
    with app.reader() as uow:
        leads = list(uow.session.scalars(select(m.Lead).order_by(m.Lead.id)))
    app.close()
    assert len(leads) == expected["rows_total"]
    statuses = Counter(lead.status for lead in leads)
    accepted = sum(n for s, n in statuses.items()
                   if s in ("assigned", "unassigned", "queued"))
    assert accepted == expected["accepted"]
    assert statuses["quarantined"] == expected["quarantined"]
    assert statuses["merged"] == expected["merged"]
    rejected = Counter(lead.reasons[0]["code"] for lead in leads if lead.status == "rejected")
    assert dict(rejected) == expected["rejected"]

    # row by row: the verdict and the first reason match the generator's intent
    for lead, row in zip(leads, expected["rows"], strict=True):
        status = "accepted" if lead.status in ("assigned", "unassigned", "queued") \
            else lead.status
        assert status == row["verdict"], (row, lead.reasons)
        if row["reason"]:
            assert lead.reasons[0]["code"] == row["reason"], (row, lead.reasons)

    # duplicates point at their original
    dups = [lead for lead in leads if lead.status == "rejected"
            and lead.reasons[0]["code"] == "duplicate"]
    assert all(d.duplicate_of_id is not None and d.duplicate_of_id < d.id for d in dups)

    # spot checks of normalised values (raw kept next to them)
    first = leads[0]
    assert first.raw["first_name"] == "  Vikram "
    assert first.values["first_name"] == "Vikram"
    assert first.values["last_name"] == "Sharma"
    assert first.values["email"] == "vikram.sharma1@web.de"
    assert first.values["phone"] == "+918440172375"
    assert first.values["country"] == "IN"
    rejects = (tmp_path / "rejects.csv").read_text().splitlines()
    assert len(rejects) == 1 + sum(expected["rejected"].values())
