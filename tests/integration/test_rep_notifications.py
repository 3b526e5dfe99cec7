"""Notifications to reps: an offer email with an accept link (confirmed by a POST, never
by the GET a mail scanner makes), signed webhooks to the rep and the team, a mail
server that is down (routing goes on, the notification is retried), preferences off,
and who may change them. Real aiosmtpd SMTP server and local HTTP receiver; SQLite
and PostgreSQL (``db_url``)."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from tests.conftest import FakeClock, apply_setup, create_users
from tests.e2e.servers import free_port
from tests.integration.workloop import PUSH, SHOTGUN, events, holder, post
from tests.receivers import http_receiver

from leadgate.api.app import create_app
from leadgate.bootstrap import App, bootstrap
from leadgate.config import Settings
from leadgate.delivery.signing import new_secret
from leadgate.services import configure, deliveries, jobs, offers
from leadgate.services.principal import Principal
from leadgate.store import models as m

PHONE_DIGITS = "97"  # every test lead's phone is +91 97xxxxxxxx


# --- fixtures ----------------------------------------------------------------------------
class Mailbox:
    def __init__(self, port: int) -> None:
        self.port = port
        self.got: list[Any] = []

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.content, policy=email.policy.default)  # type: ignore[misc]
                for e in self.got]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox(free_port())

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.got.append(envelope)
            return "250 OK"

    ctl = Controller(Sink(), hostname="127.0.0.1", port=box.port)
    ctl.start()
    try:
        yield box
    finally:
        ctl.stop()


def make(db_url: str, clock: FakeClock, smtp_port: int) -> App:
    return bootstrap(Settings(database_url=db_url, environment="test", embedded_worker=False,
                              pool_size=5, notify_smtp_host="127.0.0.1",
                              notify_smtp_port=smtp_port, notify_email_from="leads@example.com",
                              public_url="http://testserver"),
                     clock=clock, migrate=True)


@pytest.fixture
def app_mail(db_url: str, clock: FakeClock, mailbox: Mailbox) -> Iterator[App]:
    a = make(db_url, clock, mailbox.port)
    yield a
    a.close()


@pytest.fixture(autouse=True)
def _no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliveries, "rand", lambda: 0.5)


def with_notify(setup: str, **notify: str) -> str:
    """``setup`` with agents a1..a4 given emails and the ``notify:`` mappings given."""
    for i in range(1, 5):
        key = f"a{i}"
        extra = f", notify: {notify[key]}" if key in notify else ""
        names = {1: "One", 2: "Two", 3: "Three", 4: "Four"}
        setup = setup.replace(
            f"  - {{key: {key}, name: Agent {names[i]}, teams: [mumbai]}}",
            f"  - {{key: {key}, name: Agent {names[i]}, email: {key}@example.com, "
            f"teams: [mumbai]{extra}}}")
    return setup


def drain(app: App) -> int:
    return jobs.drain(app.uow, app.clock)


def notifications_of(app: App, lead_id: int) -> list[dict[str, Any]]:
    with app.reader() as uow:
        rows = deliveries.list_deliveries(uow, lead_id=lead_id)
        return [deliveries.get_delivery(uow, r["id"]) for r in rows
                if r["destination"].startswith("notify:")]


def body_of(msg: email.message.EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def accept_link(msg: email.message.EmailMessage) -> str:
    found = re.search(r"http://testserver(/console/offer-link\?t=\S+)", body_of(msg))
    assert found, body_of(msg)
    return found.group(1)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def token_of(path: str) -> str:
    return urlsplit(path).query.removeprefix("t=")


def offer_status(app: App, lead_id: int, agent: str) -> str:
    with app.reader() as uow:
        return str(uow.session.scalar(
            select(m.Offer.status).join(m.Agent, m.Agent.id == m.Offer.agent_id)
            .where(m.Offer.lead_id == lead_id, m.Agent.key == agent)
            .order_by(m.Offer.id.desc()).limit(1)))


# --- email and the accept link -----------------------------------------------------------
def test_offer_email_link_shows_a_confirmation_page_and_the_post_accepts(
        app_mail: App, mailbox: Mailbox) -> None:
    apply_setup(app_mail, with_notify(PUSH, a1="{email: true}"))
    lead = post(app_mail)
    assert holder(app_mail, lead) == ("offered", "a1", None)
    assert mailbox.got == []  # queued in the lead's transaction, sent by the worker
    drain(app_mail)

    [msg] = mailbox.messages()
    assert msg["To"] == "a1@example.com" and msg["From"] == "leads@example.com"
    assert msg["Subject"].startswith(f"Lead #{lead} (insurance) is offered to you until ")
    text = body_of(msg)
    assert "Hello Agent One" in text and "2026-11-23 10:05 UTC" in text
    assert "+91" not in text and "Lead Lead" not in text  # no phone, no name before accepting
    [note] = notifications_of(app_mail, lead)
    assert (note["destination"], note["status"], note["attempts"]) == \
        ("notify:email", "accepted", 1)
    assert note["notice"] == {"event": "offered", "agent_id": note["notice"]["agent_id"],
                              "agent": "a1", "round": 1}
    assert ("notified", "notify:email") in [(t, d.get("destination"))
                                             for t, d in events(app_mail, lead)]
    # the stored attempt keeps the message but not the token that accepts the offer
    path = accept_link(msg)
    assert token_of(path) not in str(note["attempt_log"])
    assert "offer-link?t=***" in note["attempt_log"][0]["request"]["body"]

    with TestClient(create_app(app=app_mail, worker=False)) as client:
        page = client.get(path)
        assert page.status_code == 200, page.text
        assert "Accept this lead" in page.text and "no-store" in page.headers["cache-control"]
        assert offer_status(app_mail, lead, "a1") == "offered"  # a GET accepts nothing
        assert holder(app_mail, lead) == ("offered", "a1", None)

        done = client.post("/console/offer-link",
                           data={"t": token_of(path), "csrf_token": csrf_of(page.text)})
        assert done.status_code == 200, done.text
        assert f"Lead #{lead} is yours" in done.text
        assert holder(app_mail, lead) == ("assigned", "a1", None)
        assert offer_status(app_mail, lead, "a1") == "accepted"

        again = client.post("/console/offer-link",
                            data={"t": token_of(path), "csrf_token": csrf_of(page.text)})
        assert again.status_code == 409 and "can no longer be accepted" in again.text
        assert "already accepted" in client.get(path).text


def test_forged_and_expired_links_are_refused(app_mail: App, mailbox: Mailbox) -> None:
    clock: FakeClock = app_mail.clock  # type: ignore[assignment]
    apply_setup(app_mail, with_notify(PUSH, a1="{email: true}"))
    lead = post(app_mail)
    drain(app_mail)
    path = accept_link(mailbox.messages()[0])
    token = token_of(path)
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    with TestClient(create_app(app=app_mail, worker=False)) as client:
        csrf = csrf_of(client.get(path).text)
        for bad in (forged, "", "nonsense"):
            page = client.get(f"/console/offer-link?t={bad}")
            assert page.status_code == 400 and "this link is not valid" in page.text
            refused = client.post("/console/offer-link", data={"t": bad, "csrf_token": csrf})
            assert refused.status_code == 400 and "not valid" in refused.text
        # the POST needs the console's CSRF token as well as the link's
        assert client.post("/console/offer-link", data={"t": token}).status_code == 403
        assert holder(app_mail, lead) == ("offered", "a1", None)

        clock.advance(minutes=5, seconds=1)
        page = client.get(path)
        assert page.status_code == 400 and "this link expired with the offer at " \
            "2026-11-23 10:05 UTC" in page.text
        late = client.post("/console/offer-link", data={"t": token, "csrf_token": csrf})
        assert late.status_code == 400 and "expired" in late.text
    assert offer_status(app_mail, lead, "a1") == "offered"  # the timer bounces it, not us


def test_a_shotgun_link_says_already_taken_once_someone_claimed(
        app_mail: App, mailbox: Mailbox) -> None:
    prefs = "{email: true, events: [claimable]}"
    apply_setup(app_mail, with_notify(SHOTGUN, a1=prefs, a2=prefs))
    lead = post(app_mail)
    drain(app_mail)
    mails = {str(msg["To"]): msg for msg in mailbox.messages()}
    assert sorted(mails) == ["a1@example.com", "a2@example.com"]
    assert "up for grabs" in mails["a1@example.com"]["Subject"]
    with TestClient(create_app(app=app_mail, worker=False)) as client:
        path1 = accept_link(mails["a1@example.com"])
        page = client.get(path1)
        assert "Accept this lead" in page.text
        with app_mail.uow() as uow:  # a2 claims it from the console first
            a2 = uow.session.scalar(select(m.Agent.id).where(m.Agent.key == "a2"))
            offers.claim(uow, Principal(kind="user", name="a2", role="agent", user_id=2,
                                        agent_id=a2), lead, app_mail.clock())
            uow.commit()
        assert "Already taken" in client.get(path1).text
        late = client.post("/console/offer-link",
                           data={"t": token_of(path1), "csrf_token": csrf_of(page.text)})
        assert late.status_code == 409 and "already taken by someone else" in late.text
    assert holder(app_mail, lead) == ("assigned", "a2", None)


def test_each_bounce_round_emails_the_next_rep(app_mail: App, mailbox: Mailbox) -> None:
    clock: FakeClock = app_mail.clock  # type: ignore[assignment]
    setup = with_notify(PUSH, a1="{email: true}", a2="{email: a2.inbox@example.com}")
    apply_setup(app_mail, setup.replace("email: a2@example.com,",
                                        "email: a2@example.com, timezone: Asia/Kolkata,"))
    lead = post(app_mail)
    drain(app_mail)
    clock.advance(minutes=5)
    drain(app_mail)  # a1's deadline: the lead bounces to a2, whose email is queued with it
    assert holder(app_mail, lead) == ("offered", "a2", None)
    assert [str(x["To"]) for x in mailbox.messages()] == ["a1@example.com",
                                                          "a2.inbox@example.com"]
    # the deadline as the rep reads it: in their time zone
    assert str(mailbox.messages()[1]["Subject"]).endswith("until 2026-11-23 15:40 IST")


def test_a_decline_and_a_manager_reassignment_are_announced(app_mail: App,
                                                             mailbox: Mailbox) -> None:
    from leadgate.services import reassign

    apply_setup(app_mail, with_notify(PUSH, a1="{email: true}", a2="{email: true}",
                                      a3="{email: true}"))
    lead = post(app_mail)
    with app_mail.uow() as uow:  # a1 declines: the next round is a2's, queued with it
        offers.decline(uow, Principal(kind="user", name="a1", role="agent", user_id=1,
                                      agent_id=_agent_id(app_mail, "a1")),
                       _open_offer(app_mail, lead), app_mail.clock(), reason="busy")
        uow.commit()
    with app_mail.uow() as uow:  # then a manager gives it to a3 outright
        reassign.reassign(uow, Principal(kind="user", name="boss", role="manager",
                                         user_id=99), lead, app_mail.clock(), agent="a3",
                          reason="vip")
        uow.commit()
    drain(app_mail)
    # a1's offer and a2's were closed before the worker came: they are not sent
    assert [str(x["Subject"]) for x in mailbox.messages()] == [
        f"Lead #{lead} (insurance) is assigned to you"]
    assert str(mailbox.messages()[0]["To"]) == "a3@example.com"
    notes = {(n["notice"]["agent"], n["notice"]["event"]): n["status"]
             for n in notifications_of(app_mail, lead)}
    assert notes == {("a1", "offered"): "skipped", ("a2", "offered"): "skipped",
                     ("a3", "assigned"): "accepted"}


# --- webhooks ------------------------------------------------------------------------------
def test_rep_and_team_webhooks_are_signed_with_standard_webhooks(
        app_mail: App, mailbox: Mailbox) -> None:
    rep_secret, team_secret = new_secret(), new_secret()
    with http_receiver() as rx:
        setup = with_notify(PUSH, a1=f"{{webhook: {{url: '{rx.url}/ana', "
                                     f"secret: '{rep_secret}'}}}}")
        setup = setup.replace("  - {key: mumbai, name: Mumbai desk}",
                              f"  - {{key: mumbai, name: Mumbai desk, notify: "
                              f"{{webhook: {{url: '{rx.url}/team', secret: '{team_secret}'}}, "
                              "events: [offered]}}")
        apply_setup(app_mail, setup)
        lead = post(app_mail)
        drain(app_mail)
    assert mailbox.got == []  # a1 asked for a webhook only
    got = {r.path: r for r in rx.requests}
    assert sorted(got) == ["/ana", "/team"]
    for path, secret in (("/ana", rep_secret), ("/team", team_secret)):
        r = got[path]
        event = Webhook(secret).verify(r.body, r.headers)  # raises when the signature is bad
        assert event["type"] == "lead.offered"
        assert event["data"]["lead"]["id"] == lead
        assert event["data"]["offer"]["deadline"] == "2026-11-23T10:05:00+00:00"
        assert PHONE_DIGITS + "0" not in r.body.decode()
    assert got["/ana"].json()["data"]["accept_url"].startswith(
        "http://testserver/console/offer-link?t=")
    assert "accept_url" not in got["/team"].json()["data"]  # a channel link would act for a1
    assert got["/team"].json()["data"]["agents"] == ["a1"]
    assert "id" not in got["/team"].json()["data"]["offer"]
    assert got["/ana"].json()["data"]["offer"]["id"] > 0
    with pytest.raises(Exception):  # noqa: B017  (the library's own verification error)
        Webhook(new_secret()).verify(got["/ana"].body, got["/ana"].headers)


# --- failures never reach routing ----------------------------------------------------------
def test_a_mail_server_that_is_down_never_blocks_routing_and_is_retried(
        db_url: str, clock: FakeClock) -> None:
    app = make(db_url, clock, free_port())  # nothing listens there
    try:
        apply_setup(app, with_notify(PUSH, a1="{email: true}"))
        lead = post(app)  # no exception reaches capture
        assert holder(app, lead) == ("offered", "a1", None)
        drain(app)
        [note] = notifications_of(app, lead)
        assert (note["status"], note["attempts"]) == ("pending", 1)
        [attempt] = note["attempt_log"]
        assert attempt["outcome"] == "error" and attempt["retryable"]
        assert "Connection refused" in attempt["reason"] or "Errno" in attempt["reason"]
        clock.advance(seconds=60)
        drain(app)
        [note] = notifications_of(app, lead)
        assert note["attempts"] == 2 and len(note["attempt_log"]) == 2
        assert holder(app, lead) == ("offered", "a1", None)
        # the rep answers meanwhile: the next try finds the offer closed and says nothing
        with app.uow() as uow:
            offers.accept(uow, Principal(kind="user", name="a1", role="agent", user_id=1,
                                         agent_id=_agent_id(app, "a1")),
                          _open_offer(app, lead), clock())
            uow.commit()
        clock.advance(minutes=10)
        drain(app)
        [note] = notifications_of(app, lead)
        assert note["status"] == "skipped" and note["reason"] == "the offer is no longer open"
        assert holder(app, lead) == ("assigned", "a1", None)
    finally:
        app.close()


def _agent_id(app: App, key: str) -> int:
    with app.reader() as uow:
        return int(uow.session.scalar(select(m.Agent.id).where(m.Agent.key == key)) or 0)


def _open_offer(app: App, lead_id: int) -> int:
    with app.reader() as uow:
        return int(uow.session.scalar(select(m.Offer.id).where(
            m.Offer.lead_id == lead_id, m.Offer.status == "offered")) or 0)


def test_without_preferences_nothing_is_queued_or_sent(app_mail: App,
                                                       mailbox: Mailbox) -> None:
    apply_setup(app_mail, with_notify(PUSH, a2="{email: true}",
                                      a1="{email: true, events: [assigned]}"))
    lead = post(app_mail)  # offered to a1, who only wants assignments
    drain(app_mail)
    assert notifications_of(app_mail, lead) == [] and mailbox.got == []
    apply_setup(app_mail, with_notify(PUSH, a1="null", a2="null"))
    with app_mail.reader() as uow:
        assert uow.session.scalars(select(m.Agent.notify)).all() == [None] * 5
    lead = post(app_mail, city="Delhi")
    drain(app_mail)
    assert notifications_of(app_mail, lead) == [] and mailbox.got == []


def test_assigned_leads_are_announced_with_a_console_link(app_mail: App,
                                                          mailbox: Mailbox) -> None:
    from tests.conftest import SETUP

    apply_setup(app_mail, with_notify(SETUP, a1="{email: true}"))
    lead = post(app_mail)  # round robin without a deadline: assigned to a1 at once
    assert holder(app_mail, lead) == ("assigned", "a1", None)
    drain(app_mail)
    [msg] = mailbox.messages()
    assert msg["Subject"] == f"Lead #{lead} (insurance) is assigned to you"
    assert f"http://testserver/console/leads/{lead}" in body_of(msg)
    assert "offer-link" not in body_of(msg)


# --- preferences: config as code and the API ----------------------------------------------
def test_a_rep_may_change_only_their_own_preferences(app_mail: App) -> None:
    from tests.conftest import SETUP

    apply_setup(app_mail, SETUP)
    tokens = create_users(app_mail)
    rep = {"Authorization": f"Bearer {tokens['a1']}"}
    boss = {"Authorization": f"Bearer {tokens['manager']}"}
    with TestClient(create_app(app=app_mail, worker=False)) as client:
        r = client.get("/v1/agents/a1/notifications", headers=rep)
        assert r.status_code == 200
        assert r.json() == {"agent": "a1", "email": False, "webhook": None,
                            "events": ["offered", "assigned"],
                            "email_address": "a1@example.com", "configured": False}
        r = client.put("/v1/agents/a1/notifications", headers=rep,
                       json={"email": True, "webhook": "https://chat.example/hooks/a1",
                             "events": ["offered", "claimable"]})
        assert r.status_code == 200, r.text
        mine = r.json()
        assert mine["email"] is True and mine["events"] == ["offered", "claimable"]
        secret = mine["webhook"]["secret"]
        assert secret.startswith("whsec_")  # made for them, shown to them
        # the same again keeps the secret (it is theirs until they give another)
        r = client.put("/v1/agents/a1/notifications", headers=rep,
                       json={"email": "me@example.org",
                             "webhook": "https://chat.example/hooks/a1"})
        assert r.json()["webhook"]["secret"] == secret
        assert r.json()["email_address"] == "me@example.org"

        for method in ("get", "put"):
            r = client.request(method, "/v1/agents/a2/notifications", headers=rep,
                               json={"email": True} if method == "put" else None)
            assert r.status_code == 403, r.text
            assert r.json()["code"] == "forbidden"
        r = client.put("/v1/agents/a2/notifications", headers=boss, json={"email": True})
        assert r.status_code == 200 and r.json()["email"] is True
        assert client.get("/v1/agents/a2/notifications",
                          headers=boss).json()["configured"] is True

        r = client.put("/v1/agents/a1/notifications", headers=rep,
                       json={"email": "not an address", "events": ["offered"]})
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "notify.email"
        r = client.put("/v1/agents/a1/notifications", headers=rep, json={"events": ["sold"]})
        assert r.status_code == 422
        doc = client.get("/openapi.json").json()
        assert {"get", "put"} <= set(doc["paths"]["/v1/agents/{key}/notifications"])


def test_notify_in_the_setup_file_round_trips_with_its_secret_hidden(app_mail: App) -> None:
    secret = new_secret()
    apply_setup(app_mail, with_notify(
        PUSH, a1=f"{{email: true, webhook: {{url: 'https://hooks.example/a1', "
                 f"secret: '{secret}'}}, events: [offered, claimable, assigned]}}"))
    with app_mail.uow() as uow:
        doc = configure.export(uow)
    [a1] = [a for a in doc["agents"] if a["key"] == "a1"]
    assert a1["notify"] == {"email": True, "events": ["offered", "claimable", "assigned"],
                            "webhook": {"url": "https://hooks.example/a1", "secret": "***"}}
    data, lines = configure.load_yaml(configure.dump_yaml(doc))
    with app_mail.uow() as uow:
        report = configure.apply(uow, data, app_mail.clock(), lines=lines)
    assert report.changed == 0
    with app_mail.reader() as uow:
        stored = uow.session.scalar(select(m.Agent.notify).where(m.Agent.key == "a1"))
    assert stored["webhook"]["secret"] == secret
    # a bad notify: is refused with its path and line, like any other key
    from leadgate.domain.errors import InvalidConfig

    with pytest.raises(InvalidConfig) as err:
        apply_setup(app_mail, with_notify(PUSH, a2="{email: true, events: [sold]}"))
    assert "agents[2].notify.events[0]" in str(err.value)


def test_capture_writes_a_batchs_notifications_in_one_more_statement(app_mail: App) -> None:
    """With preferences, the notifications of a batch cost no statement on PostgreSQL
    (their deliveries and jobs join the batch's one write statement) and one INSERT per
    table on SQLite (no round trips there: deliveries and jobs); without, nothing (see
    test_hot_path.py)."""
    from tests.conftest import SETUP
    from tests.integration.test_hot_path import post_counted, shape

    apply_setup(app_mail, SETUP)
    with TestClient(create_app(app=app_mail, worker=False)) as client:
        post_counted(app_mail, client, 1)  # warm the configuration cache
        without = post_counted(app_mail, client, 2)
        apply_setup(app_mail, with_notify(SETUP, a1="{email: true}", a2="{email: true}",
                                          a3="{email: true}", a4="{email: true}"))
        post_counted(app_mail, client, 3)  # the new preferences are read once
        with_prefs = post_counted(app_mail, client, 4)
    written = [x for x in with_prefs if "INSERT INTO leads" in x]
    # in the transaction (after it, PostgreSQL wakes the workers: the batch queued jobs)
    without, with_prefs = ([x for x in stmts if "NOTIFY" not in x.upper()]
                           for stmts in (without, with_prefs))
    extra = [s for s in shape(with_prefs) if s not in shape(without)]
    pg = app_mail.engine.dialect.name == "postgresql"
    assert len(with_prefs) == len(without) + (0 if pg else 2), extra
    if pg:
        (write,) = written
        assert "INSERT INTO deliveries" in write and "INSERT INTO jobs" in write
    else:
        assert sorted(x.split(" (")[0] for x in extra) == \
            ["INSERT INTO deliveries", "INSERT INTO jobs"]
