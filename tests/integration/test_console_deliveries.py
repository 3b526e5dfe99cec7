"""The console's delivery pages: destinations (preview, send a test lead), the
deliveries list with dead letters, Retry and Discard, one delivery's attempt log,
and the deliveries of a lead — on SQLite and PostgreSQL, against a real local
receiver."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.conftest import apply_setup, create_users
from tests.integration.test_console_pages import csrf_of, login
from tests.integration.test_delivery_http import LEAD, submit, with_delivery
from tests.receivers import Received, Receiver, http_receiver

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.services import deliveries, jobs
from leadgate.store import models as m

SECRET = "tok_live_4f9c2b7e1d"  # the bearer token: never on a page


class Script:
    """The receiver's answers, changed by the test as it goes."""

    def __init__(self) -> None:
        self.status = 200

    def __call__(self, r: Received) -> tuple[int, Any]:
        return (self.status, {"ok": self.status < 300})


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def rx(script: Script) -> Iterator[Receiver]:
    with http_receiver(script) as r:
        yield r


@pytest.fixture
def setup(app: App, rx: Receiver) -> App:
    """Two destinations; ``hook`` (on the Mumbai rule) answers as scripted and a 500
    from it is a permanent error, so a failure makes a dead letter at once."""
    apply_setup(app, with_delivery(
        f"  - {{key: hook, name: Partner hook, kind: http, url: '{rx.url}/leads', "
        f"auth: {{type: bearer, token: {SECRET}}}, concurrency: 2, timeout: 5s, "
        "response: {rules: [{status: 500, outcome: error, retry: false}]}}\n"
        f"  - {{key: spare, name: '<script>alert(\"dest\")</script>', kind: http, "
        f"url: '{rx.url}/spare'}}"))
    create_users(app)
    return app


@pytest.fixture
def client(setup: App) -> Iterator[TestClient]:
    with TestClient(create_app(app=setup, worker=False)) as c:
        yield c


def manager(client: TestClient, page: str = "/console/deliveries") -> str:
    login(client, "boss@example.com")
    return csrf_of(client.get(page))


def status_of(app: App, delivery_id: int) -> str:
    with app.reader() as uow:
        d = uow.session.get(m.Delivery, delivery_id)
        assert d is not None
        return d.status


def one_delivery(app: App, lead_id: int) -> int:
    with app.reader() as uow:
        [d] = deliveries.list_deliveries(uow, lead_id=lead_id)
    return int(d["id"])


def dead_letter(app: App, script: Script) -> tuple[int, int]:
    """A lead whose delivery to ``hook`` died (the receiver answered 500)."""
    script.status = 500
    n = lead_count(app)
    lead_id = submit(app, {**LEAD, "phone": f"+91 98123 5{n:04d}",
                           "email": f"dead{n}@example.com"})
    jobs.drain(app.uow, app.clock)
    delivery_id = one_delivery(app, lead_id)
    assert status_of(app, delivery_id) == "dead"
    script.status = 200
    return lead_id, delivery_id


def lead_count(app: App) -> int:
    with app.reader() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(m.Lead)) or 0)


def test_destinations_page_lists_each_destination_with_counts_and_actions(
        client: TestClient, setup: App) -> None:
    submit(setup)
    jobs.drain(setup.uow, setup.clock)
    manager(client, "/console/destinations")
    page = client.get("/console/destinations")
    assert page.status_code == 200
    row = page.text.split('id="dest-hook"')[1].split("</tr>")[0]
    assert "Partner hook" in row and ">http<" in row
    assert "2 at once" in row and "5 s timeout" in row
    assert "st-accepted" in row and "1</a>" in row  # one accepted delivery, linked
    assert "Send a test lead" in row and "Preview" in row
    assert 'href="/console/deliveries?destination=hook&amp;status=accepted"' in row
    assert "none yet" in page.text.split('id="dest-spare"')[1].split("</tr>")[0]
    assert 'href="/console/destinations" class="active"' in page.text
    assert 'href="/console/deliveries"' in page.text  # in the nav


def test_preview_shows_the_exact_request_with_secrets_as_stars(client: TestClient,
                                                               setup: App, rx: Receiver) -> None:
    lead_id = submit(setup)
    sent = len(rx.requests)
    token = manager(client, "/console/destinations")
    page = client.post("/console/destinations/hook/preview",
                       data={"csrf_token": token, "lead_id": str(lead_id)})
    assert page.status_code == 200
    box = page.text.split('id="preview"')[1].split("</section>")[0]
    assert f"{rx.url}/leads" in box and "POST" in box
    assert "<code>Authorization</code></td><td><code>***</code>" in box
    assert "Idempotency-Key" in box and "first_name" in box and "Asha" in box
    assert SECRET not in page.text
    # with HTMX only the result region is needed; nothing was sent
    hx = client.post("/console/destinations/hook/preview", data={"lead_id": str(lead_id)},
                     headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert hx.status_code == 200 and 'id="preview-result"' in hx.text
    assert SECRET not in hx.text
    assert len(rx.requests) == sent  # a dry run sends nothing


def test_preview_of_a_bad_or_missing_lead_says_so(client: TestClient) -> None:
    token = manager(client, "/console/destinations")
    bad = client.post("/console/destinations/hook/preview",
                      data={"csrf_token": token, "lead_id": "abc"})
    assert bad.status_code == 422 and "is not a lead number" in bad.text
    missing = client.post("/console/destinations/hook/preview",
                          data={"csrf_token": token, "lead_id": "999999"})
    assert missing.status_code == 404 and "no lead 999999" in missing.text
    nodest = client.post("/console/destinations/nope/preview",
                         data={"csrf_token": token, "lead_id": "1"})
    assert nodest.status_code == 404


def test_send_a_test_lead_queues_a_real_delivery_and_its_page_shows_the_attempts(
        client: TestClient, setup: App, rx: Receiver) -> None:
    lead_id = submit(setup)
    jobs.drain(setup.uow, setup.clock)
    before = len(rx.requests)
    token = manager(client, "/console/destinations")
    r = client.post("/console/destinations/spare/test",
                    data={"csrf_token": token, "lead_id": str(lead_id)}, follow_redirects=False)
    assert r.status_code == 303
    found = re.fullmatch(r"/console/deliveries/(\d+)", r.headers["location"])
    assert found
    delivery_id = int(found.group(1))
    assert status_of(setup, delivery_id) == "pending"
    jobs.drain(setup.uow, setup.clock)
    assert status_of(setup, delivery_id) == "accepted"
    assert [x.path for x in rx.requests[before:]] == ["/spare"]
    # the hook's delivery page: request, response, timing, worker, secrets redacted
    hook_id = one_delivery_to(setup, lead_id, "hook")
    page = client.get(f"/console/deliveries/{hook_id}")
    assert page.status_code == 200
    log = page.text.split('id="attempts"')[1]
    assert "#1</b>" in log and "st-accepted" in log and " ms" in log and "worker " in log
    assert "&#34;Authorization&#34;: &#34;***&#34;" in log and SECRET not in page.text
    assert "&#34;status&#34;: 200" in log  # the stored response
    assert f'href="/console/leads/{lead_id}"' in page.text


def one_delivery_to(app: App, lead_id: int, destination: str) -> int:
    with app.reader() as uow:
        [d] = deliveries.list_deliveries(uow, lead_id=lead_id, destination=destination)
    return int(d["id"])


def test_dead_letter_is_listed_and_retry_and_discard_change_its_status(
        client: TestClient, setup: App, script: Script) -> None:
    _, first = dead_letter(setup, script)
    _, second = dead_letter(setup, script)
    token = manager(client)
    dead = client.get("/console/deliveries?status=dead")
    assert dead.status_code == 200 and "<h1>Dead letters</h1>" in dead.text
    assert f'id="dl-{first}"' in dead.text and f'id="dl-{second}"' in dead.text
    row = dead.text.split(f'id="dl-{first}"')[1].split("</tr>")[0]
    assert "st-dead" in row and "HTTP 500" in row and ">Retry<" in row and ">Discard<" in row
    # Retry with HTMX: the row comes back, now pending, without buttons for retry
    hx = {"HX-Request": "true", "X-CSRF-Token": token}
    r = client.post(f"/console/deliveries/{first}/retry", headers=hx)
    assert r.status_code == 200 and r.text.lstrip().startswith(f'<tr id="dl-{first}"')
    assert "st-pending" in r.text and ">Retry<" not in r.text
    assert status_of(setup, first) == "pending"
    jobs.drain(setup.uow, setup.clock)
    assert status_of(setup, first) == "accepted"
    # Discard with a plain form: back to the delivery's page
    r = client.post(f"/console/deliveries/{second}/discard", data={"csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/console/deliveries/{second}"
    assert status_of(setup, second) == "discarded"
    assert "No dead letters." in client.get("/console/deliveries?status=dead").text
    # an accepted delivery cannot be retried or discarded: 409 in the banner
    again = client.post(f"/console/deliveries/{first}/discard", headers=hx)
    assert again.status_code == 409 and "cannot be discarded" in again.headers[
        "X-Console-Message"].replace("%20", " ")
    listing = client.get("/console/deliveries?destination=hook")
    assert f'id="dl-{first}"' in listing.text and "st-discarded" in listing.text


def test_deliveries_list_is_newest_first_and_paginated(client: TestClient, setup: App) -> None:
    lead_id = submit(setup)
    with setup.uow() as uow:
        for _ in range(52):
            deliveries.queue_direct(uow, lead_id, "spare", setup.clock())
        uow.commit()
    manager(client)
    first = client.get("/console/deliveries?destination=spare")
    ids = [int(x) for x in re.findall(r'<tr id="dl-(\d+)"', first.text)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    older = re.search(r'href="(/console/deliveries\?[^"]+)">older', first.text)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&"))
    rest = [int(x) for x in re.findall(r'<tr id="dl-(\d+)"', second.text)]
    assert len(rest) == 2 and max(rest) < min(ids)
    assert "← newest" in second.text


def test_lead_page_lists_the_leads_deliveries_for_managers_only(client: TestClient,
                                                                 setup: App) -> None:
    lead_id = submit(setup)
    jobs.drain(setup.uow, setup.clock)
    delivery_id = one_delivery(setup, lead_id)
    manager(client)
    page = client.get(f"/console/leads/{lead_id}")
    box = page.text.split('id="deliveries"')[1].split("</section>")[0]
    assert f'href="/console/deliveries/{delivery_id}"' in box and "st-accepted" in box
    assert "<code>hook</code>" in box
    client.post("/console/logout", data={"csrf_token": csrf_of(page)})
    login(client, "a1@example.com")  # the round robin gave the lead to a1
    own = client.get(f"/console/leads/{lead_id}")
    assert own.status_code == 200 and 'id="deliveries"' not in own.text


def test_agents_get_403_on_the_delivery_pages(client: TestClient, setup: App,
                                              script: Script) -> None:
    _, delivery_id = dead_letter(setup, script)
    login(client, "a1@example.com")
    for path in ("/console/destinations", "/console/deliveries",
                 f"/console/deliveries/{delivery_id}", "/console/deliveries?status=dead"):
        assert client.get(path).status_code == 403, path
    token = csrf_of(client.get("/console/agents"))
    for path in (f"/console/deliveries/{delivery_id}/retry",
                 f"/console/deliveries/{delivery_id}/discard",
                 "/console/destinations/hook/test", "/console/destinations/hook/preview"):
        assert client.post(path, data={"csrf_token": token, "lead_id": "1"}).status_code == 403
    assert status_of(setup, delivery_id) == "dead"
    nav = client.get("/console/agents").text
    assert "/console/deliveries" not in nav and "/console/destinations" not in nav


def test_delivery_posts_without_csrf_are_refused(client: TestClient, setup: App,
                                                 script: Script) -> None:
    lead_id, delivery_id = dead_letter(setup, script)
    manager(client)
    assert client.post(f"/console/deliveries/{delivery_id}/retry").status_code == 403
    assert client.post(f"/console/deliveries/{delivery_id}/discard",
                       headers={"X-CSRF-Token": "forged"}).status_code == 403
    r = client.post("/console/destinations/hook/test", data={"lead_id": str(lead_id)})
    assert r.status_code == 403
    assert status_of(setup, delivery_id) == "dead"
    with setup.reader() as uow:
        assert len(deliveries.list_deliveries(uow, lead_id=lead_id)) == 1


def test_hostile_destination_name_and_lead_values_are_escaped(client: TestClient,
                                                             setup: App) -> None:
    hostile = "<img src=x onerror=alert(this)>"
    lead_id = submit(setup, {**LEAD, "last_name": hostile})
    token = manager(client, "/console/destinations")
    page = client.get("/console/destinations")
    assert '<script>alert("dest")</script>' not in page.text
    assert "&lt;script&gt;alert(&#34;dest&#34;)&lt;/script&gt;" in page.text
    preview = client.post("/console/destinations/spare/preview",
                          data={"csrf_token": token, "lead_id": str(lead_id)})
    assert preview.status_code == 200
    text = preview.text.lower()  # the name is normalised to "<Img Src=x ..."
    assert "<img src=x" not in text and "&lt;img src=x" in text
    jobs.drain(setup.uow, setup.clock)
    page = client.get(f"/console/deliveries/{one_delivery_to(setup, lead_id, 'hook')}")
    assert "<img src=x" not in page.text.lower() and "&lt;img src=x" in page.text.lower()
