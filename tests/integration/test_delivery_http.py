"""HTTP delivery end to end: a flow's deliver: queues deliveries in the lead's
transaction; the worker sends them to a real local receiver, retries on the
published schedule, records every attempt and dead-letters what keeps failing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from tests.conftest import SETUP, FakeClock, apply_setup
from tests.receivers import Received, http_receiver

from leadgate.bootstrap import App
from leadgate.delivery.signing import new_secret
from leadgate.services import deliveries, jobs
from leadgate.services.ingest import ingest_lead
from leadgate.store import models as m

LEAD = {"first_name": "Asha", "last_name": "Rao", "phone": "+91 98123 45678",
        "email": "asha@example.com", "city": "Mumbai", "product": "health"}


def with_delivery(dest_yaml: str, deliver: str = "[hook]") -> str:
    """The test setup plus destinations and a deliver: on the Mumbai rule."""
    text = SETUP.replace("flows:\n", f"destinations:\n{dest_yaml}\nflows:\n")
    return text.replace("        to: {team: mumbai, method: round_robin}\n",
                        "        to: {team: mumbai, method: round_robin}\n"
                        f"        deliver: {deliver}\n")


def submit(app: App, payload: dict[str, Any] | None = None) -> int:
    """Capture through the batched path (services/capture.py), a batch of one."""
    with app.uow() as uow:
        source = uow.session.scalar(select(m.Source).where(m.Source.key == "website"))
        assert source is not None
        res = ingest_lead(uow, source, payload or LEAD, app.clock())
    assert res.status_code == 201, res.body
    assert res.lead_id is not None
    return res.lead_id


def deliveries_of(app: App, lead_id: int) -> list[dict[str, Any]]:
    with app.reader() as uow:
        rows = deliveries.list_deliveries(uow, lead_id=lead_id)
        return [deliveries.get_delivery(uow, r["id"]) for r in rows]


@pytest.fixture(autouse=True)
def _no_jitter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(deliveries, "rand", lambda: 0.5)
    yield


def test_receiver_failing_twice_gets_one_accepted_delivery_after_backoff(
        app: App, clock: FakeClock) -> None:
    calls: list[Received] = []

    def answer(r: Received) -> tuple[int, Any]:
        calls.append(r)
        return (503, "busy") if len(calls) <= 2 else (201, {"id": "ext-7", "price": "12.5"})

    with http_receiver(answer) as rx:
        apply_setup(app, with_delivery(
            f"  - {{key: hook, kind: http, url: '{rx.url}/leads', "
            "retry: {schedule: [10s, 60s]}, "
            "response: {external_id: {json: id}, price: {json: price}}}"))
        lead_id = submit(app)
        [queued] = deliveries_of(app, lead_id)
        assert queued["status"] == "pending" and queued["destination"] == "hook"

        jobs.drain(app.uow, app.clock)
        [d] = deliveries_of(app, lead_id)
        assert (d["status"], d["attempts"]) == ("pending", 1)
        assert d["next_attempt_at"] == (clock.now.replace(microsecond=0)
                                        + __import__("datetime").timedelta(seconds=10)
                                        ).isoformat()
        jobs.drain(app.uow, app.clock)
        assert len(calls) == 1  # not due yet
        clock.advance(seconds=10)
        jobs.drain(app.uow, app.clock)
        assert deliveries_of(app, lead_id)[0]["status"] == "pending"
        clock.advance(seconds=59)
        jobs.drain(app.uow, app.clock)
        assert len(calls) == 2  # the second wait is 60 s
        clock.advance(seconds=1)
        jobs.drain(app.uow, app.clock)
        clock.advance(hours=5)
        jobs.drain(app.uow, app.clock)

    [d] = deliveries_of(app, lead_id)
    assert d["status"] == "accepted"
    assert (d["external_id"], d["price"]) == ("ext-7", 12.5)
    assert [a["outcome"] for a in d["attempt_log"]] == ["error", "error", "accepted"]
    assert [a["response"]["status"] for a in d["attempt_log"]] == [503, 503, 201]
    assert len(calls) == 3
    keys = {c.headers["Idempotency-Key"] for c in calls}
    assert keys == {d["idempotency_key"]}  # the same id on every attempt
    assert calls[0].json()["first_name"] == "Asha"
    with app.reader() as uow:
        types = [e.type for e in uow.session.scalars(
            select(m.LeadEvent).where(m.LeadEvent.lead_id == lead_id))]
    assert "delivered" in types


def test_permanent_rejection_is_not_retried_and_person_can_retry(app: App,
                                                                 clock: FakeClock) -> None:
    answers = iter([(400, {"error": "bad phone"}), (200, {"ok": True})])
    with http_receiver(lambda r: next(answers)) as rx:
        apply_setup(app, with_delivery(f"  - {{key: hook, kind: http, url: '{rx.url}/x'}}"))
        lead_id = submit(app)
        jobs.drain(app.uow, app.clock)
        [d] = deliveries_of(app, lead_id)
        assert d["status"] == "rejected" and "bad phone" in d["reason"], d
        clock.advance(hours=10)
        assert jobs.drain(app.uow, app.clock) == 0
        with app.uow() as uow:
            deliveries.retry(uow, d["id"], clock.now, actor="boss@example.com")
            uow.commit()
        jobs.drain(app.uow, app.clock)
    [d] = deliveries_of(app, lead_id)
    assert d["status"] == "accepted" and len(d["attempt_log"]) == 2


def test_attempts_used_up_end_dead_and_discard_stops_it(app: App, clock: FakeClock) -> None:
    with http_receiver(lambda r: (500, "down")) as rx:
        apply_setup(app, with_delivery(
            f"  - {{key: hook, kind: http, url: '{rx.url}/x', "
            "retry: {max_attempts: 3, schedule: [1s]}}"))
        lead_id = submit(app)
        for _ in range(6):
            jobs.drain(app.uow, app.clock)
            clock.advance(seconds=5)
        [d] = deliveries_of(app, lead_id)
        assert (d["status"], d["attempts"]) == ("dead", 3)
        assert len(rx.requests) == 3
        with app.uow() as uow:
            deliveries.discard(uow, d["id"], clock.now, actor="boss@example.com")
            uow.commit()
    assert deliveries_of(app, lead_id)[0]["status"] == "discarded"


def test_signature_verifies_with_the_reference_library_and_secrets_are_redacted(
        app: App) -> None:
    new, old = new_secret(), new_secret()
    with http_receiver() as rx:
        apply_setup(app, with_delivery(
            f"  - {{key: hook, kind: http, url: '{rx.url}/x', "
            f"auth: {{type: bearer, token: tok_supersecret_123}}, "
            f"sign: {{secrets: ['{new}', '{old}']}}}}"))
        lead_id = submit(app)
        jobs.drain(app.uow, app.clock)
    [r] = rx.requests
    # a receiver holding either secret verifies (rotation), a stranger does not
    for secret in (new, old):
        assert Webhook(secret).verify(r.body, r.headers)["first_name"] == "Asha"
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(r.body, r.headers)
    assert r.headers["Authorization"] == "Bearer tok_supersecret_123"
    [d] = deliveries_of(app, lead_id)
    assert r.headers["webhook-id"] == d["idempotency_key"]
    stored = json.dumps(d)
    assert "tok_supersecret_123" not in stored
    assert d["attempt_log"][0]["request"]["headers"]["Authorization"] == "***"


def test_form_xml_and_templated_bodies_with_field_mapping(app: App) -> None:
    with http_receiver() as rx:
        apply_setup(app, with_delivery(
            f"  - {{key: hook, kind: http, url: '{rx.url}/form', format: form, "
            "fields: {name: '{{ lead.first_name }} {{ lead.last_name }}', tel: phone, "
            "src: {value: leadgate}}}\n"
            f"  - {{key: xml, kind: http, url: '{rx.url}/xml', format: xml, "
            "fields: {phone: phone}, auth: {type: basic, username: u, password: pw12345}}\n"
            f"  - {{key: tpl, kind: http, url: '{rx.url}/tpl', content_type: text/plain, "
            "body: 'LEAD {{ lead.lead_id }} {{ lead.city | upper }}', "
            "headers: {X-Campaign: '{{ lead.campaign }}'}}",
            deliver="[hook, xml, tpl]"))
        lead_id = submit(app)
        jobs.drain(app.uow, app.clock)
    by_path = {r.path: r for r in rx.requests}
    assert by_path["/form"].body.decode() == (
        "name=Asha+Rao&tel=%2B919812345678&src=leadgate")
    assert by_path["/xml"].body.decode() == "<lead><phone>+919812345678</phone></lead>"
    assert by_path["/xml"].headers["Authorization"].startswith("Basic ")
    assert by_path["/tpl"].body.decode() == f"LEAD {lead_id} MUMBAI"
    assert by_path["/tpl"].headers["X-Campaign"] == "insurance"


def test_first_accepting_stops_at_the_first_acceptance(app: App) -> None:
    with http_receiver(lambda r: (422, "no") if r.path == "/a" else (200, "ok")) as rx:
        apply_setup(app, with_delivery(
            f"  - {{key: a, kind: http, url: '{rx.url}/a'}}\n"
            f"  - {{key: b, kind: http, url: '{rx.url}/b'}}\n"
            f"  - {{key: c, kind: http, url: '{rx.url}/c'}}\n"
            f"  - {{key: d, kind: http, url: '{rx.url}/d'}}",
            deliver="{mode: first_accepting, to: [a, {destination: d, when: {field: city, "
                    "eq: Pune}}, b, c]}"))
        lead_id = submit(app)
        for _ in range(4):
            jobs.drain(app.uow, app.clock)
    status = {d["destination"]: d["status"] for d in deliveries_of(app, lead_id)}
    assert status == {"a": "rejected", "b": "accepted", "c": "skipped"}
    assert [r.path for r in rx.requests] == ["/a", "/b"]


def test_concurrency_limit_defers_beyond_the_limit(app: App, clock: FakeClock) -> None:
    with http_receiver() as rx:
        apply_setup(app, with_delivery(
            f"  - {{key: hook, kind: http, url: '{rx.url}/x', concurrency: 1}}"))
        lead_id = submit(app)
        other = submit(app, {**LEAD, "phone": "+91 98123 45679", "email": "b@example.com"})
        with app.uow() as uow:  # another worker is sending the first one right now
            d = uow.session.scalar(select(m.Delivery).where(m.Delivery.lead_id == lead_id))
            assert d is not None
            d.status, d.sending_until = "sending", clock.now + __import__(
                "datetime").timedelta(seconds=30)
            uow.commit()
        with app.uow() as uow:
            key = uow.session.scalar(select(m.Delivery.idempotency_key)
                                     .where(m.Delivery.lead_id == other))
        with app.uow() as uow:
            assert deliveries.run(uow, str(key), clock.now) == "pending"
        assert rx.requests == []


def test_closing_the_app_closes_kept_alive_delivery_connections(app: App) -> None:
    """App.close() closes the shared HTTP client (no socket left for the garbage
    collector to complain about); the next delivery opens a new client."""
    with http_receiver() as rx:
        apply_setup(app, with_delivery(f"  - {{key: hook, kind: http, url: '{rx.url}/x'}}"))
        submit(app)
        jobs.drain(app.uow, app.clock)
        client = deliveries.http_client()
        assert not client.is_closed
        app.close()
        assert client.is_closed
        assert deliveries.http_client() is not client
