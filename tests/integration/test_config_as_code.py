"""Config as code: apply validates the whole file, is idempotent, and export
round-trips."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from tests.conftest import SETUP, apply_setup

from leadgate.bootstrap import App
from leadgate.domain.errors import InvalidConfig
from leadgate.services import configure
from leadgate.store import models as m


def test_applying_the_same_file_twice_changes_nothing(app: App) -> None:
    first = apply_setup(app)
    assert first.changed > 0
    second = apply_setup(app)
    assert second.changed == 0
    assert {a for _, _, a in second.changes} == {"unchanged"}
    with app.reader() as uow:
        assert uow.session.scalar(select(func.count()).select_from(m.FlowVersion)) == 1


def test_export_then_apply_is_a_no_op(app: App) -> None:
    apply_setup(app)
    with app.reader() as uow:
        exported = configure.export(uow)
    text = configure.dump_yaml(exported)
    data, lines = configure.load_yaml(text)
    with app.uow() as uow:
        report = configure.apply(uow, data, app.clock(), lines=lines)
    assert report.changed == 0, report.changes
    assert "api_key" not in text


def test_changed_flow_publishes_a_new_version_and_is_audited(app: App) -> None:
    apply_setup(app)
    changed = SETUP.replace("method: round_robin", "method: least_loaded")
    report = apply_setup(app, changed)
    assert ("flow", "insurance", "updated") in report.changes
    with app.reader() as uow:
        flow = uow.session.scalar(select(m.Flow).where(m.Flow.key == "insurance"))
        assert flow is not None and flow.published_version == 2
        actions = set(uow.session.scalars(select(m.AuditEntry.action).where(
            m.AuditEntry.entity == "flow")))
        assert {"created", "updated", "published"} <= actions


def test_bad_file_is_refused_whole_with_lines_and_keys(app: App) -> None:
    bad = SETUP.replace("to: {team: mumbai, method: round_robin}",
                        "to: {team: nowhere, method: round_robin}")
    bad = bad.replace("  - {key: a4, name: Agent Four, teams: [mumbai]}",
                      "  - {key: a4, name: Agent Four, teams: [ghosts]}")
    with pytest.raises(InvalidConfig) as info:
        apply_setup(app, bad)
    paths = [p for p, _ in info.value.errors]
    messages = " ".join(msg for _, msg in info.value.errors)
    assert any(p.startswith("flows[0]") for p in paths)
    assert "agents[3].teams" in paths
    assert "line " in messages
    with app.reader() as uow:  # nothing was written
        assert uow.session.scalar(select(func.count()).select_from(m.Campaign)) == 0
        assert uow.session.scalar(select(func.count()).select_from(m.Agent)) == 0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("campaigns: [\n  {key: x,\n", "not valid YAML at line"),
        ("- just\n- a list\n", "must be a mapping"),
        ("teams:\n  - {key: t}\nsellers: []\n", "unknown section 'sellers'"),
        ("teams:\n  - {key: t}\n  - {key: t}\n", "duplicate key 't'"),
        ("sources:\n  - {key: s, campaign: nope}\n", "unknown campaign 'nope'"),
    ],
)
def test_config_errors_are_precise(app: App, text: str, needle: str) -> None:
    with pytest.raises(InvalidConfig) as info:
        data, lines = configure.load_yaml(text)
        with app.uow() as uow:
            configure.apply(uow, data, app.clock(), lines=lines)
    assert needle in str(info.value) + " ".join(m for _, m in info.value.errors)


def test_new_source_gets_a_key_shown_once_and_stored_hashed(app: App) -> None:
    apply_setup(app)
    data, _ = configure.load_yaml(SETUP)
    data["sources"].append({"key": "fresh", "name": "Fresh", "campaign": "insurance"})
    with app.uow() as uow:
        report = configure.apply(uow, data, app.clock())
    secret = report.source_keys["fresh"]
    assert secret.startswith("lg_src_")
    with app.reader() as uow:
        src = uow.session.scalar(select(m.Source).where(m.Source.key == "fresh"))
        assert src is not None
        assert src.api_key_hash != secret and secret not in (src.api_key_prefix or "x" * 99)
        assert secret.startswith(src.api_key_prefix or "")
