"""`leadgate score train` on a synthetic outcome history stored as real leads."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import select
from tests.conftest import FakeClock, make_app
from typer.testing import CliRunner

from leadgate.cli import cli
from leadgate.ml import synthetic_history
from leadgate.ml.synthetic import DEMO_CAMPAIGN
from leadgate.services.ingest import ingest_lead
from leadgate.store import models as m

runner = CliRunner()


def seed_history(db: str, tmp_path: Path, n: int) -> None:
    campaign = {**DEMO_CAMPAIGN, "scoring": {k: v for k, v in DEMO_CAMPAIGN["scoring"].items()
                                             if k != "model"}}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"campaigns": [campaign], "sources": [
        {"key": "hist", "name": "History", "campaign": campaign["key"]}]}))
    assert runner.invoke(cli, ["config", "apply", str(cfg), "--db", db]).exit_code == 0
    clock = FakeClock()
    app = make_app(f"sqlite:///{db}", clock)
    for i, (values, won) in enumerate(synthetic_history(n, seed=3)):
        values = {**values, "phone": f"+91 97{i:08d}"}  # unique, valid numbers
        clock.advance(minutes=1)
        with app.uow() as uow:
            src = uow.session.scalar(select(m.Source).where(m.Source.key == "hist"))
            assert src is not None
            result = ingest_lead(uow, src, values, clock.now)
        assert result.status_code == 201, (i, result.body)
        with app.uow() as uow:
            lead = uow.session.get(m.Lead, result.lead_id)
            assert lead is not None
            lead.status = "won" if won else "lost"
            uow.commit()
    clock.advance(days=1)
    app.close()


def test_score_train_beats_the_rule_score_and_the_model_scores_new_leads(tmp_path: Path
                                                                         ) -> None:
    db = str(tmp_path / "score.db")
    seed_history(db, tmp_path, 1200)
    r = runner.invoke(cli, ["score", "train", "--campaign", "demo_insurance", "--activate",
                            "--db", db], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    found = re.search(r"held-out AUC: model ([0-9.]+), rule score ([0-9.]+)", r.output)
    assert found, r.output
    model_auc, rule_auc = float(found.group(1)), float(found.group(2))
    assert model_auc > rule_auc
    assert model_auc > 0.6
    listed = runner.invoke(cli, ["score", "list", "--campaign", "demo_insurance", "--db", db])
    assert "yes" in listed.output
    # a new lead is now scored by the model, with its top features kept
    app = make_app(f"sqlite:///{db}")
    with app.uow() as uow:
        src = uow.session.scalar(select(m.Source).where(m.Source.key == "hist"))
        assert src is not None
        res = ingest_lead(uow, src, {"first_name": "Nia", "phone": "+14155550123",
                                     "product": "life", "homeowner": True,
                                     "company_size": 500, "email": "nia@acme.com"},
                          app.clock() + timedelta(days=2))
    with app.reader() as uow:
        lead = uow.session.get(m.Lead, res.lead_id)
        assert lead is not None and lead.score is not None and 0 <= lead.score <= 100
        assert lead.score_explanation, "top contributing features are kept"
    app.close()


def test_score_train_without_enough_outcomes_says_so(tmp_path: Path) -> None:
    db = str(tmp_path / "few.db")
    seed_history(db, tmp_path, 20)
    r = runner.invoke(cli, ["score", "train", "--campaign", "demo_insurance", "--db", db])
    assert r.exit_code == 2
    assert "outcomes" in r.output
