"""Every destination kind against a real local server: SMTP (aiosmtpd), SFTP
(asyncssh, in-process, temp dir, generated host key), fake HubSpot, Salesforce
and Twilio endpoints checking the documented request shapes and answering with
their documented bodies, and a MariaDB table."""

from __future__ import annotations

import asyncio
import csv
import email
import io
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from tests.conftest import SETUP, FakeClock, apply_setup
from tests.integration.test_delivery_http import deliveries_of, submit
from tests.receivers import Received, http_receiver

from leadgate.bootstrap import App
from leadgate.services import deliveries, jobs
from leadgate.store import models as m

MARIADB = "mysql+pymysql://root@127.0.0.1:3306/test"


def setup_with(dest_yaml: str) -> str:
    return SETUP.replace("flows:\n", f"destinations:\n{dest_yaml}\nflows:\n")


def queue(app: App, lead_id: int, dest: str) -> str:
    with app.uow() as uow:
        d = deliveries.queue_direct(uow, lead_id, dest, app.clock())
        uow.commit()
        return d.idempotency_key


# --- email ---------------------------------------------------------------------------
@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    from aiosmtpd.controller import Controller

    got: list[Any] = []

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            got.append(envelope)
            return "250 OK"

    from tests.e2e.servers import free_port

    port = free_port()
    ctl = Controller(Sink(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield port, got
    finally:
        ctl.stop()


def test_email_is_received_by_a_real_smtp_server(app: App, smtp_server: Any) -> None:
    port, got = smtp_server
    apply_setup(app, setup_with(
        f"  - {{key: inbox, kind: email, host: 127.0.0.1, port: {port}, "
        "from: leads@example.com, to: ['sales@example.com'], "
        "subject: 'New lead: {{ lead.first_name }} ({{ lead.city }})', "
        "body: 'Call {{ lead.phone }}'}"))
    lead_id = submit(app)
    key = queue(app, lead_id, "inbox")
    jobs.drain(app.uow, app.clock)
    [env] = got
    assert env.rcpt_tos == ["sales@example.com"]
    content = env.content.decode()
    assert "Subject: New lead: Asha (Mumbai)" in content
    assert "Call +919812345678" in content
    assert f"X-Leadgate-Delivery: {key}" in content
    [d] = deliveries_of(app, lead_id)
    assert d["status"] == "accepted"


def test_email_digest_collects_leads_into_one_message(app: App, smtp_server: Any,
                                                      clock: FakeClock) -> None:
    port, got = smtp_server
    apply_setup(app, setup_with(
        f"  - {{key: digest, kind: email, host: 127.0.0.1, port: {port}, "
        "from: leads@example.com, to: ['sales@example.com'], "
        "digest: {size: 3, every: 1h}, "
        "digest_subject: '{{ leads|length }} new leads from {{ lead.city }}', "
        "body: '{{ lead.first_name }}: {{ lead.phone }}'}"))
    names = ["Anil", "Bina", "Chitra", "Dev"]
    ids = [submit(app, {"first_name": names[i], "phone": f"+91 98123 4567{i}",
                        "city": "Pune"}) for i in range(4)]
    keys = [queue(app, lead_id, "digest") for lead_id in ids]
    jobs.drain(app.uow, app.clock)
    [env] = got  # 3 made a digest; the 4th waits for more or for an hour
    content = env.content.decode()
    assert "Subject: 3 new leads from Pune" in content
    for i in range(3):
        assert f"{names[i]}: +91981234567{i}" in content
    assert "Dev" not in content
    header = email.message_from_bytes(env.content)["X-Leadgate-Delivery"]
    assert " ".join(str(header).split()) == " ".join(keys[:3])  # long headers fold
    assert deliveries_of(app, ids[3])[0]["status"] == "waiting"
    clock.advance(hours=1, seconds=1)
    jobs.drain(app.uow, app.clock)
    assert len(got) == 2
    assert "Subject: 1 new leads from Pune" in got[1].content.decode()
    assert [deliveries_of(app, i)[0]["status"] for i in ids] == ["accepted"] * 4


@pytest.mark.parametrize(("extra", "path"), [
    ("digest: {size: 0}", "destinations[0].digest.size"),
    ("digest: {size: 2, every: soon}", "destinations[0].digest.every"),
    ("digest_subject: 'x'", "destinations[0].digest_subject"),
])
def test_bad_digest_settings_are_refused(app: App, extra: str, path: str) -> None:
    from leadgate.domain.errors import InvalidConfig

    with pytest.raises(InvalidConfig) as e:
        apply_setup(app, setup_with(
            "  - {key: digest, kind: email, host: 127.0.0.1, from: a@example.com, "
            f"to: b@example.com, {extra}}}"))
    assert path in str(e.value) or e.value.path == path, e.value


# --- sftp ----------------------------------------------------------------------------
@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[tuple[int, Path, str]]:
    import asyncssh

    root = tmp_path / "sftp"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    public = host_key.export_public_key().decode().strip()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return (username, password) == ("partner", "s3cret-pass")

    class Jail(asyncssh.SFTPServer):
        def __init__(self, chan: Any) -> None:
            super().__init__(chan, chroot=str(root).encode())

    async def start() -> None:
        holder["server"] = await asyncssh.listen(
            "127.0.0.1", 0, server_host_keys=[host_key], server_factory=Server,
            sftp_factory=Jail)
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(10), "the SFTP server did not start"
    port = holder["server"].sockets[0].getsockname()[1]
    try:
        yield port, root, public
    finally:
        async def stop() -> None:
            holder["server"].close()
            await holder["server"].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)
        loop.close()


def test_sftp_batch_file_has_the_mapped_rows(app: App, sftp_server: Any,
                                             clock: FakeClock) -> None:
    port, root, host_key = sftp_server
    apply_setup(app, setup_with(
        f"  - {{key: drop, kind: sftp, host: 127.0.0.1, port: {port}, username: partner, "
        f"password: s3cret-pass, host_key: '{host_key}', directory: /, "
        "filename: 'leads-{{ batch_id }}.csv', "
        "columns: {ref: lead_id, name: '{{ lead.first_name }} {{ lead.last_name }}', "
        "phone: phone, city: city}, batch: {size: 3, every: 1h}, timeout: 20s}"))
    names = ["Anil", "Bina", "Chitra", "Dev"]
    ids = [submit(app, {"first_name": names[i], "phone": f"+91 98123 4567{i}",
                        "city": "Pune"}) for i in range(4)]
    for lead_id in ids:
        queue(app, lead_id, "drop")
    jobs.drain(app.uow, app.clock)
    files = sorted(root.glob("*.csv"))
    assert len(files) == 1  # 3 made a batch; the 4th waits for more or for an hour
    rows = list(csv.DictReader(io.StringIO(files[0].read_text())))
    assert [r["ref"] for r in rows] == [str(i) for i in ids[:3]]
    assert rows[0] == {"ref": str(ids[0]), "name": "Anil ", "phone": "+919812345670",
                       "city": "Pune"}
    assert deliveries_of(app, ids[3])[0]["status"] == "waiting"
    clock.advance(hours=1, seconds=1)
    jobs.drain(app.uow, app.clock)
    assert len(list(root.glob("*.csv"))) == 2
    assert not list(root.glob("*.part"))
    statuses = [deliveries_of(app, i)[0]["status"] for i in ids]
    assert statuses == ["accepted"] * 4
    attempt = deliveries_of(app, ids[0])[0]["attempt_log"][0]
    assert attempt["request"]["rows"] == 3
    assert "s3cret-pass" not in json.dumps(attempt)


# --- CRMs ----------------------------------------------------------------------------
def hubspot_answer(r: Received) -> tuple[int, Any]:
    if r.path != "/crm/v3/objects/contacts" or r.method != "POST":
        return 404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"}
    if r.headers.get("Authorization") != "Bearer pat-na1-test":
        return 401, {"status": "error", "message": "Authentication credentials not found.",
                     "correlationId": "c1", "category": "INVALID_AUTHENTICATION"}
    props = r.json().get("properties")
    assert isinstance(props, dict) and set(r.json()) == {"properties"}
    if props.get("email") == "dup@example.com":
        return 409, {"status": "error",
                     "message": "Contact already exists. Existing ID: 2926551",
                     "correlationId": "c2", "category": "CONFLICT"}
    if not props.get("phone"):
        return 400, {"status": "error", "message": "Property values were not valid",
                     "correlationId": "c3", "category": "VALIDATION_ERROR",
                     "errors": [{"message": "phone is required", "code": "INVALID_PHONE"}]}
    return 201, {"id": "512", "properties": props, "createdAt": "2026-11-23T10:00:00Z",
                 "archived": False}


def test_hubspot_contact_created_duplicate_and_bad_token(app: App) -> None:
    with http_receiver(hubspot_answer) as rx:
        apply_setup(app, setup_with(
            f"  - {{key: hs, kind: hubspot, base_url: '{rx.url}', token: pat-na1-test}}\n"
            f"  - {{key: hs-bad, kind: hubspot, base_url: '{rx.url}', token: wrong-token}}"))
        ok = submit(app)
        dup = submit(app, {"first_name": "D", "phone": "+91 98123 00000",
                           "email": "dup@example.com"})
        queue(app, ok, "hs")
        queue(app, dup, "hs")
        queue(app, ok, "hs-bad")
        jobs.drain(app.uow, app.clock)
    got = {(d["destination"], d["lead_id"]): d for i in (ok, dup) for d in deliveries_of(app, i)}
    assert (got[("hs", ok)]["status"], got[("hs", ok)]["external_id"]) == ("accepted", "512")
    assert (got[("hs", dup)]["status"], got[("hs", dup)]["external_id"]) == ("duplicate",
                                                                            "2926551")
    bad = got[("hs-bad", ok)]
    assert bad["status"] == "dead" and "INVALID_AUTHENTICATION" in bad["reason"]
    assert len(bad["attempt_log"]) == 1  # a bad token is not retried
    sent = next(r for r in rx.requests if r.headers["Authorization"] == "Bearer pat-na1-test")
    assert sent.json() == {"properties": {"email": "asha@example.com", "firstname": "Asha",
                                          "lastname": "Rao", "phone": "+919812345678"}}


def salesforce_answer(r: Received) -> tuple[int, Any]:
    if r.path != "/services/data/v60.0/sobjects/Lead/":
        return 404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not "
                                                          "exist"}]
    if r.headers.get("Authorization") != "Bearer 00Dxx!token":
        return 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    body = r.json()
    if not body.get("LastName"):
        return 400, [{"message": "Required fields are missing: [LastName]",
                      "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"]}]
    if body.get("Email") == "dup@example.com":
        return 400, [{"message": "Use one of these records?", "errorCode": "DUPLICATES_DETECTED",
                      "fields": []}]
    return 201, {"id": "00Q5e00000AbCdE", "success": True, "errors": []}


def test_salesforce_lead_created_missing_field_and_duplicate(app: App) -> None:
    with http_receiver(salesforce_answer) as rx:
        apply_setup(app, setup_with(
            f"  - {{key: sf, kind: salesforce, instance_url: '{rx.url}', "
            "token: '00Dxx!token'}"))
        ok = submit(app)
        nolast = submit(app, {"first_name": "N", "phone": "+91 98123 00001"})
        dup = submit(app, {"first_name": "D", "last_name": "Up", "phone": "+91 98123 00002",
                           "email": "dup@example.com"})
        for i in (ok, nolast, dup):
            queue(app, i, "sf")
        jobs.drain(app.uow, app.clock)
    [a], [b], [c] = (deliveries_of(app, i) for i in (ok, nolast, dup))
    assert (a["status"], a["external_id"]) == ("accepted", "00Q5e00000AbCdE")
    assert b["status"] == "rejected" and "REQUIRED_FIELD_MISSING" in b["reason"]
    assert "LastName" in b["reason"]
    assert c["status"] == "duplicate"
    first = rx.requests[0].json()
    assert first == {"FirstName": "Asha", "LastName": "Rao", "Email": "asha@example.com",
                     "Phone": "+919812345678", "Company": "[not provided]"}


def test_sms_and_dialler_over_http(app: App) -> None:
    def answer(r: Received) -> tuple[int, Any]:
        if r.path.endswith("/Messages.json"):
            form = dict(x.split("=", 1) for x in r.body.decode().split("&"))
            if form["To"] != "%2B919812345678":
                return 400, {"code": 21211, "message": "The 'To' number is not valid.",
                             "status": 400}
            return 201, {"sid": "SM123", "status": "queued"}
        return 200, {"status": "queued", "call_id": "c-9"}

    with http_receiver(answer) as rx:
        apply_setup(app, setup_with(
            f"  - {{key: sms, kind: sms, base_url: '{rx.url}', account_sid: AC1, "
            "auth_token: tw-token-1, from: '+15005550006', body: 'Hi {{ lead.first_name }}'}\n"
            f"  - {{key: dialer, kind: dialler, url: '{rx.url}/calls', list: 7}}"))
        lead_id = submit(app)
        queue(app, lead_id, "sms")
        queue(app, lead_id, "dialer")
        jobs.drain(app.uow, app.clock)
    got = {d["destination"]: d for d in deliveries_of(app, lead_id)}
    assert (got["sms"]["status"], got["sms"]["external_id"]) == ("accepted", "SM123")
    assert got["dialer"]["status"] == "accepted"
    call = next(r for r in rx.requests if r.path == "/calls").json()
    assert call == {"phone": "+919812345678", "name": "Asha Rao", "lead_id": lead_id,
                    "campaign": "insurance", "list": 7}
    assert "tw-token-1" not in json.dumps(got["sms"])


# --- database ------------------------------------------------------------------------
def _mariadb() -> Any:
    eng = create_engine(MARIADB)
    try:
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:
        eng.dispose()
        pytest.skip(f"MariaDB not reachable at {MARIADB}: {type(exc).__name__}")
    return eng


def test_database_destination_inserts_into_mariadb_and_repeat_is_duplicate(app: App) -> None:
    eng = _mariadb()
    table = f"inbound_{uuid.uuid4().hex[:8]}"
    with eng.begin() as c:
        c.execute(text(f"CREATE TABLE {table} (id INT AUTO_INCREMENT PRIMARY KEY, "
                       "ref VARCHAR(64) UNIQUE, full_name VARCHAR(200), phone VARCHAR(32))"))
    try:
        apply_setup(app, setup_with(
            f"  - {{key: wh, kind: database, url: '{MARIADB}', table: {table}, "
            "columns: {ref: idempotency_key, full_name: '{{ lead.first_name }} "
            "{{ lead.last_name }}', phone: phone}}"))
        lead_id = submit(app)
        key = queue(app, lead_id, "wh")
        jobs.drain(app.uow, app.clock)
        with eng.connect() as c:
            rows = c.execute(text(f"SELECT ref, full_name, phone FROM {table}")).all()
        assert [tuple(r) for r in rows] == [(key, "Asha Rao", "+919812345678")]
        # a worker killed after the insert but before recording it: the delivery is still
        # "sending" when its job runs again; the unique ref makes it a duplicate, not a 2nd row
        with app.uow() as uow:
            d = uow.session.scalar(select(m.Delivery).where(m.Delivery.idempotency_key == key))
            assert d is not None
            d.status, d.finished_at = "sending", None
            jobs.enqueue(uow, deliveries.JOB, {"delivery": key}, app.clock())
            uow.commit()
        jobs.drain(app.uow, app.clock)
        with eng.connect() as c:
            assert c.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 1
        assert deliveries_of(app, lead_id)[0]["status"] == "duplicate"
    finally:
        with eng.begin() as c:
            c.execute(text(f"DROP TABLE {table}"))
        eng.dispose()
        from leadgate.delivery.database import dispose_all

        dispose_all()
