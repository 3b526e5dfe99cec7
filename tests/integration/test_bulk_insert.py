"""store.bulk writes rows exactly as SQLAlchemy would, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from leadgate.bootstrap import App
from leadgate.store import models as m
from leadgate.store.bulk import insert_rows

IST = timezone(timedelta(hours=5, minutes=30))


def lead_row(campaign: int, source: int, i: int) -> dict[str, object]:
    return {
        "campaign_id": campaign, "source_id": source, "status": "assigned",
        "values": {"first_name": "Zoë", "n": i, "nested": {"a": [1, 2.5, None, True]}},
        "raw": {"first_name": "Zoë\u2019s"}, "reasons": [], "checks": [{"code": "x"}],
        "enrichment": {}, "consent": {}, "score": 0.125, "grade": "A",
        "score_explanation": [], "assignee_id": None, "queue": None, "flow_key": None,
        "flow_version": None, "decision": None, "duplicate_of_id": None, "via": "api",
        "created_at": datetime(2026, 11, 23, 15, 30, 1, 123456, tzinfo=IST),
        "assigned_at": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    }


def as_read(lead: m.Lead) -> dict[str, object]:
    return {c: getattr(lead, c) for c in lead_row(0, 0, 0) if c not in ("campaign_id",
                                                                           "source_id")}


def test_bulk_rows_read_back_as_sqlalchemy_rows(workspace: App) -> None:
    with workspace.uow() as uow:
        s = uow.session
        campaign = s.scalar(select(m.Campaign.id))
        source = s.scalar(select(m.Source.id))
        assert campaign is not None and source is not None
        rows = [lead_row(campaign, source, i) for i in range(3)]
        ids = insert_rows(s, m.Lead.__table__, rows, ids=True)
        (ref,) = s.execute(insert(m.Lead).returning(m.Lead.id), [lead_row(campaign, source, 0)]
                           ).scalars().all()
        uow.commit()
    assert ids == sorted(ids) and len(set(ids)) == 3
    with workspace.reader() as uow:
        got = {lead.id: lead for lead in uow.session.scalars(select(m.Lead))}
        bulk = [as_read(got[i]) for i in ids]
        plain = as_read(got[ref])
    assert bulk[0] == plain
    assert [b["values"]["n"] for b in bulk] == [0, 1, 2]  # type: ignore[index]
    assert bulk[0]["created_at"] == datetime(2026, 11, 23, 10, 0, 1, 123456, tzinfo=UTC)


@pytest.mark.postgres
def test_array_parameters_reach_postgresql_exactly(pg_url: str) -> None:
    from sqlalchemy import create_engine

    from leadgate.store.bulk import pg_ids, pg_texts

    texts = ["email:a@example.com", 'quote"d', "back\\slash", "comma,{brace}", "Zoë ✓",
             "", "NULL", "phone:+919812345678"]
    ids = [1, -9223372036854775808, 9223372036854775807, 42]
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as c:
            got = c.exec_driver_sql(
                "SELECT array_agg(t ORDER BY o) FROM jsonb_array_elements_text(%s::jsonb) "
                "WITH ORDINALITY AS q(t, o)", (pg_texts(texts),)).scalar()
            assert got == texts
            assert c.exec_driver_sql("SELECT %s::bigint[]", (pg_ids(ids),)).scalar() == ids
            assert c.exec_driver_sql("SELECT cardinality(%s::bigint[])",
                                     (pg_ids([]),)).scalar() == 0
            assert c.exec_driver_sql("SELECT count(*) FROM jsonb_array_elements_text(%s::jsonb)",
                                     (pg_texts([]),)).scalar() == 0
    finally:
        engine.dispose()
