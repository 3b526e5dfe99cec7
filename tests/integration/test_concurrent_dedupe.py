"""Two copies of one lead posted at the same instant give exactly one accepted
lead, the other refused as its duplicate — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import select

from leadgate.bootstrap import App
from leadgate.services.ingest import IngestResult, ingest_lead
from leadgate.store import models as m


def post_together(app: App, payloads: list[dict[str, str]]) -> list[IngestResult]:
    barrier = threading.Barrier(len(payloads), timeout=30)
    results: list[IngestResult | BaseException] = [RuntimeError("not run")] * len(payloads)
    with app.reader() as uow:
        source_id = uow.session.scalar(select(m.Source.id).where(m.Source.key == "website"))

    def run(i: int) -> None:
        try:
            barrier.wait()  # all start their transaction at the same instant
            with app.uow() as uow:
                src = uow.session.get(m.Source, source_id)
                assert src is not None
                results[i] = ingest_lead(uow, src, payloads[i], app.clock())
        except BaseException as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(payloads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results  # type: ignore[return-value]


def test_simultaneous_copies_give_exactly_one_accepted_lead(workspace: App) -> None:
    for round_ in range(15):
        phone = f"+91 98765 {round_:05d}"
        same = {"first_name": "Asha", "phone": phone, "city": "Mumbai", "product": "health"}
        # the second copy differs only in case and formatting: still the same person
        other = {**same, "first_name": "ASHA", "phone": phone.replace(" ", "")}
        results = post_together(workspace, [same, other, dict(same)])
        codes = Counter(r.status_code for r in results)
        assert codes == {201: 1, 422: 2}, [r.body for r in results]
        winner = next(r for r in results if r.status_code == 201)
        for loser in (r for r in results if r.status_code == 422):
            assert loser.body["reasons"][0]["code"] == "duplicate"
            with workspace.reader() as uow:
                lead = uow.session.get(m.Lead, loser.lead_id)
                assert lead is not None and lead.duplicate_of_id == winner.lead_id


def test_simultaneous_copies_matched_on_email_key_too(workspace: App) -> None:
    a = {"first_name": "Ravi", "phone": "+91 98111 00001", "email": "Ravi@Example.com",
         "city": "Mumbai"}
    b = {"first_name": "Ravi", "phone": "+91 98111 00002", "email": "ravi@example.com",
         "city": "Mumbai"}
    results = post_together(workspace, [a, b])
    assert sorted(r.status_code for r in results) == [201, 422]
