"""Input a fuzzer or an attacker sends: stored and shown safely, or refused with a
4xx problem — never a 500, never a lost lead. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.conftest import WEBSITE_KEY, create_users

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.services import importer
from leadgate.store import models as m

SRC = {"Authorization": f"Bearer {WEBSITE_KEY}", "Content-Type": "application/json"}
BIG = "9223372036854775808"  # 2**63
GOOD = '"phone": "+91 98123 45678", "city": "Mumbai", "product": "health"'


@pytest.fixture
def tokens(workspace: App) -> dict[str, str]:
    return create_users(workspace)


@pytest.fixture
def client(workspace: App, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(app=workspace, worker=False), raise_server_exceptions=False) as c:
        yield c


def boss(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['manager']}"}


def leads_in(app: App) -> int:
    with app.reader() as uow:
        return uow.session.scalar(select(func.count()).select_from(m.Lead)) or 0


def console_login(client: TestClient) -> None:
    import re

    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/console/login", data={"email": "boss@example.com",
                                            "password": "correct-horse-battery",
                                            "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303


@pytest.mark.parametrize(("body", "field"), [
    ('{"first_name": "Neha\\ud800", ' + GOOD + "}", "first_name"),
    ('{"first_name": "Neha", "company_size": NaN, ' + GOOD + "}", "company_size"),
    ('{"first_name": "Neha", "company_size": Infinity, ' + GOOD + "}", "company_size"),
    ('{"first_name": "Neha", "company_size": ' + "9" * 4000 + ", " + GOOD + "}", "company_size"),
    ('{"first_name": "Neha", "company_size": ' + "9" * 5000 + ", " + GOOD + "}", "company_size"),
    ('{"first_name": "Neha", "company_size": 1e999, ' + GOOD + "}", "company_size"),
])
def test_unstorable_lead_is_refused_422_naming_the_field(client: TestClient, workspace: App,
                                                         tokens: dict[str, str], body: str,
                                                         field: str) -> None:
    r = client.post("/v1/leads", content=body.encode(), headers=SRC)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_body" and r.json()["field"] == field
    assert leads_in(workspace) == 0
    # the list, the console list and the API keep working
    assert client.get("/v1/leads", headers=boss(tokens)).status_code == 200


def test_lead_with_nul_is_stored_without_it_and_shown_everywhere(
        client: TestClient, workspace: App, tokens: dict[str, str]) -> None:
    body = '{"first_name": "Ne\\u0000ha", "last_name": "Shah\\u0000", ' + GOOD + "}"
    r = client.post("/v1/leads", content=body.encode(), headers=SRC)
    assert r.status_code == 201, r.text
    lead_id = r.json()["id"]
    detail = client.get(f"/v1/leads/{lead_id}", headers=boss(tokens))
    assert detail.status_code == 200
    assert detail.json()["raw"]["first_name"] == "Neha"
    assert client.get("/v1/leads", headers=boss(tokens)).status_code == 200
    console_login(client)
    assert "Neha Shah" in client.get("/console/leads").text
    assert client.get(f"/console/leads/{lead_id}").status_code == 200


def test_unicode_beyond_the_bmp_is_stored_and_shown(client: TestClient,
                                                    tokens: dict[str, str]) -> None:
    body = json.dumps({"first_name": "Neha \U0001f600", "phone": "+91 98123 45678",
                       "city": "Mumbai"})  # sent as a valid surrogate pair escape
    r = client.post("/v1/leads", content=body.encode(), headers=SRC)
    assert r.status_code == 201, r.text
    got = client.get(f"/v1/leads/{r.json()['id']}", headers=boss(tokens))
    assert got.json()["raw"]["first_name"] == "Neha \U0001f600"


def test_deeply_nested_json_is_a_4xx_problem(client: TestClient, tokens: dict[str, str]) -> None:
    deep = b"[" * 1500 + b"]" * 1500
    r = client.post("/v1/leads", content=deep, headers=SRC)
    assert r.status_code == 422 and r.json()["code"] == "invalid_body"
    nested = b'{"rules": ' + b"[" * 1500 + b"]" * 1500 + b"}"
    r = client.put("/v1/flows/insurance", content=nested,
                   headers={**boss(tokens), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_body"


def test_every_json_body_of_the_api_goes_through_the_same_check(
        client: TestClient, tokens: dict[str, str]) -> None:
    h = {**boss(tokens), "Content-Type": "application/json"}
    r = client.post("/v1/leads/1/outcome", content=b'{"outcome": "won", "revenue": Infinity}',
                    headers=h)
    assert r.status_code == 422 and r.json()["field"] == "revenue"
    r = client.put("/v1/flows/insurance", headers=h,
                   content=b'{"rules": [{"name": "x\\ud800", "to": {"queue": "q"}}]}')
    assert r.status_code == 422 and r.json()["field"] == "rules[0].name"
    r = client.post("/v1/tokens", headers=h, content=b'{"name": "' + b"9" * 10 + b'"')
    assert r.status_code == 400 and r.json()["code"] == "malformed_json"


def test_lead_body_must_be_declared_json(client: TestClient, workspace: App) -> None:
    body = '{"first_name": "Neha", ' + GOOD + "}"
    for ctype in ("text/plain", "application/x-www-form-urlencoded"):
        r = client.post("/v1/leads", content=body.encode(),
                        headers={**SRC, "Content-Type": ctype})
        assert r.status_code == 415, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "unsupported_media_type"
    r = client.post("/v1/leads", content=body.encode(),
                    headers={"Authorization": SRC["Authorization"]})
    assert r.status_code == 415
    assert leads_in(workspace) == 0


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", f"/v1/leads/{BIG}", None),
    ("GET", f"/v1/leads?offset={BIG}", None),
    ("GET", f"/v1/suppressions?offset={BIG}", None),
    ("POST", f"/v1/leads/{BIG}/approve", None),
    ("POST", f"/v1/leads/{BIG}/refuse", {}),
    ("POST", f"/v1/leads/{BIG}/outcome", {"outcome": "won"}),
    ("POST", "/v1/flows/insurance/restore", {"version": int(BIG)}),
    ("POST", "/v1/flows/insurance/test", {"lead_id": int(BIG)}),
    ("DELETE", f"/v1/tokens/{BIG}", None),
    ("GET", "/v1/leads?since=0.0", None),
    ("GET", "/v1/leads?until=1e10", None),
])
def test_out_of_range_numbers_are_4xx_problems(client: TestClient, tokens: dict[str, str],
                                               method: str, path: str, body: object) -> None:
    kw = {"content": json.dumps(body).encode()} if body is not None else {}
    r = client.request(method, path, headers={**boss(tokens), "Content-Type": "application/json"},
                       **kw)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_rfc3339_since_with_or_without_offset_is_accepted(client: TestClient,
                                                          tokens: dict[str, str]) -> None:
    for since in ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00+05:30", "2026-01-01T00:00:00"):
        r = client.get("/v1/leads", params={"since": since}, headers=boss(tokens))
        assert r.status_code == 200, r.text


def test_console_lead_page_with_a_huge_id_is_a_4xx_page(client: TestClient) -> None:
    console_login(client)
    r = client.get(f"/console/leads/{BIG}")
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]


def test_form_post_with_nul_keeps_the_lead(client: TestClient, workspace: App) -> None:
    r = client.post("/f/web-form", data={"first_name": "Ne\x00ha", "phone": "+91 98123 45670",
                                         "city": "Mumbai"}, follow_redirects=False)
    assert r.status_code == 303 and "lead=" in r.headers["location"]
    with workspace.reader() as uow:
        lead = uow.session.scalars(select(m.Lead)).one()
        assert lead.raw["first_name"] == "Neha"


def test_import_strips_nul_and_escapes_formulas_in_the_rejects_csv(workspace: App,
                                                                    tmp_path: Path) -> None:
    data = (b"first_name,phone,city\n"
            b"Ne\x00ha,+91 98123 45671,Mumbai\n"
            b"=HYPERLINK(\"http://evil/\"),12,Pune\n"
            b"@SUM(A1),+91 1,-2+cmd|' /C calc'!A0\n")
    _, rows, _ = importer.read_rows("leads.csv", data)
    report = importer.import_rows(workspace.uow, "website", rows, workspace.clock)
    assert report.total == 3 and report.statuses["rejected"] == 2
    with workspace.reader() as uow:
        stored = uow.session.scalars(select(m.Lead).where(m.Lead.status != "rejected")).all()
        assert [x.raw["first_name"] for x in stored] == ["Neha"]
    path = tmp_path / "rejects.csv"
    report.write_rejects(path)
    cells = [c for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))) for c in row]
    assert "'=HYPERLINK(\"http://evil/\")" in cells
    assert "'@SUM(A1)" in cells and "'-2+cmd|' /C calc'!A0" in cells
    assert "+91 1" in cells  # a phone number stays as written
    assert not any(c.startswith(("=", "@")) for c in cells)
